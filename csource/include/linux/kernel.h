/* kernel.h helpers: min/max with the kernel's semantics (each argument
 * evaluated once, compared after the usual arithmetic conversions) and
 * container_of, as interpreter intrinsics. */
#ifndef _BSA_LINUX_KERNEL_H
#define _BSA_LINUX_KERNEL_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/err.h>
#include <linux/printk.h>
#include <linux/sysinfo.h>

#define container_of(ptr, type, member) \
	((type *)__bs_container_of((ptr), (type *)0, #member))

#define min(x, y) __bs_min(x, y)
#define max(x, y) __bs_max(x, y)
#define min_t(type, x, y) __bs_min((type)(x), (type)(y))
#define max_t(type, x, y) __bs_max((type)(x), (type)(y))

#endif
