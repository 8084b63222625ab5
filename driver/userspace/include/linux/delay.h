/* Delays: sleeping advances the harness's jiffies; busy waits take no time. */
#ifndef _BS_LINUX_DELAY_H
#define _BS_LINUX_DELAY_H

#include <linux/jiffies.h>

void msleep(unsigned int msecs);
#define ssleep(s) msleep((s) * 1000)
#define msleep_interruptible(ms) (msleep(ms), 0UL)
#define usleep_range(min, max) do { (void)(min); (void)(max); } while (0)
#define udelay(n) do { (void)(n); } while (0)
#define ndelay(n) do { (void)(n); } while (0)
#define mdelay(n) do { (void)(n); } while (0)

#endif
