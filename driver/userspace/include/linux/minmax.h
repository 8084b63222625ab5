/* min/max/clamp of include/linux/minmax.h: min and max check that both
 * sides have the same type (comparing distinct types warns, as in the
 * kernel); the _t forms convert to the named type first. */
#ifndef _BS_LINUX_MINMAX_H
#define _BS_LINUX_MINMAX_H

#define __bs_typecheck(x, y) (!!(sizeof((typeof(x) *)1 == (typeof(y) *)1)))

#define __bs_cmp(x, y, op) ({			\
	typeof(x) __x = (x);			\
	typeof(y) __y = (y);			\
	(void)__bs_typecheck(x, y);		\
	__x op __y ? __x : __y; })

#define min(x, y) __bs_cmp(x, y, <)
#define max(x, y) __bs_cmp(x, y, >)
#define min3(x, y, z) min((typeof(x))min(x, y), z)
#define max3(x, y, z) max((typeof(x))max(x, y), z)
#define min_not_zero(x, y) ({			\
	typeof(x) __x = (x);			\
	typeof(y) __y = (y);			\
	__x == 0 ? __y : ((__y == 0) ? __x : min(__x, __y)); })

#define min_t(type, x, y) ({ type __mx = (x); type __my = (y); __mx < __my ? __mx : __my; })
#define max_t(type, x, y) ({ type __mx = (x); type __my = (y); __mx > __my ? __mx : __my; })

#define clamp(val, lo, hi) min((typeof(val))max(val, lo), hi)
#define clamp_t(type, val, lo, hi) min_t(type, max_t(type, val, lo), hi)
#define clamp_val(val, lo, hi) clamp_t(typeof(val), val, lo, hi)

#define swap(a, b) \
	do { typeof(a) __tmp = (a); (a) = (b); (b) = __tmp; } while (0)

#endif
