/*
 * GFP flags and the page allocator entry points (include/linux/gfp.h,
 * gfp_types.h). The trace records flags with Linux 6.1's encoding (the kernel
 * the project builds the driver for in-kernel; specs/trace.md); names that
 * later kernels renamed keep their meaning through the successor's value.
 */
#ifndef _BS_LINUX_GFP_H
#define _BS_LINUX_GFP_H

#include <linux/types.h>

/* GFP bits of Linux 6.1 (include/linux/gfp_types.h). */
#define __GFP_DMA		((__force gfp_t)0x01u)
#define __GFP_HIGHMEM		((__force gfp_t)0x02u)
#define __GFP_DMA32		((__force gfp_t)0x04u)
#define __GFP_MOVABLE		((__force gfp_t)0x08u)
#define __GFP_RECLAIMABLE	((__force gfp_t)0x10u)
#define __GFP_HIGH		((__force gfp_t)0x20u)
#define __GFP_IO		((__force gfp_t)0x40u)
#define __GFP_FS		((__force gfp_t)0x80u)
#define __GFP_ZERO		((__force gfp_t)0x100u)
#define __GFP_ATOMIC		((__force gfp_t)0x200u)
#define __GFP_DIRECT_RECLAIM	((__force gfp_t)0x400u)
#define __GFP_KSWAPD_RECLAIM	((__force gfp_t)0x800u)
#define __GFP_WRITE		((__force gfp_t)0x1000u)
#define __GFP_NOWARN		((__force gfp_t)0x2000u)
#define __GFP_RETRY_MAYFAIL	((__force gfp_t)0x4000u)
#define __GFP_NOFAIL		((__force gfp_t)0x8000u)
#define __GFP_NORETRY		((__force gfp_t)0x10000u)
#define __GFP_MEMALLOC		((__force gfp_t)0x20000u)
#define __GFP_COMP		((__force gfp_t)0x40000u)
#define __GFP_NOMEMALLOC	((__force gfp_t)0x80000u)
#define __GFP_HARDWALL		((__force gfp_t)0x100000u)
#define __GFP_THISNODE		((__force gfp_t)0x200000u)
#define __GFP_ACCOUNT		((__force gfp_t)0x400000u)
#define __GFP_ZEROTAGS		((__force gfp_t)0x800000u)
#define __GFP_RECLAIM	(__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)

/* Renamed in Linux 4.4 ("rename __GFP_WAIT to __GFP_RECLAIM") and 4.13. */
#define __GFP_WAIT	__GFP_RECLAIM
#define __GFP_REPEAT	__GFP_RETRY_MAYFAIL

#define GFP_ATOMIC	(__GFP_HIGH | __GFP_ATOMIC | __GFP_KSWAPD_RECLAIM)
#define GFP_KERNEL	(__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_KERNEL_ACCOUNT (GFP_KERNEL | __GFP_ACCOUNT)
#define GFP_NOWAIT	(__GFP_KSWAPD_RECLAIM)
#define GFP_NOIO	(__GFP_RECLAIM)
#define GFP_NOFS	(__GFP_RECLAIM | __GFP_IO)
#define GFP_USER	(__GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL)
#define GFP_DMA		__GFP_DMA
#define GFP_DMA32	__GFP_DMA32
#define GFP_HIGHUSER	(GFP_USER | __GFP_HIGHMEM)
#define GFP_HIGHUSER_MOVABLE	(GFP_HIGHUSER | __GFP_MOVABLE)
#define GFP_TRANSHUGE_LIGHT	((GFP_HIGHUSER_MOVABLE | __GFP_COMP | \
			 __GFP_NOMEMALLOC | __GFP_NOWARN) & ~__GFP_RECLAIM)
#define GFP_TRANSHUGE	(GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM)

struct page;

/* ALLOC and FREE events (specs/trace.md); the scenario decides outcomes. */
struct page *alloc_page(gfp_t gfp_mask);
void __free_page(struct page *page);

/* Only single pages are in the trace contract: a higher order ends the run
 * with a harness error that names the call. */
void bs_unsupported(const char *what) __attribute__((noreturn));

static inline struct page *alloc_pages(gfp_t gfp_mask, unsigned int order)
{
	if (order)
		bs_unsupported("alloc_pages with order > 0");
	return alloc_page(gfp_mask);
}

static inline void __free_pages(struct page *page, unsigned int order)
{
	if (order)
		bs_unsupported("__free_pages with order > 0");
	__free_page(page);
}

#endif
