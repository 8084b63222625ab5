/* Annotations: all vanish for the analysis. */
#ifndef _BSA_LINUX_COMPILER_H
#define _BSA_LINUX_COMPILER_H

#define __user
#define __force
#define __iomem
#define __init
#define __exit
#define __initdata
#define __exitdata
#define __read_mostly
#define __maybe_unused
#define __must_check
#define __always_inline inline
#define noinline
#define __printf(a, b)
#define __attribute__(x)
#define likely(x) (x)
#define unlikely(x) (x)
#define READ_ONCE(x) (x)
#define WRITE_ONCE(x, val) ((x) = (val))

#endif
