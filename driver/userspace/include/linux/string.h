/* The C library's string functions, plus the kernel-only ones drivers use. */
#ifndef _BS_LINUX_STRING_H
#define _BS_LINUX_STRING_H

#include <string.h>
#include <linux/types.h>

ssize_t strscpy(char *dest, const char *src, size_t count);
size_t strlcpy(char *dest, const char *src, size_t size);
#define memzero_explicit(s, n) ((void)memset(s, 0, n), barrier())

#endif
