/*
 * Trace writer: records of 7 little-endian u64 (kind, f1..f6), buffered and
 * written with write(2) so that a crash handler can flush them too.
 */
#ifndef BS_TRACE_H
#define BS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bs_event {
	BS_EV_BACKDOOR = 1,
	BS_EV_ALLOC = 2,
	BS_EV_FREE = 3,
	BS_EV_COND_RESCHED = 4,
	BS_EV_QUEUE_WORK = 5,
	BS_EV_CANCEL_WORK = 6,
	BS_EV_SI_MEMINFO = 7,
	BS_EV_DEBUGFS_CREATE = 8,
	BS_EV_DEBUGFS_READ = 9,
	BS_EV_DEBUGFS_REMOVE = 10,
	BS_EV_INIT = 11,
	BS_EV_EXIT = 12,
	BS_EV_PRINTK = 13,
	BS_EV_WORK_RUN = 14,
	BS_EV_STEP = 15,
	BS_EV_ACCOUNT = 16,
};

#define BS_TRACE_FIELDS 7
#define BS_TRACE_BUF_RECORDS 16384

/* false in the "floor" bench mode: nothing is recorded. */
extern bool bs_tracing;
extern uint64_t bs_trace_buf[BS_TRACE_BUF_RECORDS * BS_TRACE_FIELDS];
extern size_t bs_trace_used;

void bs_trace_open(int trace_fd, int text_fd);
/* Write out what is buffered; async-signal-safe. */
void bs_trace_flush(void);
/* Append text to the text blob; returns the field value (offset << 32 | length). */
uint64_t bs_text(const char *s, size_t len);

static inline void bs_emit(uint64_t kind, uint64_t f1, uint64_t f2,
			   uint64_t f3, uint64_t f4, uint64_t f5, uint64_t f6)
{
	uint64_t *r;

	if (!bs_tracing)
		return;
	if (bs_trace_used == BS_TRACE_BUF_RECORDS * BS_TRACE_FIELDS)
		bs_trace_flush();
	r = bs_trace_buf + bs_trace_used;
	r[0] = kind;
	r[1] = f1;
	r[2] = f2;
	r[3] = f3;
	r[4] = f4;
	r[5] = f5;
	r[6] = f6;
	bs_trace_used += BS_TRACE_FIELDS;
}

#endif
