/* Delayed work: queued items run one per "cycle" step of a scenario. */
#ifndef _BSA_LINUX_WORKQUEUE_H
#define _BSA_LINUX_WORKQUEUE_H

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
};

struct workqueue_struct;
extern struct workqueue_struct *system_wq;
extern struct workqueue_struct *system_freezable_wq;

#define INIT_DELAYED_WORK(_dw, _func)		\
	do {					\
		(_dw)->work.func = (_func);	\
	} while (0)

#define to_delayed_work(_work) container_of(_work, struct delayed_work, work)

bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
			unsigned long delay);
bool cancel_delayed_work_sync(struct delayed_work *dwork);
unsigned long round_jiffies_relative(unsigned long j);

struct workqueue_struct *create_freezeable_workqueue(const char *name);
struct workqueue_struct *create_freezable_workqueue(const char *name);
void destroy_workqueue(struct workqueue_struct *wq);

#endif
