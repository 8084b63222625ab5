/*
 * The scenario script of specs/trace.md and the environment it describes:
 * the host's replies and the allocator's outcomes. Plain C with no stdio, so
 * the in-kernel backend can compile the same file (__KERNEL__).
 */
#ifndef BS_SCRIPT_H
#define BS_SCRIPT_H

#ifdef __KERNEL__
#include <linux/limits.h>
#include <linux/types.h>
#define UINT64_MAX U64_MAX
#define INT64_MAX S64_MAX
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#endif

#define BS_HV_MAGIC		0x456c6d6fu
#define BS_HV_PORT		0x5670u
#define BS_REGISTER_MASK	0xffffffffu

enum bs_cmd {
	BS_CMD_START = 0,
	BS_CMD_GET_TARGET = 1,
	BS_CMD_LOCK = 2,
	BS_CMD_UNLOCK = 3,
	BS_CMD_GUEST_ID = 4,
};

enum bs_status {
	BS_SUCCESS = 0,
	BS_ERROR_CMD_INVALID = 1,
	BS_ERROR_RESET = 7,
};

/* Numbered as the STEP event reports them. */
enum bs_step_kind {
	BS_STEP_INIT = 1,
	BS_STEP_CYCLE = 2,
	BS_STEP_DEBUGFS = 3,
	BS_STEP_EXIT = 4,
	BS_STEP_SET_TARGET = 5,
	BS_STEP_HOST_RESET = 6,
	BS_STEP_SET_TOTALRAM = 7,
};

enum bs_alloc_outcome {
	BS_ALLOC_SEQUENTIAL,	/* succeeds with the next sequential PFN */
	BS_ALLOC_FAIL,		/* returns NULL */
	BS_ALLOC_PFN,		/* succeeds with the rule's PFN */
};

struct bs_step {
	uint32_t kind;
	uint64_t arg;
};

/* A host_rule (key = CMD) or an alloc_rule (key = GFP, 0 = any). */
struct bs_rule {
	uint64_t key;
	int64_t scope;		/* step index, -1 = whole run */
	uint64_t nth, count;
	uint64_t outcome;	/* host: STATUS; alloc: enum bs_alloc_outcome */
	uint64_t value;		/* host: RESULT; alloc: PFN */
	bool default_value;	/* host RESULT "-" */
	uint64_t seen;		/* matching calls so far within the scope */
};

struct bs_sysinfo {
	uint64_t uptime, totalram, freeram, sharedram, bufferram;
	uint64_t totalswap, freeswap, procs, totalhigh, freehigh, mem_unit;
};

/* The parsed script plus the environment's state as the run goes. */
struct bs_env {
	struct bs_sysinfo si;
	bool hypervisor_vmware;
	uint64_t debugfs_error;
	uint64_t pfn_base;
	uint64_t target;

	struct bs_rule *host_rules, *alloc_rules;
	size_t n_host_rules, n_alloc_rules;
	struct bs_step *steps;
	size_t n_steps;

	int64_t step;		/* index of the running step */
	bool reset_pending;
	uint64_t next_sequential;	/* sequential PFNs handed out */
};

struct bs_reply {
	uint64_t status;
	uint64_t result;
};

/* 0 on success; otherwise -1 with *err_line the 1-based offending line. */
int bs_env_parse(struct bs_env *env, const char *text, size_t len,
		 size_t *err_line);
void bs_env_free(struct bs_env *env);

/* Enter step `index`, applying its effect on the environment if it has one. */
void bs_env_begin_step(struct bs_env *env, size_t index);

/* The host's answer (32-bit status and result) to a call with the right magic and port. */
void bs_host_call(struct bs_env *env, uint64_t cmd, struct bs_reply *reply);

/* The allocator's decision for alloc_page(gfp); *pfn is set on success. */
enum bs_alloc_outcome bs_alloc_decide(struct bs_env *env, uint64_t gfp,
				      uint64_t *pfn);

#endif
