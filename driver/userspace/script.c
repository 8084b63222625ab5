/*
 * Scenario script parser and rule engine (specs/trace.md section 1).
 */
#include "script.h"

#ifdef __KERNEL__
#include <linux/slab.h>
#include <linux/string.h>
#define bs_calloc(n, size) kvcalloc(n, size, GFP_KERNEL)
#define bs_free(p) kvfree(p)
#else
#include <stdlib.h>
#include <string.h>
#define bs_calloc(n, size) calloc(n, size)
#define bs_free(p) free(p)
#endif

#define BS_MAX_FIELDS 12

struct bs_line {
	const char *field[BS_MAX_FIELDS];
	size_t len[BS_MAX_FIELDS];
	size_t n;
};

static bool word_is(const struct bs_line *l, size_t i, const char *word)
{
	size_t n = strlen(word);

	return i < l->n && l->len[i] == n && memcmp(l->field[i], word, n) == 0;
}

/* Split a line at spaces and tabs; false if it has too many fields. */
static bool split(const char *p, const char *end, struct bs_line *l)
{
	l->n = 0;
	while (p < end) {
		const char *start;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p == end)
			break;
		if (l->n == BS_MAX_FIELDS)
			return false;
		start = p;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
		l->field[l->n] = start;
		l->len[l->n++] = p - start;
	}
	return true;
}

static bool parse_u64(const struct bs_line *l, size_t i, uint64_t *out)
{
	uint64_t v = 0;
	size_t k;

	if (i >= l->n || l->len[i] == 0)
		return false;
	for (k = 0; k < l->len[i]; k++) {
		unsigned int d = (unsigned char)l->field[i][k] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* A rule scope: a step index or -1. */
static bool parse_scope(const struct bs_line *l, size_t i, int64_t *out)
{
	uint64_t v;

	if (word_is(l, i, "-1")) {
		*out = -1;
		return true;
	}
	if (!parse_u64(l, i, &v) || v > INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

static bool parse_sysinfo(const struct bs_line *l, struct bs_sysinfo *si)
{
	uint64_t *f[] = { &si->uptime, &si->totalram, &si->freeram,
			  &si->sharedram, &si->bufferram, &si->totalswap,
			  &si->freeswap, &si->procs, &si->totalhigh,
			  &si->freehigh, &si->mem_unit };
	size_t i;

	if (l->n != 12)
		return false;
	for (i = 0; i < 11; i++)
		if (!parse_u64(l, i + 1, f[i]))
			return false;
	return true;
}

/* host_rule CMD SCOPE NTH COUNT STATUS RESULT */
static bool parse_host_rule(const struct bs_line *l, struct bs_rule *r)
{
	if (l->n != 7 || !parse_u64(l, 1, &r->key) ||
	    !parse_scope(l, 2, &r->scope) || !parse_u64(l, 3, &r->nth) ||
	    !parse_u64(l, 4, &r->count) || !parse_u64(l, 5, &r->outcome))
		return false;
	r->default_value = word_is(l, 6, "-");
	return r->default_value || parse_u64(l, 6, &r->value);
}

/* alloc_rule GFP SCOPE NTH COUNT fail|pfn VALUE */
static bool parse_alloc_rule(const struct bs_line *l, struct bs_rule *r)
{
	if (l->n != 7 || !parse_u64(l, 1, &r->key) ||
	    !parse_scope(l, 2, &r->scope) || !parse_u64(l, 3, &r->nth) ||
	    !parse_u64(l, 4, &r->count) || !parse_u64(l, 6, &r->value))
		return false;
	if (word_is(l, 5, "fail"))
		r->outcome = BS_ALLOC_FAIL;
	else if (word_is(l, 5, "pfn"))
		r->outcome = BS_ALLOC_PFN;
	else
		return false;
	return true;
}

static bool parse_step(const struct bs_line *l, struct bs_step *s)
{
	static const char *const kinds[] = {
		[BS_STEP_INIT] = "init", [BS_STEP_CYCLE] = "cycle",
		[BS_STEP_DEBUGFS] = "debugfs", [BS_STEP_EXIT] = "exit",
		[BS_STEP_SET_TARGET] = "set_target",
		[BS_STEP_HOST_RESET] = "host_reset",
		[BS_STEP_SET_TOTALRAM] = "set_totalram",
	};
	uint32_t k;

	for (k = BS_STEP_INIT; k <= BS_STEP_SET_TOTALRAM; k++) {
		if (!word_is(l, 1, kinds[k]))
			continue;
		s->kind = k;
		s->arg = 0;
		if (k == BS_STEP_SET_TARGET || k == BS_STEP_SET_TOTALRAM)
			return l->n == 3 && parse_u64(l, 2, &s->arg);
		return l->n == 2;
	}
	return false;
}

/* Environment directives; false if the line is not a well-formed one. */
static bool parse_env(const struct bs_line *l, struct bs_env *env)
{
	if (word_is(l, 0, "sysinfo"))
		return parse_sysinfo(l, &env->si);
	if (word_is(l, 0, "hypervisor") && l->n == 2) {
		env->hypervisor_vmware = word_is(l, 1, "vmware");
		return env->hypervisor_vmware || word_is(l, 1, "none");
	}
	if (word_is(l, 0, "debugfs_error"))
		return l->n == 2 && parse_u64(l, 1, &env->debugfs_error);
	if (word_is(l, 0, "pfn_base"))
		return l->n == 2 && parse_u64(l, 1, &env->pfn_base);
	if (word_is(l, 0, "target"))
		return l->n == 2 && parse_u64(l, 1, &env->target);
	return false;
}

static size_t count_lines_starting(const char *text, size_t len,
				   const char *word)
{
	size_t n = strlen(word), count = 0, i = 0;

	while (i < len) {
		if (len - i > n && memcmp(text + i, word, n) == 0 &&
		    (text[i + n] == ' ' || text[i + n] == '\t'))
			count++;
		while (i < len && text[i] != '\n')
			i++;
		i++;
	}
	return count;
}

/* Defaults match model/scenario.py, for scripts that leave a directive out. */
static void set_defaults(struct bs_env *env)
{
	static const struct bs_sysinfo si = {
		.uptime = 12345, .totalram = 262144, .freeram = 200003,
		.sharedram = 1111, .bufferram = 2222, .totalswap = 3333,
		.freeswap = 4444, .procs = 55, .totalhigh = 6666,
		.freehigh = 7777, .mem_unit = 4096,
	};

	memset(env, 0, sizeof(*env));
	env->si = si;
	env->hypervisor_vmware = true;
	env->pfn_base = 0x10000;
	env->step = -1;
}

static int parse_lines(struct bs_env *env, const char *text, size_t len,
		       size_t *err_line)
{
	const char *p = text, *end = text + len;
	struct bs_line l;

	for (*err_line = 1; p < end; (*err_line)++) {
		const char *eol = memchr(p, '\n', end - p);
		bool ok;

		if (!eol)
			eol = end;
		ok = split(p, eol, &l);
		p = eol + 1;
		if (ok && (l.n == 0 || l.field[0][0] == '#'))
			continue;
		if (!ok)
			return -1;
		if (word_is(&l, 0, "step"))
			ok = parse_step(&l, &env->steps[env->n_steps++]);
		else if (env->n_steps)	/* environment comes before steps */
			ok = false;
		else if (word_is(&l, 0, "host_rule"))
			ok = parse_host_rule(&l, &env->host_rules[env->n_host_rules++]);
		else if (word_is(&l, 0, "alloc_rule"))
			ok = parse_alloc_rule(&l, &env->alloc_rules[env->n_alloc_rules++]);
		else
			ok = parse_env(&l, env);
		if (!ok)
			return -1;
	}
	*err_line = 0;
	return 0;
}

int bs_env_parse(struct bs_env *env, const char *text, size_t len,
		 size_t *err_line)
{
	/* +1: calloc(0) may return NULL */
	size_t n_steps = count_lines_starting(text, len, "step") + 1;
	size_t n_host = count_lines_starting(text, len, "host_rule") + 1;
	size_t n_alloc = count_lines_starting(text, len, "alloc_rule") + 1;

	set_defaults(env);
	env->steps = bs_calloc(n_steps, sizeof(*env->steps));
	env->host_rules = bs_calloc(n_host, sizeof(*env->host_rules));
	env->alloc_rules = bs_calloc(n_alloc, sizeof(*env->alloc_rules));
	if (!env->steps || !env->host_rules || !env->alloc_rules) {
		*err_line = 0;
		bs_env_free(env);
		return -1;
	}
	if (parse_lines(env, text, len, err_line)) {
		bs_env_free(env);
		return -1;
	}
	return 0;
}

void bs_env_free(struct bs_env *env)
{
	bs_free(env->steps);
	bs_free(env->host_rules);
	bs_free(env->alloc_rules);
	env->steps = NULL;
	env->host_rules = NULL;
	env->alloc_rules = NULL;
}

void bs_env_begin_step(struct bs_env *env, size_t index)
{
	const struct bs_step *s = &env->steps[index];

	env->step = (int64_t)index;
	switch (s->kind) {
	case BS_STEP_SET_TARGET:
		env->target = s->arg;
		break;
	case BS_STEP_HOST_RESET:
		env->reset_pending = true;
		break;
	case BS_STEP_SET_TOTALRAM:
		env->si.totalram = s->arg;
		break;
	}
}

/*
 * Count the call against every rule for `key` in scope, then return the
 * first rule (in file order) whose NTH..NTH+COUNT-1 window holds it.
 */
static struct bs_rule *match(struct bs_rule *rules, size_t n, int64_t step,
			     uint64_t key, bool any_key_zero)
{
	struct bs_rule *hit = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		struct bs_rule *r = &rules[i];

		if (r->key != key && !(any_key_zero && r->key == 0))
			continue;
		if (r->scope != -1 && r->scope != step)
			continue;
		r->seen++;
		if (!hit && r->seen >= r->nth && r->seen - r->nth < r->count)
			hit = r;
	}
	return hit;
}

/* RESULT "-" of a host rule. */
static uint64_t default_result(const struct bs_env *env, uint64_t cmd)
{
	return cmd == BS_CMD_GET_TARGET ? env->target : 0;
}

static void default_reply(const struct bs_env *env, uint64_t cmd,
			  struct bs_reply *reply)
{
	reply->result = 0;
	if (cmd == BS_CMD_START) {
		reply->status = BS_SUCCESS;
	} else if (env->reset_pending) {
		reply->status = BS_ERROR_RESET;
	} else if (cmd <= BS_CMD_GUEST_ID) {
		reply->status = BS_SUCCESS;
		reply->result = default_result(env, cmd);
	} else {
		reply->status = BS_ERROR_CMD_INVALID;
	}
}

void bs_host_call(struct bs_env *env, uint64_t cmd, struct bs_reply *reply)
{
	const struct bs_rule *r;

	r = match(env->host_rules, env->n_host_rules, env->step, cmd, false);
	if (r) {
		reply->status = r->outcome;
		reply->result = r->default_value ? default_result(env, cmd) : r->value;
	} else {
		default_reply(env, cmd, reply);
	}
	/* eax and ebx are 32-bit registers */
	reply->status &= BS_REGISTER_MASK;
	reply->result &= BS_REGISTER_MASK;

	if (reply->status == BS_ERROR_RESET)
		env->reset_pending = true;
	else if (cmd == BS_CMD_START && reply->status == BS_SUCCESS)
		env->reset_pending = false;
}

enum bs_alloc_outcome bs_alloc_decide(struct bs_env *env, uint64_t gfp,
				      uint64_t *pfn)
{
	const struct bs_rule *r;

	r = match(env->alloc_rules, env->n_alloc_rules, env->step, gfp, true);
	if (r) {
		*pfn = r->value;
		return (enum bs_alloc_outcome)r->outcome;
	}
	*pfn = env->pfn_base + env->next_sequential++;
	return BS_ALLOC_SEQUENTIAL;
}
