/* Time in jiffies. The harness's clock starts at 0 and advances by the delay
 * of each delayed work item it runs and by msleep: a work cycle re-queued
 * with HZ happens one second later, as in the kernel. */
#ifndef _BS_LINUX_JIFFIES_H
#define _BS_LINUX_JIFFIES_H

#include <linux/types.h>

#define HZ 250

extern volatile unsigned long jiffies;

#define time_after(a, b) ((long)((b) - (a)) < 0)
#define time_before(a, b) time_after(b, a)
#define time_after_eq(a, b) ((long)((a) - (b)) >= 0)
#define time_before_eq(a, b) time_after_eq(b, a)
#define time_is_before_jiffies(a) time_after(jiffies, a)
#define time_is_after_jiffies(a) time_before(jiffies, a)

static inline unsigned long msecs_to_jiffies(const unsigned int m)
{
	return (m + (1000 / HZ) - 1) / (1000 / HZ);
}

static inline unsigned int jiffies_to_msecs(const unsigned long j)
{
	return (1000 / HZ) * j;
}

/* The harness has no timer wheel to align to. */
static inline unsigned long round_jiffies_relative(unsigned long j)
{
	return j;
}

static inline unsigned long round_jiffies(unsigned long j)
{
	return j;
}

#endif
