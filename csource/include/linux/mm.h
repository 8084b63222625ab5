/* Pages and the page allocator; GFP bits of Linux 6.1 (as the userspace shims). */
#ifndef _BSA_LINUX_MM_H
#define _BSA_LINUX_MM_H

#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/list.h>

#define __GFP_DMA		((__force gfp_t)0x01u)
#define __GFP_HIGHMEM		((__force gfp_t)0x02u)
#define __GFP_DMA32		((__force gfp_t)0x04u)
#define __GFP_MOVABLE		((__force gfp_t)0x08u)
#define __GFP_HIGH		((__force gfp_t)0x20u)
#define __GFP_IO		((__force gfp_t)0x40u)
#define __GFP_FS		((__force gfp_t)0x80u)
#define __GFP_ZERO		((__force gfp_t)0x100u)
#define __GFP_DIRECT_RECLAIM	((__force gfp_t)0x400u)
#define __GFP_KSWAPD_RECLAIM	((__force gfp_t)0x800u)
#define __GFP_NOWARN		((__force gfp_t)0x2000u)
#define __GFP_RETRY_MAYFAIL	((__force gfp_t)0x4000u)
#define __GFP_NOFAIL		((__force gfp_t)0x8000u)
#define __GFP_NORETRY		((__force gfp_t)0x10000u)
#define __GFP_HARDWALL		((__force gfp_t)0x100000u)
#define __GFP_RECLAIM	(__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)

#define GFP_ATOMIC	(__GFP_HIGH | __GFP_KSWAPD_RECLAIM)
#define GFP_KERNEL	(__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_NOWAIT	(__GFP_KSWAPD_RECLAIM)
#define GFP_USER	(__GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL)
#define GFP_HIGHUSER	(GFP_USER | __GFP_HIGHMEM)

/* A page the allocator handed out; only lru is the driver's to use. */
struct page {
	struct list_head lru;
};

struct page *alloc_page(gfp_t gfp_mask);
void __free_page(struct page *page);
unsigned long page_to_pfn(const struct page *page);
void si_meminfo(struct sysinfo *val);

#endif
