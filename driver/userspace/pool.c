/*
 * The page allocator: struct pages come from a pool that is never reused, and
 * everything the harness knows about a page lives outside struct page, so a
 * freed page can be poisoned for ASan while its state stays readable.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/mm.h>

#include "harness.h"
#include "trace.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#endif

/* Reserved, not committed: only touched pages cost memory. */
#define POOL_CAP (1u << 26)

enum page_state { PAGE_HELD = 1, PAGE_FREED = 2 };

enum free_result { FREE_OK = 0, FREE_DOUBLE = 1, FREE_FOREIGN = 2 };

static struct page *pages;
static uint64_t *pfns;
static uint32_t *lock_epoch;	/* locked iff equal to `epoch` */
static uint8_t *state;
static uint32_t *refs;		/* references (get_page/put_page) */
static uint32_t n_pages;
static uint32_t epoch = 1;	/* a successful START starts a new one */

/* PFN -> page: sequential PFNs by index, rule-given PFNs by hash. */
static uint32_t *seq_page;
static uint64_t n_seq;
static uint64_t *hash_pfn;
static uint32_t *hash_page;	/* page index + 1; 0 = empty slot */
static size_t hash_cap, hash_used;

static uint64_t n_allocated, n_freed, n_bad_frees;

static void *reserve(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		bs_fatal("cannot reserve the page pool");
	return p;
}

void bs_pool_init(void)
{
	pages = reserve(POOL_CAP * sizeof(*pages));
	pfns = reserve(POOL_CAP * sizeof(*pfns));
	lock_epoch = reserve(POOL_CAP * sizeof(*lock_epoch));
	state = reserve(POOL_CAP * sizeof(*state));
	refs = reserve(POOL_CAP * sizeof(*refs));
	seq_page = reserve(POOL_CAP * sizeof(*seq_page));
}

static size_t hash_slot(uint64_t pfn)
{
	return (pfn * 0x9e3779b97f4a7c15ull) >> 32 & (hash_cap - 1);
}

static void hash_put(uint64_t pfn, uint32_t index)
{
	size_t i;

	if (2 * (hash_used + 1) > hash_cap) {
		uint64_t *old_pfn = hash_pfn;
		uint32_t *old_page = hash_page;
		size_t j, old_cap = hash_cap;

		hash_cap = hash_cap ? 2 * hash_cap : 1024;
		hash_pfn = calloc(hash_cap, sizeof(*hash_pfn));
		hash_page = calloc(hash_cap, sizeof(*hash_page));
		if (!hash_pfn || !hash_page)
			bs_fatal("out of memory for the PFN map");
		hash_used = 0;
		for (j = 0; j < old_cap; j++)
			if (old_page[j])
				hash_put(old_pfn[j], old_page[j] - 1);
		free(old_pfn);
		free(old_page);
	}
	for (i = hash_slot(pfn); hash_page[i] && hash_pfn[i] != pfn;
	     i = (i + 1) & (hash_cap - 1))
		;
	hash_used += !hash_page[i];
	hash_pfn[i] = pfn;
	hash_page[i] = index + 1;	/* the newest page with this PFN wins */
}

/* Index of the page holding `pfn`, or -1. */
static int64_t lookup(uint64_t pfn)
{
	if (hash_used) {
		size_t i;

		for (i = hash_slot(pfn); hash_page[i];
		     i = (i + 1) & (hash_cap - 1))
			if (hash_pfn[i] == pfn)
				return hash_page[i] - 1;
	}
	if (pfn - bs_env.pfn_base < n_seq)
		return seq_page[pfn - bs_env.pfn_base];
	return -1;
}

void bs_pool_set_locked(uint64_t pfn, bool locked)
{
	int64_t i = lookup(pfn);

	if (i >= 0)
		lock_epoch[i] = locked ? epoch : 0;
}

void bs_pool_forget_locks(void)
{
	epoch++;
}

struct page *alloc_page(gfp_t gfp_mask)
{
	uint64_t pfn;
	enum bs_alloc_outcome outcome;
	uint32_t i = n_pages;

	/* A full pool behaves as an exhausted machine. */
	if (i == POOL_CAP)
		outcome = BS_ALLOC_FAIL;
	else
		outcome = bs_alloc_decide(&bs_env, gfp_mask, &pfn);
	if (outcome == BS_ALLOC_FAIL) {
		bs_emit(BS_EV_ALLOC, gfp_mask, 0, 0, 0, 0, 0);
		return NULL;
	}
	if (outcome == BS_ALLOC_SEQUENTIAL)
		seq_page[n_seq++] = i;
	else
		hash_put(pfn, i);
	n_pages++;
	n_allocated++;
	pfns[i] = pfn;
	state[i] = PAGE_HELD;
	refs[i] = 1;
	bs_emit(BS_EV_ALLOC, gfp_mask, 1, pfn, 0, 0, 0);
	return &pages[i];
}

/* Pool index of `page`, or -1 if it is not a page the pool handed out. */
static int64_t index_of(const struct page *page)
{
	uintptr_t off = (uintptr_t)page - (uintptr_t)pages;

	if ((uintptr_t)page < (uintptr_t)pages || off % sizeof(*page) ||
	    off / sizeof(*page) >= n_pages)
		return -1;
	return off / sizeof(*page);
}

/* Drop one reference; the last one gives the page back (a FREE event). A
 * page already given back, or not from the pool, is a bad free. */
static void put_ref(struct page *page)
{
	int64_t i = index_of(page);

	if (i < 0) {
		n_bad_frees++;
		bs_emit(BS_EV_FREE, 0, FREE_FOREIGN, 0, 0, 0, 0);
		return;
	}
	if (state[i] == PAGE_FREED) {
		n_bad_frees++;
		bs_emit(BS_EV_FREE, pfns[i], FREE_DOUBLE, 0, 0, 0, 0);
		return;
	}
	if (--refs[i])
		return;
	state[i] = PAGE_FREED;
	n_freed++;
	POISON(&pages[i], sizeof(pages[i]));
	bs_emit(BS_EV_FREE, pfns[i], FREE_OK, 0, 0, 0, 0);
}

void __free_page(struct page *page)
{
	put_ref(page);
}

void put_page(struct page *page)
{
	put_ref(page);
}

void get_page(struct page *page)
{
	int64_t i = index_of(page);

	if (i >= 0 && state[i] == PAGE_HELD)
		refs[i]++;
}

int page_count(const struct page *page)
{
	int64_t i = index_of(page);

	return i < 0 || state[i] != PAGE_HELD ? 0 : (int)refs[i];
}

/* The page with this PFN (the newest, if the scenario gave a PFN twice). */
struct page *pfn_to_page(unsigned long pfn)
{
	int64_t i = lookup(pfn);

	return i < 0 ? NULL : &pages[i];
}

/* Arithmetic in the kernel, so valid for any page, freed or not. */
unsigned long page_to_pfn(const struct page *page)
{
	int64_t i = index_of(page);

	return i < 0 ? 0 : pfns[i];
}

void bs_pool_account(void)
{
	uint64_t held = 0, locked = 0;
	uint32_t i;

	for (i = 0; i < n_pages; i++) {
		if (state[i] != PAGE_HELD)
			continue;
		held++;
		locked += lock_epoch[i] == epoch;
	}
	bs_emit(BS_EV_ACCOUNT, n_allocated, n_freed, held, locked,
		held - locked, n_bad_frees);
}
