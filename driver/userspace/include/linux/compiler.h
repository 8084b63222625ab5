/* Compiler annotations the driver and the other shims use. */
#ifndef _BS_LINUX_COMPILER_H
#define _BS_LINUX_COMPILER_H

#define __user
#define __force
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define __maybe_unused __attribute__((unused))

#endif
