/* Delayed work; the harness runs the queued item once per "cycle" step. */
#ifndef _BS_LINUX_WORKQUEUE_H
#define _BS_LINUX_WORKQUEUE_H

#include <linux/types.h>
#include <linux/kernel.h>

#define HZ 250

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

#define INIT_DELAYED_WORK(_dw, _func)		\
	do {					\
		(_dw)->work.func = (_func);	\
		(_dw)->pending = false;		\
	} while (0)

static inline struct delayed_work *to_delayed_work(struct work_struct *work)
{
	return container_of(work, struct delayed_work, work);
}

bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
			unsigned long delay);
bool cancel_delayed_work_sync(struct delayed_work *dwork);

/* The harness has no timer wheel to align to. */
static inline unsigned long round_jiffies_relative(unsigned long j)
{
	return j;
}

#endif
