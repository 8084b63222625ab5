/* The scheduler entry point the driver yields through. */
#ifndef _BS_LINUX_SCHED_H
#define _BS_LINUX_SCHED_H

int cond_resched(void);

#endif
