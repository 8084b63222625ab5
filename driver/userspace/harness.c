/*
 * balloonspec userspace harness: runs one scenario script against the driver
 * linked into this executable and writes the observed trace.
 *
 *   harness SCRIPT TRACE_OUT TEXT_OUT
 *
 * BALLOONSPEC_BENCH=floor|trace prints the backdoor call rate of the steps on
 * stderr; "floor" answers the backdoor with an empty host and records nothing.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "trace.h"

struct bs_env bs_env;

void bs_fatal(const char *msg)
{
	bs_trace_flush();
	fprintf(stderr, "balloonspec-error: %s\n", msg);
	exit(2);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n;

	if (!f)
		return NULL;
	*len = 0;
	do {
		if (*len == cap) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				bs_fatal("out of memory reading the script");
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
	} while (n);
	fclose(f);
	return buf;
}

static int open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		bs_fatal("cannot create an output file");
	return fd;
}

static void run_step(size_t index)
{
	const struct bs_step *s = &bs_env.steps[index];

	bs_env_begin_step(&bs_env, index);
	bs_emit(BS_EV_STEP, index, s->kind, s->arg, 0, 0, 0);
	switch (s->kind) {
	case BS_STEP_INIT:
		bs_module_load();
		break;
	case BS_STEP_CYCLE:
		bs_run_queued_work();
		break;
	case BS_STEP_DEBUGFS:
		bs_read_debugfs();
		break;
	case BS_STEP_EXIT:
		bs_module_unload();
		break;
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	const char *bench = getenv("BALLOONSPEC_BENCH");
	size_t len, err_line, i;
	double start;
	char *text;

	/* First, so that this handler, not a sanitizer's, sees the backdoor. */
	bs_signals_install();
	if (argc != 4) {
		fprintf(stderr, "usage: %s SCRIPT TRACE_OUT TEXT_OUT\n", argv[0]);
		return 2;
	}
	text = read_file(argv[1], &len);
	if (!text)
		bs_fatal("cannot read the script");
	if (bs_env_parse(&bs_env, text, len, &err_line)) {
		fprintf(stderr, "balloonspec-error: script line %zu is malformed\n",
			err_line);
		return 2;
	}
	free(text);
	bs_trace_open(open_out(argv[2]), open_out(argv[3]));
	bs_tracing = !(bench && strcmp(bench, "floor") == 0);
	bs_pool_init();
	bs_kapi_init();

	start = now();
	for (i = 0; i < bs_env.n_steps; i++)
		run_step(i);
	if (bench) {
		double secs = now() - start;

		fprintf(stderr, "balloonspec-bench: mode=%s calls=%llu seconds=%.6f calls_per_s=%.0f\n",
			bs_tracing ? "trace" : "floor",
			(unsigned long long)bs_backdoor_calls, secs,
			bs_backdoor_calls / (secs > 0 ? secs : 1e-9));
	}
	bs_tracing = true;	/* even the floor bench ends with ACCOUNT */
	bs_pool_account();
	bs_trace_flush();
	bs_env_free(&bs_env);
	return 0;
}
