/* The scheduler entry points a driver yields through. */
#ifndef _BS_LINUX_SCHED_H
#define _BS_LINUX_SCHED_H

/* A COND_RESCHED event (specs/trace.md). */
int cond_resched(void);

#endif
