// SPDX-License-Identifier: GPL-2.0
/*
 * balloonspec_host: the VMware host side of the balloon backdoor, inside the
 * guest kernel, for testing a balloon driver module whose binary stays
 * unmodified.  host_env.c answers the rest of the driver's environment.
 *
 * QEMU has no device behind port 0x5670, so a real `inl` there returns
 * 0xffffffff.  This module is loaded before the driver; when the driver
 * module comes in (module notifier, MODULE_STATE_COMING: code in place, init
 * not yet run) it finds every `in (%dx),%eax` (opcode 0xED) in the driver's
 * text and puts a kprobe on it.  The kprobe pre-handler IS the host: it reads
 * the call from the registers, answers in eax/ebx, steps over the 1-byte
 * instruction and returns 1 so the original instruction never runs.
 *
 * Everything observed goes as 7-u64 records (specs/trace.md) into a shared
 * memory region (QEMU ivshmem-plain, BAR 2) that the Python runner reads
 * after QEMU exits: it survives an oops, a panic or a hang of the guest.
 * Text fields are offset << 32 | length in the text area.
 *
 * Control (debugfs, written by /init), one command per write:
 *   R ID               new scenario: parse the text written to `script`
 *                      (specs/trace.md) as the driver's environment
 *   S IDX              step IDX of the script: recorded; its effect on the
 *                      environment applied (set_target, host_reset,
 *                      set_totalram); a cycle runs the queued work once
 *   E                  close the text written to `text` as one DEBUGFS_READ
 *   X                  scenario end: ACCOUNT, then the end record
 *   B N                N backdoor calls from the host's own probed site
 * `note` records any text (bsload results) as a NOTE record.
 * EV_COMING is recorded when the driver module reaches MODULE_STATE_COMING,
 * EV_INIT (kretprobe) when its init function returns, with the return code.
 */
#include <linux/module.h>
#include <linux/kprobes.h>
#include <linux/pci.h>
#include <linux/io.h>
#include <linux/debugfs.h>
#include <linux/uaccess.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/mm.h>

#include "host.h"

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("balloonspec: in-guest VMware balloon backdoor host");

static char *target_mod = "vmw_balloon";
module_param(target_mod, charp, 0444);
MODULE_PARM_DESC(target_mod, "name of the driver module to serve");

#define BS_MAGIC	0x3170736e6f6f6c62ULL	/* "balloonsp1" prefix, LE */

/* Shared memory layout: this header, then events, then text (offsets in it). */
struct bs_shm {
	u64 magic;
	u64 nevents;		/* records written so far */
	u64 ev_off, ev_cap;	/* byte offset of the record array, capacity */
	u64 text_off, text_cap;	/* byte offset of the text area, capacity */
	u64 text_used;
	u64 dropped;		/* records lost because the area was full */
};

static struct bs_shm *shm;
static u64 (*ev_area)[7];
static char *text_area;
DEFINE_SPINLOCK(bs_lock);	/* guards the engine and the environment */
static DEFINE_SPINLOCK(lock);	/* guards the log */

void bs_record(u64 kind, u64 a, u64 b, u64 c, u64 d, u64 e, u64 f)
{
	unsigned long flags;
	u64 i;

	if (!shm)
		return;
	spin_lock_irqsave(&lock, flags);
	i = shm->nevents;
	if (i < shm->ev_cap) {
		u64 *r = ev_area[i];

		r[0] = kind; r[1] = a; r[2] = b; r[3] = c;
		r[4] = d; r[5] = e; r[6] = f;
		/* count last: a reader after a crash sees only whole records */
		smp_wmb();
		shm->nevents = i + 1;
	} else {
		shm->dropped++;
	}
	spin_unlock_irqrestore(&lock, flags);
}

/* Append text; returns its offset in the text area (length may be clipped). */
static u64 put_text(const char *s, size_t *len)
{
	unsigned long flags;
	u64 off;

	if (!shm) {
		*len = 0;
		return 0;
	}
	spin_lock_irqsave(&lock, flags);
	off = shm->text_used;
	if (*len > shm->text_cap - off)
		*len = shm->text_cap - off;
	memcpy(text_area + off, s, *len);
	shm->text_used = off + *len;
	spin_unlock_irqrestore(&lock, flags);
	return off;
}

u64 bs_text(const char *s, size_t len)
{
	u64 off = put_text(s, &len);

	return off << 32 | len;
}

/* ---- the host: the scenario's rule engine (driver/userspace/script.c) ---- */

/*
 * The same C engine as the userspace harness decides every reply, so both
 * backends answer a scenario identically. Until a script is loaded (and if it
 * does not parse) env is all defaults: the default host of specs/trace.md.
 */
struct bs_env bs_env = { .step = -1 };
static char *script_buf;		/* text written to `script`, parsed by "R" */
static size_t script_len;
/* the open DEBUGFS_READ text (written to `text`, closed by "E") */
static char *dbg_text;
static size_t dbg_len;

/* Answer one backdoor call; called from the kprobe (atomic context). */
static void host_answer(u32 magic, u32 cmd, u32 arg, u32 port,
			u32 *status, u32 *result)
{
	struct bs_reply reply;
	unsigned long flags;

	if (magic != BS_HV_MAGIC || port != BS_HV_PORT) {
		*status = 0xffffffff;	/* nothing answers there; ebx unchanged */
		return;
	}
	spin_lock_irqsave(&bs_lock, flags);
	bs_host_call(&bs_env, cmd, &reply);
	/* what the host holds locked, for ACCOUNT */
	bs_env_host_reply(cmd, arg, reply.status);
	spin_unlock_irqrestore(&bs_lock, flags);
	*status = reply.status;
	*result = reply.result;
}

/* ---- interception: kprobes on the driver's `inl` sites ---- */

#define MAX_SITES 32
static struct kprobe sites[MAX_SITES];
static int nsites;
static u64 calls;

static int inl_pre(struct kprobe *p, struct pt_regs *regs)
{
	u32 magic = regs->ax, cmd = regs->cx, arg = regs->bx, port = regs->dx & 0xffff;
	u32 status, result = arg;

	host_answer(magic, cmd, arg, port, &status, &result);
	bs_record(EV_BACKDOOR, magic, cmd, arg, port, status, result);
	calls++;
	/* 32-bit destinations zero-extend, as the hardware would */
	regs->ax = status;
	regs->bx = result;
	/* skip the 1-byte `in` ourselves; returning 1 tells kprobes not to
	 * single-step the original instruction but resume at regs->ip */
	regs->ip = (unsigned long)p->addr + 1;
	return 1;
}

/*
 * A post_handler, even one that never runs, keeps kprobes from optimizing the
 * probe into a jump: an optimized probe ignores the ip set by the pre_handler
 * and would execute the real `inl`.
 */
static void no_post(struct kprobe *p, struct pt_regs *regs, unsigned long fl)
{
}

/*
 * A backdoor call site of the host's own, probed like the driver's: "B N"
 * calls it N times, so the runner can time the interception alone (the
 * inflate/deflate cycles also pay for the page allocator).
 */
extern const u8 balloonspec_bench_inl[];
static noinline u32 bench_call(u32 cmd)
{
	u32 status, ebx = 0, ecx = cmd, edx = BS_HV_PORT;

	asm volatile("balloonspec_bench_inl: inl %%dx"
		     : "=a"(status), "+b"(ebx), "+c"(ecx), "+d"(edx)
		     : "0"(BS_HV_MAGIC) : "memory");
	return status;
}

static struct kprobe bench_kp;

static bool has_magic_before(const u8 *base, size_t i)
{
	static const u8 m[4] = { 0x6f, 0x6d, 0x6c, 0x45 };	/* HV_MAGIC, LE */
	size_t lo = i > 256 ? i - 256 : 0;
	size_t j;

	for (j = lo; j + 4 <= i; j++)
		if (!memcmp(base + j, m, 4))
			return true;
	return false;
}

/* Probe every `in (%dx),%eax` of one text area; register_kprobe itself
 * rejects bytes that are not instruction boundaries. */
static void probe_text(struct module *mod, const u8 *base, size_t size)
{
	size_t i;

	for (i = 0; i < size && nsites < MAX_SITES; i++) {
		struct kprobe *kp = &sites[nsites];

		if (base[i] != 0xed || !has_magic_before(base, i))
			continue;
		memset(kp, 0, sizeof(*kp));
		kp->addr = (kprobe_opcode_t *)(base + i);
		kp->pre_handler = inl_pre;
		kp->post_handler = no_post;
		if (register_kprobe(kp) == 0) {
			bs_record(EV_SITE, (unsigned long)(base + i) -
			       (unsigned long)mod->core_layout.base, 0, 0, 0, 0, 0);
			nsites++;
		}
	}
}

static void attach(struct module *mod)
{
	nsites = 0;
	probe_text(mod, mod->core_layout.base, mod->core_layout.text_size);
	probe_text(mod, mod->init_layout.base, mod->init_layout.text_size);
	pr_info("balloonspec_host: %d backdoor site(s) in %s\n", nsites, mod->name);
}

/*
 * The driver's init function, probed at its return: INIT with its exact
 * return code (what finit_module(2) reports can differ: a positive return
 * is only warned about, and a load can fail before init ever runs).  Its
 * entry notes the stack pointer: a tail call out of init is the driver's.
 */
static int init_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	/* the return address is about to become kretprobe's trampoline */
	bs_env_enter(FRAME_INIT, kernel_stack_pointer(regs), true);
	return 0;
}

static int init_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	bs_env_leave(FRAME_INIT);
	bs_record(EV_INIT, (u64)(s64)(int)regs_return_value(regs), 0, 0, 0, 0, 0);
	return 0;
}

static struct kretprobe init_krp;
static bool init_krp_on;

static void probe_init(struct module *mod)
{
	memset(&init_krp, 0, sizeof(init_krp));
	init_krp.entry_handler = init_entry;
	init_krp.handler = init_ret;
	init_krp.maxactive = 1;
	init_krp.kp.addr = (kprobe_opcode_t *)mod->init;
	init_krp_on = mod->init && register_kretprobe(&init_krp) == 0;
	if (mod->init && !init_krp_on)
		pr_warn("balloonspec_host: no return probe on %s's init\n",
			mod->name);
}

static void unprobe_init(void)
{
	if (init_krp_on)
		unregister_kretprobe(&init_krp);
	init_krp_on = false;
}

static void detach(void)
{
	int i;

	unprobe_init();
	for (i = 0; i < nsites; i++)
		unregister_kprobe(&sites[i]);
	nsites = 0;
	bs_env_detach();
}

static int mod_event(struct notifier_block *nb, unsigned long action, void *data)
{
	struct module *mod = data;

	if (strcmp(mod->name, target_mod))
		return NOTIFY_DONE;
	if (action == MODULE_STATE_COMING) {
		bs_record(EV_COMING, 0, 0, 0, 0, 0, 0);
		attach(mod);
		bs_env_attach(mod);
		probe_init(mod);
	} else if (action == MODULE_STATE_LIVE) {
		unprobe_init();		/* init has returned; its text goes */
	} else if (action == MODULE_STATE_GOING) {
		detach();		/* after exit (or a failed init) returned */
	}
	return NOTIFY_DONE;
}

static struct notifier_block mod_nb = { .notifier_call = mod_event };

/* ---- steps ---- */

static void do_step(size_t idx)
{
	unsigned long flags;
	u64 kind = 0, arg = 0;

	spin_lock_irqsave(&bs_lock, flags);
	if (idx < bs_env.n_steps) {
		/* set_target, host_reset, set_totalram */
		bs_env_begin_step(&bs_env, idx);
		kind = bs_env.steps[idx].kind;
		arg = bs_env.steps[idx].arg;
	}
	spin_unlock_irqrestore(&bs_lock, flags);
	bs_record(EV_STEP, idx, kind, arg, 0, 0, 0);
	if (kind == BS_STEP_CYCLE)
		bs_env_run_cycle();
}

/* Parse the script written so far; the old environment goes. */
static void load_script(u64 id)
{
	struct bs_env fresh, old;
	unsigned long flags;
	size_t err_line = 0;
	int err;

	err = bs_env_parse(&fresh, script_buf ?: "", script_len, &err_line);
	if (err)
		bs_env_parse(&fresh, "", 0, &err_line);	/* the default host */
	fresh.step = -1;
	spin_lock_irqsave(&bs_lock, flags);
	old = bs_env;
	bs_env = fresh;
	spin_unlock_irqrestore(&bs_lock, flags);
	bs_env_free(&old);
	kvfree(script_buf);
	script_buf = NULL;
	script_len = 0;
	dbg_len = 0;
	calls = 0;
	bs_env_scenario_start();
	/* the guest's real totalram: what a driver that does not call
	 * si_meminfo (a later revision) reports to the host */
	bs_record(EV_SCENARIO, id, err ? 1 : 0, err_line, totalram_pages(), 0, 0);
}

static ssize_t ctl_write(struct file *f, const char __user *ubuf, size_t len,
			 loff_t *pos)
{
	char buf[128];
	s64 a = 0;
	size_t n;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	switch (buf[0]) {
	case 'R':
		if (sscanf(buf + 1, "%lld", &a) != 1)
			return -EINVAL;
		load_script(a);
		break;
	case 'S':
		if (sscanf(buf + 1, "%lld", &a) != 1 || a < 0)
			return -EINVAL;
		do_step(a);
		break;
	case 'E':
		bs_record(EV_DEBUGFS_READ, bs_text(dbg_text, dbg_len), 0, 0, 0, 0, 0);
		dbg_len = 0;
		break;
	case 'B':
		if (sscanf(buf + 1, "%lld", &a) != 1 || !bench_kp.addr)
			return -EINVAL;
		while (a-- > 0) {
			if (bench_call(BS_CMD_GET_TARGET) != BS_SUCCESS)
				return -EIO;	/* the probe did not answer */
			cond_resched();
		}
		break;
	case 'X':
		bs_env_account();
		bs_record(EV_END, calls, 0, 0, 0, 0, 0);
		break;
	default:
		return -EINVAL;
	}
	return len;
}

/* `text`: raw bytes for the next DEBUGFS_READ (closed by ctl "E"). */
static ssize_t text_write(struct file *f, const char __user *ubuf, size_t len,
			  loff_t *pos)
{
	char *nb;

	if (dbg_len + len > (1 << 20))
		return -EFBIG;
	nb = kvrealloc(dbg_text, dbg_len, dbg_len + len, GFP_KERNEL);
	if (!nb)
		return -ENOMEM;
	dbg_text = nb;
	if (copy_from_user(dbg_text + dbg_len, ubuf, len))
		return -EFAULT;
	dbg_len += len;
	return len;
}

/* `script`: the scenario text, appended; "R" parses and consumes it. */
static ssize_t script_write(struct file *f, const char __user *ubuf,
			    size_t len, loff_t *pos)
{
	char *nb;

	if (script_len + len > (4 << 20))
		return -EFBIG;
	nb = kvmalloc(script_len + len + 1, GFP_KERNEL);
	if (!nb)
		return -ENOMEM;
	if (script_buf)
		memcpy(nb, script_buf, script_len);
	if (copy_from_user(nb + script_len, ubuf, len)) {
		kvfree(nb);
		return -EFAULT;
	}
	kvfree(script_buf);
	script_buf = nb;
	script_len += len;
	return len;
}

/* `note`: one write = one NOTE record (text reference). */
static ssize_t note_write(struct file *f, const char __user *ubuf, size_t len,
			  loff_t *pos)
{
	char buf[512];
	size_t n = min(len, sizeof(buf));
	u64 off;

	if (copy_from_user(buf, ubuf, n))
		return -EFAULT;
	off = put_text(buf, &n);
	bs_record(EV_NOTE, off << 32 | n, 0, 0, 0, 0, 0);
	return len;
}

static const struct file_operations ctl_fops = { .owner = THIS_MODULE,
	.write = ctl_write };
static const struct file_operations text_fops = { .owner = THIS_MODULE,
	.write = text_write };
static const struct file_operations script_fops = { .owner = THIS_MODULE,
	.write = script_write };
static const struct file_operations note_fops = { .owner = THIS_MODULE,
	.write = note_write };
static struct dentry *dir;

/* ---- the shared memory: QEMU ivshmem-plain, BAR 2 ---- */

static int shm_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	resource_size_t start, size;
	int err = pcim_enable_device(pdev);

	if (err)
		return err;
	start = pci_resource_start(pdev, 2);
	size = pci_resource_len(pdev, 2);
	shm = devm_memremap(&pdev->dev, start, size, MEMREMAP_WB);
	if (IS_ERR(shm)) {
		err = PTR_ERR(shm);
		shm = NULL;
		return err;
	}
	/* 7/8 for records, 1/8 for text; the runner parses the header */
	memset(shm, 0, sizeof(*shm));
	shm->ev_off = 4096;
	shm->ev_cap = (size / 8 * 7 - 4096) / sizeof(*ev_area);
	shm->text_off = size / 8 * 7;
	shm->text_cap = size - shm->text_off;
	ev_area = (void *)shm + shm->ev_off;
	text_area = (void *)shm + shm->text_off;
	smp_wmb();
	shm->magic = BS_MAGIC;
	return 0;
}

static const struct pci_device_id shm_ids[] = {
	{ PCI_DEVICE(0x1af4, 0x1110) },	/* ivshmem */
	{ }
};

static struct pci_driver shm_driver = {
	.name = "balloonspec_shm",
	.id_table = shm_ids,
	.probe = shm_probe,
};

static int __init bs_init(void)
{
	size_t err_line;
	int err;

	/* the default environment until a scenario is loaded */
	if (bs_env_parse(&bs_env, "", 0, &err_line))
		return -ENOMEM;
	err = pci_register_driver(&shm_driver);

	if (err)
		return err;
	if (!shm) {
		pr_err("balloonspec_host: no ivshmem device\n");
		pci_unregister_driver(&shm_driver);
		return -ENODEV;
	}
	err = bs_env_init();
	if (err) {
		pci_unregister_driver(&shm_driver);
		return err;
	}
	dir = debugfs_create_dir("balloonspec", NULL);
	debugfs_create_file("ctl", 0200, dir, NULL, &ctl_fops);
	debugfs_create_file("text", 0200, dir, NULL, &text_fops);
	debugfs_create_file("note", 0200, dir, NULL, &note_fops);
	debugfs_create_file("script", 0200, dir, NULL, &script_fops);
	bench_kp.addr = (kprobe_opcode_t *)balloonspec_bench_inl;
	bench_kp.pre_handler = inl_pre;
	bench_kp.post_handler = no_post;
	if (register_kprobe(&bench_kp))
		bench_kp.addr = NULL;
	err = register_module_notifier(&mod_nb);
	if (err) {
		if (bench_kp.addr)
			unregister_kprobe(&bench_kp);
		debugfs_remove_recursive(dir);
		bs_env_exit();
		pci_unregister_driver(&shm_driver);
	}
	return err;
}

static void __exit bs_exit(void)
{
	unregister_module_notifier(&mod_nb);
	detach();
	if (bench_kp.addr)
		unregister_kprobe(&bench_kp);
	debugfs_remove_recursive(dir);
	bs_env_exit();
	pci_unregister_driver(&shm_driver);
	bs_env_free(&bs_env);
	kvfree(script_buf);
	kvfree(dbg_text);
}

module_init(bs_init);
module_exit(bs_exit);
