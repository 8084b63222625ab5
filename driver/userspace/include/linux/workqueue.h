/*
 * Work items and workqueues (include/linux/workqueue.h). The harness runs the
 * queued delayed work item once per "cycle" step and records QUEUE_WORK with
 * the workqueue it went to (specs/trace.md): the system queues, or a private
 * workqueue the driver created (create_*workqueue, alloc_workqueue), freezable
 * or not.
 */
#ifndef _BS_LINUX_WORKQUEUE_H
#define _BS_LINUX_WORKQUEUE_H

#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/jiffies.h>

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
	work_func_t func;
};

struct delayed_work {
	struct work_struct work;
	bool pending;
};

struct workqueue_struct;
extern struct workqueue_struct *system_wq;
extern struct workqueue_struct *system_freezable_wq;
extern struct workqueue_struct *system_long_wq;
extern struct workqueue_struct *system_unbound_wq;
extern struct workqueue_struct *system_power_efficient_wq;
extern struct workqueue_struct *system_freezable_power_efficient_wq;

#define INIT_DELAYED_WORK(_dw, _func)		\
	do {					\
		(_dw)->work.func = (_func);	\
		(_dw)->pending = false;		\
	} while (0)
/* A deferrable timer only changes when an idle CPU wakes up. */
#define INIT_DEFERRABLE_WORK(_dw, _func) INIT_DELAYED_WORK(_dw, _func)
#define INIT_DELAYED_WORK_DEFERRABLE(_dw, _func) INIT_DELAYED_WORK(_dw, _func)	/* before 3.7 */
#define DECLARE_DELAYED_WORK(n, f) struct delayed_work n = { .work = { .func = (f) } }
#define DECLARE_DEFERRABLE_WORK(n, f) DECLARE_DELAYED_WORK(n, f)

static inline struct delayed_work *to_delayed_work(struct work_struct *work)
{
	return container_of(work, struct delayed_work, work);
}

#define delayed_work_pending(dw) ((dw)->pending)

bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
			unsigned long delay);
/* Queue it, or change the delay of the pending item. */
bool mod_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
		      unsigned long delay);
bool cancel_delayed_work_sync(struct delayed_work *dwork);
/* Nothing runs concurrently here, so the _sync wait is immediate. */
#define cancel_delayed_work(dwork) cancel_delayed_work_sync(dwork)

static inline bool schedule_delayed_work(struct delayed_work *dwork, unsigned long delay)
{
	return queue_delayed_work(system_wq, dwork, delay);
}

/* Workqueue flags (enum in include/linux/workqueue.h). */
enum {
	WQ_UNBOUND = 1 << 1,
	WQ_FREEZABLE = 1 << 2,
	WQ_MEM_RECLAIM = 1 << 3,
	WQ_HIGHPRI = 1 << 4,
	WQ_CPU_INTENSIVE = 1 << 5,
	WQ_SYSFS = 1 << 6,
	WQ_POWER_EFFICIENT = 1 << 7,
	__WQ_ORDERED = 1 << 17,
	WQ_MAX_ACTIVE = 512,
};

/* A workqueue of the driver's own; never fails here (the allocation is not
 * in the scenario's control). */
__printf(1, 4) struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags,
							 int max_active, ...);
void destroy_workqueue(struct workqueue_struct *wq);
void flush_workqueue(struct workqueue_struct *wq);

#define alloc_ordered_workqueue(fmt, flags, args...) \
	alloc_workqueue(fmt, WQ_UNBOUND | __WQ_ORDERED | (flags), 1, ##args)
#define create_workqueue(name) alloc_workqueue("%s", WQ_MEM_RECLAIM, 1, (name))
#define create_freezable_workqueue(name) \
	alloc_workqueue("%s", WQ_FREEZABLE | WQ_UNBOUND | WQ_MEM_RECLAIM, 1, (name))
/* The spelling before Linux 2.6.36. */
#define create_freezeable_workqueue(name) create_freezable_workqueue(name)
#define create_singlethread_workqueue(name) \
	alloc_ordered_workqueue("%s", WQ_MEM_RECLAIM, name)

#endif
