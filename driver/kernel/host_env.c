// SPDX-License-Identifier: GPL-2.0
/*
 * The driver's environment other than the backdoor, answered from the
 * scenario (specs/trace.md) by the same engine as in userspace (script.c),
 * without touching the driver module.
 *
 * How: a kprobe at the entry of each kernel function the driver calls
 * (page allocation and free, si_meminfo, debugfs, the delayed-work calls,
 * printk, cond_resched).  Most of them are ftrace-based (fentry), so a call
 * from anywhere else in the kernel costs only the check below.  When the
 * caller is the driver, the pre-handler points `ip` at a replacement with the
 * same signature, which then runs in the driver's own context (it may sleep
 * when the driver may) and decides from the scenario:
 *
 *   alloc_pages, balloon_page_alloc  a scripted failure returns NULL without
 *                   calling the allocator; otherwise a real page (ALLOC with
 *                   its real PFN; conformance/kernel.py renames PFNs)
 *   __free_pages    a page the driver holds is freed; a double free or a
 *                   page it never got is recorded and NOT given to the
 *                   kernel (the guest survives the driver's bug)
 *   si_meminfo      the scenario's sysinfo fields
 *   debugfs_create_file  ERR_PTR(-debugfs_error), or the real file
 *   queue_delayed_work_on, cancel_delayed_work_sync  the work item is queued
 *                   only in this file (as the userspace shim does): the
 *                   driver's timer never runs; a `cycle` step runs it once
 *   round_jiffies_relative  returns its argument (as in userspace)
 *   _printk         the formatted text, then the real printk
 *   debugfs_remove, __cond_resched  recorded, then the real function
 *
 * "The caller is the driver": the return address lies in the driver's
 * text, or the call is a tail call out of one of the driver's entry
 * functions (its init, exit, work function), whose stack pointer at entry
 * the host noted: the callee then starts with exactly that stack pointer.
 * (The seed's work function ends with a tail call to queue_delayed_work_on.)
 */
#include <linux/balloon_compaction.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/kprobes.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/vmalloc.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>

#include "host.h"

/*
 * The low-memory guard: an allocation that would leave fewer free pages
 * fails without calling the allocator (recorded as EV_ENV_FAIL).  At the
 * kernel's own min watermark any page /init then needs goes to reclaim,
 * which finds nothing (no swap, tmpfs root), and to the OOM killer, which
 * finds nothing but /init and panics; with the guard a guest run out of
 * memory by the driver fails the driver's allocations, cycle after cycle,
 * and stays alive.
 */
static unsigned int keep_free_pages = 8192;	/* 32 MiB */
module_param(keep_free_pages, uint, 0444);
MODULE_PARM_DESC(keep_free_pages, "free pages the driver's allocations leave to the guest");

static struct module *drv;	/* the driver, from COMING to GOING */

/* ---- who is calling ---- */

/*
 * An entry frame: the task, its stack pointer at the entry function's entry
 * and the return address there.  A tail call out of the entry function
 * starts its callee with both; the entry function's caller, calling
 * something else afterwards from the same frame, has the same stack pointer
 * but another return address (ret 0: any, for init, whose frame is left
 * exactly when it returns).
 */
static struct {
	struct task_struct *task;
	unsigned long sp, ret;
} frames[NR_FRAMES];

void bs_env_enter(int frame, unsigned long sp, bool any_ret)
{
	WRITE_ONCE(frames[frame].sp, sp);
	WRITE_ONCE(frames[frame].ret, any_ret ? 0 : *(unsigned long *)sp);
	WRITE_ONCE(frames[frame].task, current);
}

void bs_env_leave(int frame)
{
	WRITE_ONCE(frames[frame].task, NULL);
}

/* At a function's entry: is its caller the driver? */
static bool from_driver(struct pt_regs *regs)
{
	struct module *mod = READ_ONCE(drv);
	unsigned long sp = kernel_stack_pointer(regs);
	unsigned long ret = *(unsigned long *)sp;
	int i;

	if (!mod)
		return false;
	if (within_module(ret, mod))
		return true;
	for (i = 0; i < NR_FRAMES; i++)
		if (READ_ONCE(frames[i].task) == current &&
		    READ_ONCE(frames[i].sp) == sp &&
		    (!READ_ONCE(frames[i].ret) || READ_ONCE(frames[i].ret) == ret))
			return true;
	return false;
}

/* ---- pages the driver got: PFN -> state, per scenario ---- */

enum { PAGE_HELD = 1, PAGE_FREED = 2 };
enum { FREE_OK = 0, FREE_DOUBLE = 1, FREE_FOREIGN = 2 };

struct pfn_slot {
	u32 gen;		/* valid in generation `gen` only */
	u32 lock_epoch;		/* host-locked iff equal to `epoch` */
	unsigned long pfn;
	u8 state;
};

static struct pfn_slot *pfns;
static unsigned long pfn_mask;
static u32 gen = 1;
static u32 epoch = 1;		/* a successful START starts a new one */
static u64 n_allocated, n_freed, n_bad_frees;

/* Open addressing; the table has room for twice the guest's pages, and
 * every page the driver gets is one of them. bs_lock held. */
static struct pfn_slot *slot_of(unsigned long pfn, bool create)
{
	unsigned long i = hash_long(pfn, ilog2(pfn_mask + 1)), n;

	for (n = 0; n <= pfn_mask; n++, i = (i + 1) & pfn_mask) {
		struct pfn_slot *s = &pfns[i];

		if (s->gen != gen) {
			if (!create)
				return NULL;
			*s = (struct pfn_slot){ .gen = gen, .pfn = pfn };
			return s;
		}
		if (s->pfn == pfn)
			return s;
	}
	return NULL;
}

void bs_env_host_reply(u32 cmd, u32 arg, u32 status)
{
	struct pfn_slot *s;

	if (status != BS_SUCCESS)
		return;
	if (cmd == BS_CMD_START) {
		epoch++;		/* the host forgets every lock */
	} else if (cmd == BS_CMD_LOCK || cmd == BS_CMD_UNLOCK) {
		s = slot_of(arg, false);
		if (s)
			s->lock_epoch = cmd == BS_CMD_LOCK ? epoch : 0;
	}
}

void bs_env_account(void)
{
	u64 held = 0, locked = 0;
	unsigned long flags, i;

	spin_lock_irqsave(&bs_lock, flags);
	for (i = 0; i <= pfn_mask; i++) {
		if (pfns[i].gen != gen || pfns[i].state != PAGE_HELD)
			continue;
		held++;
		locked += pfns[i].lock_epoch == epoch;
	}
	spin_unlock_irqrestore(&bs_lock, flags);
	bs_record(EV_ACCOUNT, n_allocated, n_freed, held, locked,
		  held - locked, n_bad_frees);
}

/* ---- the replacements ---- */

/*
 * A replacement must not end in a tail call to the real function: that call
 * would start with the driver's return address (or entry stack pointer) and
 * be taken for the driver's own, redirected again, forever.  A barrier after
 * the call keeps it a plain call.
 */
#define NOT_TAIL(call) ({ typeof(call) __r = (call); barrier(); __r; })

typedef struct page *(*real_alloc_fn)(gfp_t gfp, unsigned int order);

static struct page *env_alloc(gfp_t gfp, unsigned int order,
			      real_alloc_fn real)
{
	enum bs_alloc_outcome outcome;
	struct page *page = NULL;
	unsigned long flags, free;
	struct pfn_slot *s;
	u64 pfn;

	spin_lock_irqsave(&bs_lock, flags);
	outcome = bs_alloc_decide(&bs_env, gfp, &pfn);
	spin_unlock_irqrestore(&bs_lock, flags);
	if (outcome != BS_ALLOC_FAIL) {
		free = global_zone_page_state(NR_FREE_PAGES);
		if (free < keep_free_pages + (1UL << order))
			bs_record(EV_ENV_FAIL, free, 1, 0, 0, 0, 0);
		else if (!(page = real(gfp, order)))
			bs_record(EV_ENV_FAIL, free, 0, 0, 0, 0, 0);
	}
	if (!page) {
		bs_record(EV_ALLOC, gfp, 0, 0, 0, 0, 0);
		return NULL;
	}
	/* the real PFN; a scripted one (pfn rule) is matched by renaming */
	pfn = page_to_pfn(page);
	spin_lock_irqsave(&bs_lock, flags);
	s = slot_of(pfn, true);
	if (s) {
		s->state = PAGE_HELD;
		s->lock_epoch = 0;
	}
	n_allocated++;
	spin_unlock_irqrestore(&bs_lock, flags);
	bs_record(EV_ALLOC, gfp, 1, pfn, 0, 0, 0);
	return page;
}

static struct page *real_alloc_pages(gfp_t gfp, unsigned int order)
{
	return NOT_TAIL(alloc_pages(gfp, order));
}

static noinline struct page *bs_alloc_pages(gfp_t gfp, unsigned int order)
{
	return env_alloc(gfp, order, real_alloc_pages);
}

#ifdef CONFIG_MEMORY_BALLOON
/* Later drivers allocate through the balloon core (mm/balloon_compaction.c);
 * the flags are the ones it uses. */
static struct page *real_balloon_page_alloc(gfp_t gfp, unsigned int order)
{
	return NOT_TAIL(balloon_page_alloc());
}

static noinline struct page *bs_balloon_page_alloc(void)
{
	return env_alloc(balloon_mapping_gfp_mask() | __GFP_NOMEMALLOC |
			 __GFP_NORETRY | __GFP_NOWARN, 0,
			 real_balloon_page_alloc);
}
#endif

static noinline void bs_free_pages(struct page *page, unsigned int order)
{
	unsigned long pfn = page_to_pfn(page), flags;	/* arithmetic only */
	struct pfn_slot *s;
	int how;

	spin_lock_irqsave(&bs_lock, flags);
	s = pfn_to_page(pfn) == page ? slot_of(pfn, false) : NULL;
	how = !s ? FREE_FOREIGN : s->state == PAGE_FREED ? FREE_DOUBLE : FREE_OK;
	if (how == FREE_OK) {
		s->state = PAGE_FREED;
		n_freed++;
	} else {
		n_bad_frees++;
	}
	spin_unlock_irqrestore(&bs_lock, flags);
	bs_record(EV_FREE, how == FREE_FOREIGN ? 0 : pfn, how, 0, 0, 0, 0);
	if (how == FREE_OK)
		__free_pages(page, order);
	barrier();		/* NOT_TAIL */
}

static noinline void bs_si_meminfo(struct sysinfo *val)
{
	struct bs_sysinfo si;
	unsigned long flags;

	spin_lock_irqsave(&bs_lock, flags);
	si = bs_env.si;
	spin_unlock_irqrestore(&bs_lock, flags);
	val->uptime = si.uptime;
	val->totalram = si.totalram;
	val->freeram = si.freeram;
	val->sharedram = si.sharedram;
	val->bufferram = si.bufferram;
	val->totalswap = si.totalswap;
	val->freeswap = si.freeswap;
	val->procs = si.procs;
	val->totalhigh = si.totalhigh;
	val->freehigh = si.freehigh;
	val->mem_unit = si.mem_unit;
	bs_record(EV_SI_MEMINFO, 0, 0, 0, 0, 0, 0);
}

static noinline struct dentry *
bs_debugfs_create_file(const char *name, umode_t mode, struct dentry *parent,
		       void *data, const struct file_operations *fops)
{
	unsigned long flags;
	struct dentry *d;
	s64 err;

	spin_lock_irqsave(&bs_lock, flags);
	err = -(s64)bs_env.debugfs_error;
	spin_unlock_irqrestore(&bs_lock, flags);
	d = err ? ERR_PTR(err) : debugfs_create_file(name, mode, parent, data, fops);
	bs_record(EV_DEBUGFS_CREATE, mode, bs_text(name, strlen(name)),
		  IS_ERR(d) ? (u64)PTR_ERR(d) : 0, 0, 0, 0);
	return d;
}

static noinline void bs_debugfs_remove(struct dentry *dentry)
{
	bs_record(EV_DEBUGFS_REMOVE, 0, 0, 0, 0, 0, 0);
	debugfs_remove(dentry);
	barrier();		/* NOT_TAIL */
}

/* The driver's delayed work, queued here only (QUEUE_WORK's workqueue
 * numbers: specs/trace.md). */
static struct {
	struct delayed_work *dwork;
	struct workqueue_struct *wq;
	bool pending;
} vq;

static u64 wq_number(struct workqueue_struct *wq)
{
	return wq == system_freezable_wq ? 1 : wq == system_wq ? 2 : 0;
}

static noinline bool bs_queue_delayed_work_on(int cpu,
					      struct workqueue_struct *wq,
					      struct delayed_work *dwork,
					      unsigned long delay)
{
	unsigned long flags;
	int queued = -1;

	bs_record(EV_QUEUE_WORK, delay, wq_number(wq), 0, 0, 0, 0);
	spin_lock_irqsave(&bs_lock, flags);
	if (!vq.dwork || vq.dwork == dwork) {
		queued = !vq.pending;
		vq.dwork = dwork;
		vq.wq = wq;
		vq.pending = true;
	}
	spin_unlock_irqrestore(&bs_lock, flags);
	if (queued < 0)		/* a second work item: the kernel's */
		return NOT_TAIL(queue_delayed_work_on(cpu, wq, dwork, delay));
	return queued;
}

static noinline bool bs_cancel_delayed_work_sync(struct delayed_work *dwork)
{
	unsigned long flags;
	bool was = false;

	spin_lock_irqsave(&bs_lock, flags);
	if (vq.dwork == dwork && vq.pending) {
		was = true;
		vq.pending = false;
	}
	spin_unlock_irqrestore(&bs_lock, flags);
	if (cancel_delayed_work_sync(dwork))	/* anything really queued */
		was = true;
	bs_record(EV_CANCEL_WORK, was, 0, 0, 0, 0, 0);
	return was;
}

static noinline unsigned long bs_round_jiffies_relative(unsigned long j)
{
	return j;
}

static noinline int bs_printk(const char *fmt, ...)
{
	char buf[512];
	va_list args;
	int n;

	va_start(args, fmt);
	n = vscnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	bs_record(EV_PRINTK, bs_text(buf, n), 0, 0, 0, 0, 0);
	va_start(args, fmt);
	n = NOT_TAIL(vprintk(fmt, args));
	va_end(args);
	return n;
}

/* ---- the interceptions ---- */

struct redirect {
	const char *symbol;
	void *to;		/* the replacement, or NULL: record only */
	u64 kind;		/* recorded when `to` is NULL */
	struct kprobe kp;
	bool on;
};

static struct redirect redirects[] = {
	{ "alloc_pages", bs_alloc_pages },
#ifdef CONFIG_MEMORY_BALLOON
	{ "balloon_page_alloc", bs_balloon_page_alloc },
#endif
	{ "__free_pages", bs_free_pages },
	{ "si_meminfo", bs_si_meminfo },
	{ "debugfs_create_file", bs_debugfs_create_file },
	{ "debugfs_remove", bs_debugfs_remove },
	{ "queue_delayed_work_on", bs_queue_delayed_work_on },
	{ "cancel_delayed_work_sync", bs_cancel_delayed_work_sync },
	{ "round_jiffies_relative", bs_round_jiffies_relative },
	{ "_printk", bs_printk },
	{ "__cond_resched", NULL, EV_COND_RESCHED },
};

static int redirect_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct redirect *r = container_of(p, struct redirect, kp);

	if (!from_driver(regs))
		return 0;
	if (!r->to) {
		bs_record(r->kind, 0, 0, 0, 0, 0, 0);
		return 0;
	}
	/* at the entry, before any push: the replacement gets the same
	 * arguments and returns straight to the driver */
	instruction_pointer_set(regs, (unsigned long)r->to);
	return 1;
}

/* Never called; a kprobe with a post_handler is not jump-optimized, and an
 * optimized probe would ignore the ip the pre_handler set. */
static void no_post(struct kprobe *p, struct pt_regs *regs, unsigned long fl)
{
}

/* ---- work cycles ---- */

static struct kprobe work_kp;
static bool work_kp_on;
static int permits;		/* work runs allowed (cycle steps) */
static struct task_struct *wrapping;	/* the task in run_work() */

/* Where a run the scenario did not ask for goes: returns at once. */
static noinline void swallow_work(struct work_struct *w)
{
	barrier();
}

/*
 * Where a permitted run goes first: the driver's work function is called
 * from here, so its tail calls return here, to a call site no other code
 * has, and its entry frame ends exactly when it returns.  (Called from the
 * workqueue directly, a tail call out of it looks like any later call the
 * worker makes from the same frame, e.g. for another work item.)
 */
static noinline void run_work(struct work_struct *w)
{
	WRITE_ONCE(wrapping, current);
	w->func(w);		/* work_pre again: this time it runs */
	barrier();
	bs_env_leave(FRAME_WORK);
}

static int work_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct work_struct *w = (struct work_struct *)regs->di;
	unsigned long flags;
	bool run;

	if (READ_ONCE(wrapping) == current) {
		WRITE_ONCE(wrapping, NULL);
		bs_env_enter(FRAME_WORK, kernel_stack_pointer(regs), false);
		bs_record(EV_WORK_RUN, 0, 0, 0, 0, 0, 0);
		return 0;
	}
	spin_lock_irqsave(&bs_lock, flags);
	run = permits > 0;
	if (run)
		permits--;
	else if (vq.dwork && w == &vq.dwork->work)
		vq.pending = true;	/* queued by some other path: the next
					 * cycle runs it */
	spin_unlock_irqrestore(&bs_lock, flags);
	/* at the entry, before any push: same arguments, same stack */
	instruction_pointer_set(regs, (unsigned long)(run ? run_work : swallow_work));
	return 1;
}

/* Gate the work function `fn` (process context: registering sleeps). */
static bool probe_work(work_func_t fn)
{
	if (work_kp_on && work_kp.addr == (kprobe_opcode_t *)fn)
		return true;
	if (work_kp_on)
		unregister_kprobe(&work_kp);
	memset(&work_kp, 0, sizeof(work_kp));
	work_kp.addr = (kprobe_opcode_t *)fn;
	work_kp.pre_handler = work_pre;
	work_kp.post_handler = no_post;
	work_kp_on = register_kprobe(&work_kp) == 0;
	return work_kp_on;
}

void bs_env_run_cycle(void)
{
	struct workqueue_struct *wq;
	struct delayed_work *w;
	unsigned long flags;

	spin_lock_irqsave(&bs_lock, flags);
	w = vq.pending ? vq.dwork : NULL;
	wq = vq.wq;
	vq.pending = false;
	spin_unlock_irqrestore(&bs_lock, flags);
	if (!w)
		return;			/* nothing queued: the STEP only */
	if (!probe_work(w->work.func)) {
		bs_record(EV_NO_PROBE, bs_text("work function", 13), 0, 0, 0, 0, 0);
		bs_record(EV_WORK_RUN, 0, 0, 0, 0, 0, 0);
	}
	spin_lock_irqsave(&bs_lock, flags);
	permits = work_kp_on;
	spin_unlock_irqrestore(&bs_lock, flags);
	/* from here, not from the driver: not intercepted */
	queue_delayed_work(wq, w, 0);
	flush_delayed_work(w);
	spin_lock_irqsave(&bs_lock, flags);
	permits = 0;
	spin_unlock_irqrestore(&bs_lock, flags);
}

/* ---- the driver's life ---- */

static struct kprobe exit_kp;
static bool exit_kp_on;

static int exit_pre(struct kprobe *p, struct pt_regs *regs)
{
	bs_env_enter(FRAME_EXIT, kernel_stack_pointer(regs), false);
	return 0;
}

void bs_env_attach(struct module *mod)
{
	unsigned long flags;

	spin_lock_irqsave(&bs_lock, flags);
	memset(&vq, 0, sizeof(vq));
	spin_unlock_irqrestore(&bs_lock, flags);
	memset(&exit_kp, 0, sizeof(exit_kp));
	exit_kp.addr = (kprobe_opcode_t *)mod->exit;
	exit_kp.pre_handler = exit_pre;
	exit_kp.post_handler = no_post;
	exit_kp_on = mod->exit && register_kprobe(&exit_kp) == 0;
	WRITE_ONCE(drv, mod);
}

void bs_env_detach(void)
{
	unsigned long flags;
	int i;

	WRITE_ONCE(drv, NULL);
	if (work_kp_on)
		unregister_kprobe(&work_kp);
	if (exit_kp_on)
		unregister_kprobe(&exit_kp);
	work_kp_on = exit_kp_on = false;
	for (i = 0; i < NR_FRAMES; i++)
		bs_env_leave(i);
	WRITE_ONCE(wrapping, NULL);
	spin_lock_irqsave(&bs_lock, flags);
	memset(&vq, 0, sizeof(vq));
	spin_unlock_irqrestore(&bs_lock, flags);
}

void bs_env_scenario_start(void)
{
	unsigned long flags;

	spin_lock_irqsave(&bs_lock, flags);
	gen++;
	epoch = 1;
	n_allocated = n_freed = n_bad_frees = 0;
	spin_unlock_irqrestore(&bs_lock, flags);
}

int bs_env_init(void)
{
	unsigned long cap = roundup_pow_of_two(2 * totalram_pages() + 1024);
	size_t i;

	pfns = vzalloc(array_size(cap, sizeof(*pfns)));
	if (!pfns)
		return -ENOMEM;
	pfn_mask = cap - 1;
	for (i = 0; i < ARRAY_SIZE(redirects); i++) {
		struct redirect *r = &redirects[i];
		int err;

		r->kp.symbol_name = r->symbol;
		r->kp.pre_handler = redirect_pre;
		r->kp.post_handler = no_post;
		err = register_kprobe(&r->kp);
		r->on = err == 0;
		if (err) {
			pr_warn("balloonspec_host: cannot intercept %s (%d)\n",
				r->symbol, err);
			bs_record(EV_NO_PROBE, bs_text(r->symbol, strlen(r->symbol)),
				  (u64)(s64)err, 0, 0, 0, 0);
		}
	}
	return 0;
}

void bs_env_exit(void)
{
	size_t i;

	bs_env_detach();
	for (i = 0; i < ARRAY_SIZE(redirects); i++)
		if (redirects[i].on)
			unregister_kprobe(&redirects[i].kp);
	vfree(pfns);
}
