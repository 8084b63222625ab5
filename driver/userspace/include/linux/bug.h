/*
 * WARN and BUG as the kernel reports them: a WARN prints its message (if
 * any) and "WARNING: at FILE:LINE FUNC()" at KERN_WARNING (PRINTK events) and
 * goes on, returning the condition; a BUG prints "kernel BUG at FILE:LINE!"
 * at KERN_CRIT and kills the task: the run ends with the verdict "abort".
 */
#ifndef _BS_LINUX_BUG_H
#define _BS_LINUX_BUG_H

#include <linux/compiler.h>
#include <linux/types.h>

void bs_warn(const char *file, int line, const char *func);
__printf(4, 5) void bs_warn_fmt(const char *file, int line, const char *func, const char *fmt, ...);
void bs_bug(const char *file, int line) __attribute__((noreturn));

#define BUG() bs_bug(__FILE__, __LINE__)
#define BUG_ON(condition) do { if (unlikely(condition)) BUG(); } while (0)

#define WARN_ON(condition) ({						\
	int __ret_warn_on = !!(condition);				\
	if (unlikely(__ret_warn_on))					\
		bs_warn(__FILE__, __LINE__, __func__);		\
	unlikely(__ret_warn_on);					\
})

#define WARN(condition, format...) ({					\
	int __ret_warn_on = !!(condition);				\
	if (unlikely(__ret_warn_on))					\
		bs_warn_fmt(__FILE__, __LINE__, __func__, format);		\
	unlikely(__ret_warn_on);					\
})

#define WARN_ON_ONCE(condition) ({					\
	static bool __warned;						\
	int __ret_warn_once = !!(condition);				\
	if (unlikely(__ret_warn_once && !__warned)) {			\
		__warned = true;					\
		bs_warn(__FILE__, __LINE__, __func__);		\
	}								\
	unlikely(__ret_warn_once);					\
})

#define WARN_ONCE(condition, format...) ({				\
	static bool __warned;						\
	int __ret_warn_once = !!(condition);				\
	if (unlikely(__ret_warn_once && !__warned)) {			\
		__warned = true;					\
		bs_warn_fmt(__FILE__, __LINE__, __func__, format);		\
	}								\
	unlikely(__ret_warn_once);					\
})

/* Compile-time checks, as include/linux/build_bug.h. */
#define BUILD_BUG_ON_ZERO(e) ((int)(sizeof(struct { int:(-!!(e)); })))
#define BUILD_BUG_ON_MSG(cond, msg) _Static_assert(!(cond), msg)
#define BUILD_BUG_ON(condition) BUILD_BUG_ON_MSG(condition, "BUILD_BUG_ON failed: " #condition)
#define BUILD_BUG() BUILD_BUG_ON_MSG(1, "BUILD_BUG failed")

#endif
