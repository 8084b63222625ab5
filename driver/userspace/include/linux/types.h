/* Kernel base types for the userspace build of the driver. */
#ifndef _BS_LINUX_TYPES_H
#define _BS_LINUX_TYPES_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/compiler.h>

typedef __UINT8_TYPE__ u8;
typedef __UINT16_TYPE__ u16;
typedef __UINT32_TYPE__ u32;
typedef __UINT64_TYPE__ u64;
typedef __INT8_TYPE__ s8;
typedef __INT16_TYPE__ s16;
typedef __INT32_TYPE__ s32;
typedef __INT64_TYPE__ s64;
typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef s8 __s8;
typedef s16 __s16;
typedef s32 __s32;
typedef s64 __s64;
typedef u16 __le16;
typedef u32 __le32;
typedef u64 __le64;
typedef u16 __be16;
typedef u32 __be32;
typedef u64 __be64;
typedef long __kernel_long_t;
typedef unsigned long __kernel_ulong_t;

/* Same underlying types as glibc's, so harness files may include both. */
typedef long ssize_t;
typedef __INT64_TYPE__ loff_t;
typedef unsigned int gfp_t;
typedef unsigned short umode_t;
typedef u64 phys_addr_t;
typedef u64 dma_addr_t;
typedef unsigned long pgoff_t;

typedef struct {
	int counter;
} atomic_t;

typedef struct {
	s64 counter;
} atomic64_t;

struct list_head {
	struct list_head *next, *prev;
};

#endif
