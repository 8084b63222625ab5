/* Rate limiting (include/linux/ratelimit_types.h) over the harness's jiffies. */
#ifndef _BS_LINUX_RATELIMIT_H
#define _BS_LINUX_RATELIMIT_H

#include <linux/jiffies.h>

#define DEFAULT_RATELIMIT_INTERVAL	(5 * HZ)
#define DEFAULT_RATELIMIT_BURST		10

struct ratelimit_state {
	int interval;
	int burst;
	int printed;
	int missed;
	unsigned long begin;
};

#define RATELIMIT_STATE_INIT(name, interval_init, burst_init) {	\
		.interval = interval_init,				\
		.burst = burst_init,					\
	}
#define DEFINE_RATELIMIT_STATE(name, interval_init, burst_init)	\
	struct ratelimit_state name =					\
		RATELIMIT_STATE_INIT(name, interval_init, burst_init)

/* Nonzero when the caller may go ahead (lib/ratelimit.c). */
int ___ratelimit(struct ratelimit_state *rs, const char *func);
#define __ratelimit(state) ___ratelimit(state, __func__)

#endif
