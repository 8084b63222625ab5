/* Compiler annotations of include/linux/compiler*.h that drivers use. */
#ifndef _BS_LINUX_COMPILER_H
#define _BS_LINUX_COMPILER_H

#define __user
#define __kernel
#define __iomem
#define __force
#define __rcu
#define __bitwise
#define __must_check __attribute__((warn_unused_result))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define __maybe_unused __attribute__((unused))
#define __always_unused __attribute__((unused))
#define __used __attribute__((used))
#ifndef __always_inline	/* glibc's sys/cdefs.h has the same */
#define __always_inline inline __attribute__((always_inline))
#endif
#define noinline __attribute__((noinline))
#define __noreturn __attribute__((noreturn))
#define __cold __attribute__((cold))
#define __weak __attribute__((weak))
#define __packed __attribute__((packed))
#define __aligned(x) __attribute__((aligned(x)))
#define __read_mostly
#define __cacheline_aligned
#define __pure __attribute__((pure))
#define __deprecated

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" : : : "memory")

/* One access, not torn, not merged: a volatile access, as in the kernel. */
#define READ_ONCE(x) (*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, val) do { *(volatile typeof(x) *)&(x) = (val); } while (0)
#define ACCESS_ONCE(x) (*(volatile typeof(x) *)&(x))	/* before Linux 4.15 */

#if defined(__has_attribute) && __has_attribute(__fallthrough__)
#define fallthrough __attribute__((__fallthrough__))
#else
#define fallthrough do {} while (0)
#endif

#define __stringify_1(x...) #x
#define __stringify(x...) __stringify_1(x)

#endif
