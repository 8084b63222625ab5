#ifndef _BSA_LINUX_SCHED_H
#define _BSA_LINUX_SCHED_H

int cond_resched(void);

#endif
