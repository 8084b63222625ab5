/* kmalloc and friends (include/linux/slab.h): the C library's heap, with the
 * kernel's contract (kmalloc(0) is ZERO_SIZE_PTR, kfree(NULL) and
 * kfree(ZERO_SIZE_PTR) do nothing). Not in the trace. */
#ifndef _BS_LINUX_SLAB_H
#define _BS_LINUX_SLAB_H

#include <linux/types.h>
#include <linux/gfp.h>

#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(x) ((unsigned long)(x) <= (unsigned long)ZERO_SIZE_PTR)

void *kmalloc(size_t size, gfp_t flags) __attribute__((malloc));
void *kzalloc(size_t size, gfp_t flags) __attribute__((malloc));
void *krealloc(const void *p, size_t new_size, gfp_t flags);
void kfree(const void *objp);
size_t ksize(const void *objp);

static inline void *kmalloc_array(size_t n, size_t size, gfp_t flags)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	return kmalloc(bytes, flags);
}

static inline void *kcalloc(size_t n, size_t size, gfp_t flags)
{
	return kmalloc_array(n, size, flags | __GFP_ZERO);
}

#define kvmalloc(size, flags) kmalloc(size, flags)
#define kvzalloc(size, flags) kzalloc(size, flags)
#define kvcalloc(n, size, flags) kcalloc(n, size, flags)
#define kvfree(p) kfree(p)
#define kfree_sensitive(p) kfree(p)

#endif
