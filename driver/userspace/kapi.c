/*
 * The kernel services the driver calls, other than the page allocator
 * (pool.c) and the backdoor (backdoor.c). Each records what it observes.
 */
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/workqueue.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <asm/hypervisor.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "trace.h"

/* Published by the driver's module_init()/module_exit(). */
extern int (*const bs_module_init)(void);
extern void (*const bs_module_exit)(void);

const struct hypervisor_x86 x86_hyper_vmware = { .name = "VMware" };
const struct hypervisor_x86 *x86_hyper;

/* QUEUE_WORK's workqueue numbers (specs/trace.md). */
enum { WQ_OTHER = 0, WQ_FREEZABLE = 1, WQ_SYSTEM = 2 };
struct workqueue_struct {
	const char *name;
};
static struct workqueue_struct freezable_wq = { "events_freezable" };
static struct workqueue_struct default_wq = { "events" };
struct workqueue_struct *system_freezable_wq = &freezable_wq;
struct workqueue_struct *system_wq = &default_wq;

/* The one delayed work item that may be pending (the seed has one). */
static struct delayed_work *queued;

/* The debugfs file, while it exists. */
static struct dentry dbg_dentry;
static const struct file_operations *dbg_fops;

static bool loaded;

void bs_kapi_init(void)
{
	x86_hyper = bs_env.hypervisor_vmware ? &x86_hyper_vmware : NULL;
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

int printk(const char *fmt, ...)
{
	va_list ap;
	size_t len;
	char *s;

	va_start(ap, fmt);
	s = format(fmt, ap, &len);
	va_end(ap);
	bs_emit(BS_EV_PRINTK, bs_text(s, len), 0, 0, 0, 0, 0);
	free(s);
	return len;
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

bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
			unsigned long delay)
{
	uint64_t id = wq == system_freezable_wq ? WQ_FREEZABLE :
		      wq == system_wq ? WQ_SYSTEM : WQ_OTHER;

	bs_emit(BS_EV_QUEUE_WORK, delay, id, 0, 0, 0, 0);
	if (dwork->pending)
		return false;
	if (queued)
		bs_fatal("a second delayed work item was queued");
	dwork->pending = true;
	queued = dwork;
	return true;
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

void bs_run_queued_work(void)
{
	struct delayed_work *dwork = queued;

	if (!dwork)
		return;
	queued = NULL;
	dwork->pending = false;
	bs_emit(BS_EV_WORK_RUN, 0, 0, 0, 0, 0, 0);
	dwork->work.func(&dwork->work);
}

/* A module is loaded only while its init has succeeded and exit has not run. */
void bs_module_load(void)
{
	int rc;

	if (loaded)
		return;
	rc = bs_module_init();
	bs_emit(BS_EV_INIT, (uint64_t)(int64_t)rc, 0, 0, 0, 0, 0);
	loaded = rc == 0;
}

void bs_module_unload(void)
{
	if (!loaded)
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

void seq_printf(struct seq_file *m, const char *fmt, ...)
{
	va_list ap;
	size_t len;
	char *s;

	va_start(ap, fmt);
	s = format(fmt, ap, &len);
	va_end(ap);
	if (m->count + len > m->size) {
		m->size = 2 * (m->count + len);
		m->buf = realloc(m->buf, m->size);
		if (!m->buf)
			bs_fatal("out of memory in seq_printf");
	}
	memcpy(m->buf + m->count, s, len);
	m->count += len;
	free(s);
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
