"""The userspace shims behave as the kernel APIs they stand for, and show in
the trace where specs/trace.md says they do.

List helpers are checked by a C program against the shim headers alone; the
rest by small drivers (any source with a module_init is a driver build) and
by edits of the seed into the forms older kernels had."""
import subprocess

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.driver import build, userspace
from balloonspec.model.trace import Kind

KERN_WARNING, KERN_CRIT, KERN_INFO = "\x014", "\x012", "\x016"

LIST_PROGRAM = r"""
#include <linux/list.h>
#include <stdio.h>

struct item { int v; struct list_head lru; };
static struct item it[8];

/* The values of a list, in order, as a number: 1,2,3 -> 123. */
static long digits(struct list_head *head)
{
	struct item *pos;
	long n = 0;

	list_for_each_entry(pos, head, lru)
		n = 10 * n + pos->v;
	return n;
}

static long reversed(struct list_head *head)
{
	struct item *pos, *tmp;
	long n = 0;

	list_for_each_entry_safe_reverse(pos, tmp, head, lru)
		n = 10 * n + pos->v;
	return n;
}

#define CHECK(name, got, want) do { long g = (got), w = (want); \
	if (g != w) { printf("%s: got %ld, want %ld\n", name, g, w); bad = 1; } } while (0)

int main(void)
{
	LIST_HEAD(a);
	LIST_HEAD(b);
	LIST_HEAD(c);
	struct item *pos;
	int i, bad = 0;

	for (i = 0; i < 8; i++)
		it[i].v = i;
	CHECK("empty", list_empty(&a), 1);
	CHECK("first_or_null on empty", list_first_entry_or_null(&a, struct item, lru) == NULL, 1);
	for (i = 1; i <= 4; i++)
		list_add_tail(&it[i].lru, &a);                          /* a: 1234 */
	CHECK("add_tail", digits(&a), 1234);
	CHECK("reverse walk", reversed(&a), 4321);
	CHECK("first", list_first_entry(&a, struct item, lru)->v, 1);
	CHECK("last", list_last_entry(&a, struct item, lru)->v, 4);
	CHECK("is_last", list_is_last(&it[4].lru, &a), 1);
	CHECK("is_first", list_is_first(&it[1].lru, &a), 1);
	list_move_tail(&it[1].lru, &a);                             /* a: 2341 */
	CHECK("move_tail", digits(&a), 2341);
	list_move(&it[4].lru, &a);                                  /* a: 4231 */
	CHECK("move", digits(&a), 4231);
	list_rotate_left(&a);                                       /* a: 2314 */
	CHECK("rotate_left", digits(&a), 2314);
	list_add(&it[5].lru, &b);
	list_add(&it[6].lru, &b);                                   /* b: 65 */
	CHECK("add (a stack)", digits(&b), 65);
	CHECK("singular", list_is_singular(&b), 0);
	list_splice_tail_init(&b, &a);                              /* a: 231465, b: empty */
	CHECK("splice_tail_init", digits(&a), 231465);
	CHECK("splice_tail_init empties", list_empty(&b), 1);
	list_cut_position(&c, &a, &it[1].lru);                      /* c: 231, a: 465 */
	CHECK("cut_position head", digits(&c), 231);
	CHECK("cut_position rest", digits(&a), 465);
	list_splice(&c, &a);                                        /* a: 231465 (c unchanged, stale) */
	CHECK("splice", digits(&a), 231465);
	INIT_LIST_HEAD(&c);
	list_cut_before(&c, &a, &it[4].lru);                        /* c: 231, a: 465 */
	CHECK("cut_before", digits(&c) * 1000 + digits(&a), 231465);
	list_splice_init(&c, &a);                                   /* a: 231465 */
	list_replace(&it[3].lru, &it[7].lru);                       /* a: 271465 */
	CHECK("replace", digits(&a), 271465);
	list_swap(&it[2].lru, &it[6].lru);                          /* a: 671425 */
	CHECK("swap", digits(&a), 671425);
	list_del_init(&it[7].lru);                                  /* a: 61425 */
	CHECK("del_init", digits(&a) * 10 + list_empty(&it[7].lru), 614251);
	list_bulk_move_tail(&a, &it[6].lru, &it[1].lru);            /* a: 42561 */
	CHECK("bulk_move_tail", digits(&a), 42561);
	CHECK("count_nodes", list_count_nodes(&a), 5);
	pos = &it[5];
	list_for_each_entry_continue(pos, &a, lru)                  /* after 5: 6, 1 */
		bad |= pos->v != 6 && pos->v != 1;
	list_del(&it[6].lru);
	CHECK("del poisons", it[6].lru.next == LIST_POISON1 && it[6].lru.prev == LIST_POISON2, 1);
	CHECK("after del", digits(&a), 4251);
	list_del_init(&it[4].lru);
	list_del_init(&it[2].lru);
	list_del_init(&it[5].lru);
	CHECK("singular again", list_is_singular(&a), 1);
	return bad;
}
"""


def test_list_helpers_behave_as_the_kernels(tmp_path):
    src = tmp_path / "lists.c"
    src.write_text(LIST_PROGRAM)
    exe = tmp_path / "lists"
    subprocess.run(["gcc", "-std=gnu11", "-Wall", "-Werror", f"-I{build.INCLUDE}", str(src), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


TOUR = r"""
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/bug.h>
#include <linux/jiffies.h>
#include <linux/delay.h>
#include <linux/workqueue.h>
#include <linux/spinlock.h>

static int failed;

#define EXPECT(cond) do { if (!(cond)) { pr_err("check failed: %s\n", #cond); failed++; } } while (0)

static struct workqueue_struct *wq;
static struct delayed_work dwork;
static DEFINE_SPINLOCK(lock);

static void tour_work(struct work_struct *work)
{
	pr_info("jiffies %lu\n", jiffies);
	pr_warn_once("once\n");
	queue_delayed_work(wq, to_delayed_work(work), 2 * HZ);
}

static int __init tour_init(void)
{
	struct page *page;
	char buf[8];
	u64 big = 0x100000002ULL;
	void *p;
	int *z;

	EXPECT(min_t(u8, 300, 5) == 5);		/* (u8)300 = 44 */
	EXPECT(max_t(int, -1, 2) == 2);
	EXPECT(clamp(15, 0, 10) == 10 && clamp(-5, 0, 10) == 0);
	EXPECT(clamp_t(unsigned int, 20, 1, 7) == 7);
	EXPECT(min3(4, 2, 9) == 2 && max3(4, 2, 9) == 9);
	EXPECT(DIV_ROUND_UP(7, 2) == 4 && round_up(5, 4) == 8 && round_down(7, 4) == 4);
	EXPECT(upper_32_bits(big) == 1 && lower_32_bits(big) == 2);
	EXPECT(U32_MAX == 0xffffffffU && INT_MAX == 0x7fffffff);
	EXPECT(WARN_ON(0) == 0);
	EXPECT(WARN_ON(1) == 1);			/* prints a warning, goes on */
	EXPECT(WARN(2 > 1, "tour %d\n", 7) == 1);
	EXPECT(kmalloc(0, GFP_KERNEL) == ZERO_SIZE_PTR);
	kfree(ZERO_SIZE_PTR);
	kfree(NULL);
	z = kzalloc(64, GFP_KERNEL);
	EXPECT(z && z[0] == 0 && z[15] == 0);
	kfree(z);
	EXPECT(kmalloc_array(SIZE_MAX / 2, 4, GFP_KERNEL) == NULL);
	EXPECT(strscpy(buf, "truncated", sizeof(buf)) == -E2BIG && strcmp(buf, "truncat") == 0);
	EXPECT(scnprintf(buf, sizeof(buf), "%d", 123456789) == 7);
	EXPECT(msecs_to_jiffies(1000) == HZ);
	msleep(1000);
	EXPECT(jiffies == HZ);
	spin_lock(&lock);
	spin_unlock(&lock);

	page = alloc_pages(GFP_KERNEL, 0);		/* ALLOC */
	EXPECT(page && pfn_to_page(page_to_pfn(page)) == page && page_count(page) == 1);
	get_page(page);
	put_page(page);					/* no FREE: one reference left */
	EXPECT(page_count(page) == 1);
	__free_page(page);				/* FREE */
	p = pfn_to_page(0x1234);
	EXPECT(p == NULL);

	wq = create_freezable_workqueue("tour");
	INIT_DELAYED_WORK(&dwork, tour_work);
	queue_delayed_work(wq, &dwork, HZ);
	return failed ? -EINVAL : 0;
}
late_initcall(tour_init);

static void __exit tour_exit(void)
{
	cancel_delayed_work_sync(&dwork);
	destroy_workqueue(wq);
}
module_exit(tour_exit);
MODULE_LICENSE("GPL");
"""


def run_ok(binary, script):
    r = userspace.run_scenario(binary, script, timeout_s=30)
    assert r.verdict == "ok", (r.verdict, r.stderr_tail)
    return r.events


def printed(events):
    return [e[1] for e in events if e[0] == Kind.PRINTK]


def test_kernel_api_tour(tmp_path):
    src = tmp_path / "tour.c"
    src.write_text(TOUR)
    events = run_ok(build.build_driver(src), "step init\nstep cycle\nstep cycle\nstep cycle\nstep exit\n")
    messages = printed(events)
    assert not [m for m in messages if "check failed" in m], messages
    init = [e for e in events if e[0] == Kind.INIT]
    assert init == [(Kind.INIT, 0, 0, 0, 0, 0, 0)]  # late_initcall ran as module_init
    line = next(i for i, l in enumerate(TOUR.splitlines(), 1) if "WARN_ON(1) == 1" in l)
    assert f"{KERN_WARNING}WARNING: at vmw_balloon.c:{line} tour_init()\n" in messages
    assert f"{KERN_WARNING}tour 7\n" in messages  # WARN's message, then where
    # one page: allocated, a reference taken and dropped, then freed once
    assert [(e[0], e[2]) for e in events if e[0] in (Kind.ALLOC, Kind.FREE)] == [(Kind.ALLOC, 1), (Kind.FREE, 0)]
    # a private freezable workqueue is its own (wq 3); time advances by each run's delay
    assert [e[1:3] for e in events if e[0] == Kind.QUEUE_WORK] == [(250, 3), (500, 3), (500, 3), (500, 3)]
    assert [m for m in messages if "jiffies" in m] == [f"{KERN_INFO}vmw_balloon: jiffies {j}\n"
                                                      for j in (500, 1000, 1500)]
    assert messages.count(f"{KERN_WARNING}vmw_balloon: once\n") == 1
    assert events[-2][0] == Kind.EXIT


def test_destroying_a_workqueue_with_work_pending_is_a_bug(tmp_path):
    src = tmp_path / "tour.c"
    src.write_text(TOUR.replace("\tcancel_delayed_work_sync(&dwork);\n\tdestroy_workqueue(wq);",
                                "\tdestroy_workqueue(wq);\n\tcancel_delayed_work_sync(&dwork);"))
    r = userspace.run_scenario(build.build_driver(src), "step init\nstep exit\n", timeout_s=30)
    assert r.verdict == "abort"
    assert any("destroy_workqueue(tour) with a delayed work item pending" in m for m in printed(r.events))


def seed_edit(tmp_path, name, *edits):
    text = SEED_DRIVER.read_text()
    for find, replace in edits:
        assert text.count(find) == 1, find
        text = text.replace(find, replace)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bug_on_kills_the_task(tmp_path):
    src = seed_edit(tmp_path, "bug.c", ("\tSTATS_INC(b->stats.timer);\n",
                                        "\tSTATS_INC(b->stats.timer);\n\tBUG_ON(b->rate_alloc);\n"))
    r = userspace.run_scenario(build.build_driver(src), "step init\nstep cycle\n", timeout_s=30)
    assert r.verdict == "abort"
    line = next(i for i, l in enumerate(src.read_text().splitlines(), 1) if "BUG_ON(" in l)
    assert printed(r.events)[-1] == f"{KERN_CRIT}kernel BUG at vmw_balloon.c:{line}!\n"


@pytest.mark.parametrize("hypervisor,rc", [("vmware", 0), ("none", 2**64 - 19)])
def test_the_2_6_34_api_forms(tmp_path, hypervisor, rc):
    """Linux 2.6.34's driver: <asm/vmware.h> with vmware_platform(), a private
    workqueue created with the old spelling, and late_initcall."""
    src = seed_edit(
        tmp_path, "old.c",
        ("#include <asm/hypervisor.h>\n", "#include <asm/vmware.h>\n"),
        ("\tif (x86_hyper != &x86_hyper_vmware)\n\t\treturn -ENODEV;\n",
         "\tif (!vmware_platform())\n\t\treturn -ENODEV;\n\n"
         "\twq = create_freezeable_workqueue(\"vmmemctl\");\n"),
        ("static struct vmballoon balloon;\n", "static struct vmballoon balloon;\nstatic struct workqueue_struct *wq;\n"),
        ("\tqueue_delayed_work(system_freezable_wq,\n\t\t\t   dwork, round_jiffies_relative(HZ));",
         "\tqueue_delayed_work(wq, dwork, round_jiffies_relative(HZ));"),
        ("\tqueue_delayed_work(system_freezable_wq, &balloon.dwork, 0);",
         "\tqueue_delayed_work(wq, &balloon.dwork, 0);"),
        ("module_init(vmballoon_init);", "late_initcall(vmballoon_init);"),
    )
    events = run_ok(build.build_driver(src), f"hypervisor {hypervisor}\ntarget 3\nstep init\nstep cycle\n")
    assert [e for e in events if e[0] == Kind.INIT] == [(Kind.INIT, rc, 0, 0, 0, 0, 0)]
    if rc == 0:
        assert [e[1:3] for e in events if e[0] == Kind.QUEUE_WORK] == [(0, 3), (250, 3)]
        assert sum(1 for e in events if e[0] == Kind.ALLOC) == 3
