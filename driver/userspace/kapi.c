/*
 * The kernel services the driver calls, other than the page allocator
 * (pool.c) and the backdoor (backdoor.c). Each records what it observes.
 */
/* The C library first: the kernel headers define macros (abs, min, ...) that
 * must not rewrite its declarations. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/workqueue.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/delay.h>
#include <linux/ratelimit.h>
#include <asm/hypervisor.h>
#include <asm/vmware.h>

#include "harness.h"
#include "trace.h"

/* Published by the driver's module_init()/module_exit() (linux/init.h). A
 * module may have neither: without init it loads with 0, without exit it
 * cannot be unloaded (the kernel refuses to remove it). */
extern int (*const bs_module_init)(void) __attribute__((weak));
extern void (*const bs_module_exit)(void) __attribute__((weak));

const struct hypervisor_x86 x86_hyper_vmware = { .name = "VMware" };
const struct hypervisor_x86 *x86_hyper;
enum x86_hypervisor_type x86_hyper_type;

volatile unsigned long jiffies;

/* QUEUE_WORK's workqueue numbers (specs/trace.md). */
enum { WQ_ID_OTHER = 0, WQ_ID_SYSTEM_FREEZABLE = 1, WQ_ID_SYSTEM = 2,
       WQ_ID_OWN_FREEZABLE = 3, WQ_ID_OWN = 4 };
struct workqueue_struct {
	char name[32];
	unsigned int flags;
	bool own;		/* created by the driver */
	bool destroyed;
};
static struct workqueue_struct freezable_wq = { .name = "events_freezable", .flags = WQ_FREEZABLE };
static struct workqueue_struct default_wq = { .name = "events" };
static struct workqueue_struct long_wq = { .name = "events_long" };
static struct workqueue_struct unbound_wq = { .name = "events_unbound", .flags = WQ_UNBOUND };
static struct workqueue_struct power_wq = { .name = "events_power_efficient" };
static struct workqueue_struct freezable_power_wq = { .name = "events_freezable_power_efficient",
						      .flags = WQ_FREEZABLE };
struct workqueue_struct *system_freezable_wq = &freezable_wq;
struct workqueue_struct *system_wq = &default_wq;
struct workqueue_struct *system_long_wq = &long_wq;
struct workqueue_struct *system_unbound_wq = &unbound_wq;
struct workqueue_struct *system_power_efficient_wq = &power_wq;
struct workqueue_struct *system_freezable_power_efficient_wq = &freezable_power_wq;

/* The one delayed work item that may be pending (the family has one), the
 * workqueue it waits on and its delay. */
static struct delayed_work *queued;
static struct workqueue_struct *queued_wq;
static unsigned long queued_delay;

/* The debugfs file, while it exists. */
static struct dentry dbg_dentry;
static const struct file_operations *dbg_fops;

static bool loaded;

void bs_kapi_init(void)
{
	x86_hyper = bs_env.hypervisor_vmware ? &x86_hyper_vmware : NULL;
	x86_hyper_type = bs_env.hypervisor_vmware ? X86_HYPER_VMWARE : X86_HYPER_NATIVE;
}

int vmware_platform(void)
{
	return bs_env.hypervisor_vmware;
}

/* vsnprintf into a fresh heap buffer; the caller frees it. */
static char *format(const char *fmt, va_list ap, size_t *len)
{
	va_list again;
	char *s;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0)
		n = 0;	/* an unprintable format prints nothing */
	s = malloc(n + 1);
	if (!s)
		bs_fatal("out of memory formatting text");
	vsnprintf(s, n + 1, fmt, again);
	va_end(again);
	*len = n;
	return s;
}

int vprintk(const char *fmt, va_list ap)
{
	size_t len;
	char *s = format(fmt, ap, &len);

	bs_emit(BS_EV_PRINTK, bs_text(s, len), 0, 0, 0, 0, 0);
	free(s);
	return len;
}

int printk(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintk(fmt, ap);
	va_end(ap);
	return n;
}

/* WARN: the message first (pr_warn), then where, as __warn() prints them. */
void bs_warn(const char *file, int line, const char *func)
{
	printk(KERN_WARNING "WARNING: at %s:%d %s()\n", file, line, func);
}

void bs_warn_fmt(const char *file, int line, const char *func, const char *fmt, ...)
{
	size_t n = strlen(fmt);
	char *prefixed = malloc(n + sizeof(KERN_WARNING));
	va_list ap;

	if (!prefixed)
		bs_fatal("out of memory formatting a warning");
	memcpy(prefixed, KERN_WARNING, sizeof(KERN_WARNING) - 1);
	memcpy(prefixed + sizeof(KERN_WARNING) - 1, fmt, n + 1);
	va_start(ap, fmt);
	vprintk(prefixed, ap);
	va_end(ap);
	free(prefixed);
	bs_warn(file, line, func);
}

/* BUG: the oops kills the task running the driver. */
void bs_bug(const char *file, int line)
{
	printk(KERN_CRIT "kernel BUG at %s:%d!\n", file, line);
	bs_trace_flush();
	fprintf(stderr, "balloonspec-bug: kernel BUG at %s:%d!\n", file, line);
	abort();
}

void bs_unsupported(const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "the driver calls %s, which is outside the trace contract", what);
	bs_fatal(msg);
}

int ___ratelimit(struct ratelimit_state *rs, const char *func)
{
	(void)func;
	if (!rs->interval)
		return 1;
	if (!rs->begin || time_after(jiffies, rs->begin + rs->interval)) {
		rs->begin = jiffies ? jiffies : 1;
		rs->printed = 0;
	}
	if (rs->burst && rs->burst > rs->printed) {
		rs->printed++;
		return 1;
	}
	rs->missed++;
	return 0;
}

int scnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || size == 0)
		return 0;
	return (size_t)n < size ? n : (int)size - 1;
}

ssize_t strscpy(char *dest, const char *src, size_t count)
{
	size_t n = strnlen(src, count);

	if (count == 0)
		return -E2BIG;
	if (n == count) {
		memcpy(dest, src, count - 1);
		dest[count - 1] = 0;
		return -E2BIG;
	}
	memcpy(dest, src, n + 1);
	return n;
}

size_t strlcpy(char *dest, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size) {
		size_t len = n >= size ? size - 1 : n;

		memcpy(dest, src, len);
		dest[len] = 0;
	}
	return n;
}

void msleep(unsigned int msecs)
{
	jiffies += msecs_to_jiffies(msecs);
}

/* The C library's heap with the kernel's contract for sizes 0 and NULL. */
void *kmalloc(size_t size, gfp_t flags)
{
	void *p;

	if (size == 0)
		return ZERO_SIZE_PTR;
	p = flags & __GFP_ZERO ? calloc(1, size) : malloc(size);
	if (!p)
		bs_fatal("out of memory in kmalloc");
	return p;
}

void *kzalloc(size_t size, gfp_t flags)
{
	return kmalloc(size, flags | __GFP_ZERO);
}

void kfree(const void *objp)
{
	if (!ZERO_OR_NULL_PTR(objp))
		free((void *)objp);
}

size_t ksize(const void *objp)
{
	return ZERO_OR_NULL_PTR(objp) ? 0 : malloc_usable_size((void *)objp);
}

void *krealloc(const void *p, size_t new_size, gfp_t flags)
{
	void *q;

	if (new_size == 0) {
		kfree(p);
		return ZERO_SIZE_PTR;
	}
	if (ZERO_OR_NULL_PTR(p))
		return kmalloc(new_size, flags);
	q = realloc((void *)p, new_size);
	if (!q)
		bs_fatal("out of memory in krealloc");
	return q;
}

void si_meminfo(struct sysinfo *val)
{
	const struct bs_sysinfo *si = &bs_env.si;

	val->uptime = si->uptime;
	val->totalram = si->totalram;
	val->freeram = si->freeram;
	val->sharedram = si->sharedram;
	val->bufferram = si->bufferram;
	val->totalswap = si->totalswap;
	val->freeswap = si->freeswap;
	val->procs = si->procs;
	val->totalhigh = si->totalhigh;
	val->freehigh = si->freehigh;
	val->mem_unit = si->mem_unit;
	bs_emit(BS_EV_SI_MEMINFO, 0, 0, 0, 0, 0, 0);
}

int cond_resched(void)
{
	bs_emit(BS_EV_COND_RESCHED, 0, 0, 0, 0, 0, 0);
	return 0;
}

static uint64_t wq_id(const struct workqueue_struct *wq)
{
	if (wq == system_freezable_wq)
		return WQ_ID_SYSTEM_FREEZABLE;
	if (wq == system_wq)
		return WQ_ID_SYSTEM;
	if (wq && wq->own)
		return wq->flags & WQ_FREEZABLE ? WQ_ID_OWN_FREEZABLE : WQ_ID_OWN;
	return WQ_ID_OTHER;
}

/* Queueing on a destroyed (freed) workqueue is a use after free in the kernel. */
static void check_live(const struct workqueue_struct *wq, const char *what)
{
	if (!wq || wq->destroyed) {
		printk(KERN_CRIT "BUG: %s on a %s workqueue\n", what, wq ? "destroyed" : "NULL");
		bs_bug(__FILE__, __LINE__);
	}
}

bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
			unsigned long delay)
{
	bs_emit(BS_EV_QUEUE_WORK, delay, wq_id(wq), 0, 0, 0, 0);
	check_live(wq, "queue_delayed_work");
	if (dwork->pending)
		return false;
	if (queued)
		bs_fatal("a second delayed work item was queued");
	dwork->pending = true;
	queued = dwork;
	queued_wq = wq;
	queued_delay = delay;
	return true;
}

bool mod_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
		      unsigned long delay)
{
	bool was_pending = dwork->pending;

	if (was_pending && queued == dwork) {
		bs_emit(BS_EV_QUEUE_WORK, delay, wq_id(wq), 0, 0, 0, 0);
		check_live(wq, "mod_delayed_work");
		queued_wq = wq;
		queued_delay = delay;
		return true;
	}
	queue_delayed_work(wq, dwork, delay);
	return false;
}

bool cancel_delayed_work_sync(struct delayed_work *dwork)
{
	bool was_pending = dwork->pending;

	bs_emit(BS_EV_CANCEL_WORK, was_pending, 0, 0, 0, 0, 0);
	dwork->pending = false;
	if (queued == dwork)
		queued = NULL;
	return was_pending;
}

struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags,
					 int max_active, ...)
{
	struct workqueue_struct *wq = calloc(1, sizeof(*wq));
	va_list ap;

	(void)max_active;
	if (!wq)
		bs_fatal("out of memory creating a workqueue");
	va_start(ap, max_active);
	vsnprintf(wq->name, sizeof(wq->name), fmt, ap);
	va_end(ap);
	wq->flags = flags;
	wq->own = true;
	return wq;
}

/* Like the kernel's: destroying a workqueue with a delayed item still waiting
 * on it leaves a timer that queues onto freed memory, which this reports as a
 * BUG. The struct is kept (marked) so that a later use is caught too. */
void destroy_workqueue(struct workqueue_struct *wq)
{
	check_live(wq, "destroy_workqueue");
	if (queued && queued_wq == wq) {
		printk(KERN_CRIT "BUG: destroy_workqueue(%s) with a delayed work item pending\n", wq->name);
		bs_bug(__FILE__, __LINE__);
	}
	wq->destroyed = true;
}

/* Delayed items wait for their timer, which flushing does not fire. */
void flush_workqueue(struct workqueue_struct *wq)
{
	check_live(wq, "flush_workqueue");
}

void bs_run_queued_work(void)
{
	struct delayed_work *dwork = queued;

	if (!dwork)
		return;
	queued = NULL;
	dwork->pending = false;
	jiffies += queued_delay;	/* the timer fired: that much time passed */
	bs_emit(BS_EV_WORK_RUN, 0, 0, 0, 0, 0, 0);
	dwork->work.func(&dwork->work);
}

/* A module is loaded only while its init has succeeded and exit has not run. */
void bs_module_load(void)
{
	int rc;

	if (loaded)
		return;
	rc = &bs_module_init && bs_module_init ? bs_module_init() : 0;
	bs_emit(BS_EV_INIT, (uint64_t)(int64_t)rc, 0, 0, 0, 0, 0);
	loaded = rc == 0;
}

void bs_module_unload(void)
{
	if (!loaded || !&bs_module_exit || !bs_module_exit)
		return;
	bs_module_exit();
	bs_emit(BS_EV_EXIT, 0, 0, 0, 0, 0, 0);
	loaded = false;
}

struct dentry *debugfs_create_file(const char *name, umode_t mode,
				   struct dentry *parent, void *data,
				   const struct file_operations *fops)
{
	int64_t err = -(int64_t)bs_env.debugfs_error;

	bs_emit(BS_EV_DEBUGFS_CREATE, mode, bs_text(name, strlen(name)),
		(uint64_t)err, 0, 0, 0);
	if (err)
		return ERR_PTR(err);
	dbg_dentry.d_inode.i_private = data;
	dbg_fops = fops;
	return &dbg_dentry;
}

void debugfs_remove(struct dentry *dentry)
{
	bs_emit(BS_EV_DEBUGFS_REMOVE, 0, 0, 0, 0, 0, 0);
	if (dentry == &dbg_dentry)
		dbg_fops = NULL;
}

/* open, read to the end and release, through the driver's own fops. */
void bs_read_debugfs(void)
{
	struct inode *inode = &dbg_dentry.d_inode;
	struct file file = { 0 };
	char *text = NULL;
	size_t len = 0;
	ssize_t n;

	if (!dbg_fops)
		return;
	if (dbg_fops->open(inode, &file) == 0) {
		do {
			text = realloc(text, len + 4096);
			if (!text)
				bs_fatal("out of memory reading debugfs");
			n = dbg_fops->read(&file, text + len, 4096, &file.f_pos);
			len += n > 0 ? n : 0;
		} while (n > 0);
		dbg_fops->release(inode, &file);
	}
	bs_emit(BS_EV_DEBUGFS_READ, bs_text(text ? text : "", len), 0, 0, 0, 0, 0);
	free(text);
}

static void seq_append(struct seq_file *m, const char *s, size_t len)
{
	if (m->count + len > m->size) {
		m->size = 2 * (m->count + len);
		m->buf = realloc(m->buf, m->size);
		if (!m->buf)
			bs_fatal("out of memory in seq_printf");
	}
	memcpy(m->buf + m->count, s, len);
	m->count += len;
}

void seq_printf(struct seq_file *m, const char *fmt, ...)
{
	va_list ap;
	size_t len;
	char *s;

	va_start(ap, fmt);
	s = format(fmt, ap, &len);
	va_end(ap);
	seq_append(m, s, len);
	free(s);
}

void seq_puts(struct seq_file *m, const char *s)
{
	seq_append(m, s, strlen(s));
}

void seq_putc(struct seq_file *m, char c)
{
	seq_append(m, &c, 1);
}

int single_open(struct file *file, int (*show)(struct seq_file *, void *),
		void *data)
{
	struct seq_file *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->show = show;
	m->private = data;
	file->private_data = m;
	return 0;
}

int single_release(struct inode *inode, struct file *file)
{
	struct seq_file *m = file->private_data;

	free(m->buf);
	free(m);
	file->private_data = NULL;
	return 0;
}

ssize_t seq_read(struct file *file, char __user *buf, size_t size, loff_t *ppos)
{
	struct seq_file *m = file->private_data;
	size_t n;

	if (!m->filled) {
		int err = m->show(m, NULL);

		m->filled = true;
		if (err)
			return err;
	}
	if (*ppos < 0 || (size_t)*ppos >= m->count)
		return 0;
	n = m->count - *ppos < size ? m->count - *ppos : size;
	memcpy(buf, m->buf + *ppos, n);
	*ppos += n;
	return n;
}

loff_t seq_lseek(struct file *file, loff_t offset, int whence)
{
	if (whence == SEEK_CUR)
		offset += file->f_pos;
	else if (whence != SEEK_SET)
		return -EINVAL;
	if (offset < 0)
		return -EINVAL;
	file->f_pos = offset;
	return offset;
}
