/* Kernel base types, x86-64 (LP64); bool, true and false as in linux/stddef.h. */
#ifndef _BSA_LINUX_TYPES_H
#define _BSA_LINUX_TYPES_H

#include <linux/compiler.h>

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef s32 __s32;
typedef s64 __s64;
typedef long __kernel_long_t;
typedef unsigned long __kernel_ulong_t;
typedef unsigned long size_t;
typedef long ssize_t;
typedef long long loff_t;
typedef unsigned int gfp_t;
typedef unsigned short umode_t;
typedef _Bool bool;

enum {
	false = 0,
	true = 1
};

#define NULL ((void *)0)

/* Manipulated only through the list helpers of linux/list.h. */
struct list_head {
	struct list_head *next, *prev;
};

#endif
