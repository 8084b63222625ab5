/* SPDX-License-Identifier: GPL-2.0 */
/*
 * balloonspec_host: what its two files share.  balloonspec_host.c is the
 * host (backdoor probes, scenario control, the trace in shared memory);
 * host_env.c is the rest of the driver's environment (page allocator,
 * si_meminfo, debugfs, workqueue, printk, cond_resched), answered from the
 * same scenario engine (script.c).
 */
#ifndef BS_HOST_H
#define BS_HOST_H

#include <linux/module.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "script.h"

/* Event kinds: specs/trace.md, then this backend's own (>= 0x100). */
enum {
	EV_BACKDOOR = 1, EV_ALLOC = 2, EV_FREE = 3, EV_COND_RESCHED = 4,
	EV_QUEUE_WORK = 5, EV_CANCEL_WORK = 6, EV_SI_MEMINFO = 7,
	EV_DEBUGFS_CREATE = 8, EV_DEBUGFS_READ = 9, EV_DEBUGFS_REMOVE = 10,
	EV_INIT = 11, EV_EXIT = 12, EV_PRINTK = 13, EV_WORK_RUN = 14,
	EV_STEP = 15, EV_ACCOUNT = 16,
	EV_SCENARIO = 0x100,	/* id, parse error, error line, totalram */
	EV_NOTE = 0x101,	/* text (bsload results) */
	EV_SITE = 0x102,	/* backdoor site offset in the driver's text */
	EV_END = 0x103,		/* backdoor calls in the scenario */
	EV_COMING = 0x104,	/* the driver reached MODULE_STATE_COMING */
	EV_ENV_FAIL = 0x105,	/* the next ALLOC failed unscripted: free
				 * pages, 1 = the low-memory guard, 0 = the
				 * kernel's allocator returned NULL */
	EV_NO_PROBE = 0x106,	/* an interception could not be set up:
				 * the function's name (text), errno */
};

/* Guards the scenario engine (bs_env) and the environment's state. */
extern spinlock_t bs_lock;
extern struct bs_env bs_env;

void bs_record(u64 kind, u64 a, u64 b, u64 c, u64 d, u64 e, u64 f);
/* Text into the shared text area: the field value offset << 32 | length. */
u64 bs_text(const char *s, size_t len);

/* host_env.c */
int bs_env_init(void);			/* interceptions, page table */
void bs_env_exit(void);
void bs_env_attach(struct module *mod);	/* MODULE_STATE_COMING */
void bs_env_detach(void);		/* MODULE_STATE_GOING */
void bs_env_scenario_start(void);	/* pages and work of a new scenario */
void bs_env_account(void);		/* the ACCOUNT record */
void bs_env_run_cycle(void);		/* step cycle: run the queued work */
/* The host replied status to cmd with argument arg (bs_lock held). */
void bs_env_host_reply(u32 cmd, u32 arg, u32 status);
/* Driver entry frames: a tail call from them still comes from the driver. */
enum { FRAME_INIT, FRAME_EXIT, FRAME_WORK, NR_FRAMES };
void bs_env_enter(int frame, unsigned long sp, bool any_ret);
void bs_env_leave(int frame);

#endif
