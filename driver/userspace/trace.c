/* Trace and text buffers, written with write(2) only. */
#include "trace.h"

#include <string.h>
#include <unistd.h>

#define BS_TEXT_BUF 65536

bool bs_tracing = true;
uint64_t bs_trace_buf[BS_TRACE_BUF_RECORDS * BS_TRACE_FIELDS];
size_t bs_trace_used;

static int trace_fd = -1, text_fd = -1;
static char text_buf[BS_TEXT_BUF];
static size_t text_used;
static uint64_t text_offset;	/* bytes of text produced so far */

void bs_trace_open(int tfd, int xfd)
{
	trace_fd = tfd;
	text_fd = xfd;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return;	/* nothing better to do, possibly inside a crash */
		p += n;
		len -= n;
	}
}

static void flush_text(void)
{
	write_all(text_fd, text_buf, text_used);
	text_used = 0;
}

void bs_trace_flush(void)
{
	/* Clear the counts first: a signal arriving mid-flush must not repeat records. */
	size_t n = bs_trace_used;

	bs_trace_used = 0;
	write_all(trace_fd, bs_trace_buf, n * sizeof(uint64_t));
	flush_text();
}

uint64_t bs_text(const char *s, size_t len)
{
	uint64_t ref = text_offset << 32 | (uint32_t)len;

	if (!bs_tracing)
		return 0;
	text_offset += len;
	if (text_used + len > BS_TEXT_BUF)
		flush_text();
	if (len > BS_TEXT_BUF) {
		write_all(text_fd, s, len);
		return ref;
	}
	memcpy(text_buf + text_used, s, len);
	text_used += len;
	return ref;
}
