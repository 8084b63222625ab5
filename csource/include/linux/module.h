/* Module macros; module_init/module_exit name the entry points the interpreter calls. */
#ifndef _BSA_LINUX_MODULE_H
#define _BSA_LINUX_MODULE_H

#include <linux/types.h>

struct module;

#define THIS_MODULE ((struct module *)0)

#define __BS_MODINFO extern int __bs_modinfo
#define MODULE_AUTHOR(x) __BS_MODINFO
#define MODULE_DESCRIPTION(x) __BS_MODINFO
#define MODULE_VERSION(x) __BS_MODINFO
#define MODULE_ALIAS(x) __BS_MODINFO
#define MODULE_LICENSE(x) __BS_MODINFO
#define MODULE_INFO(tag, info) __BS_MODINFO

#define module_init(fn) int (*const __bs_module_init)(void) = fn
#define module_exit(fn) void (*const __bs_module_exit)(void) = fn

#endif
