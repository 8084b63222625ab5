/* Pages and the page allocator; the harness owns every struct page. */
#ifndef _BS_LINUX_MM_H
#define _BS_LINUX_MM_H

#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/gfp.h>
#include <linux/slab.h>
#include <asm/page.h>

/* Only lru (and private) are the driver's to use; the harness keeps
 * everything else about a page outside it, so poisoning stays exact. */
struct page {
	struct list_head lru;
	unsigned long private;
};

unsigned long page_to_pfn(const struct page *page);
/* The page the harness handed out with this PFN, or NULL. */
struct page *pfn_to_page(unsigned long pfn);
void si_meminfo(struct sysinfo *val);

#define page_to_phys(page) ((phys_addr_t)page_to_pfn(page) << PAGE_SHIFT)
#define set_page_private(page, v) ((page)->private = (v))
#define page_private(page) ((page)->private)
/* x86-64 has no highmem zone. */
#define PageHighMem(page) 0

/* Reference counts as in the kernel: a page returns to the allocator (a FREE
 * event) when its last reference goes; alloc_page gives one reference. */
void get_page(struct page *page);
void put_page(struct page *page);
int page_count(const struct page *page);
#define page_ref_count(page) page_count(page)

#endif
