/* Error values encoded in pointers (implemented by the interpreter). */
#ifndef _BSA_LINUX_ERR_H
#define _BSA_LINUX_ERR_H

#include <linux/types.h>

#define MAX_ERRNO	4095

void *ERR_PTR(long error);
long PTR_ERR(const void *ptr);
bool IS_ERR(const void *ptr);
bool IS_ERR_OR_NULL(const void *ptr);

#endif
