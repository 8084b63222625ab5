/* Module macros; module_init/module_exit hand the functions to the harness. */
#ifndef _BS_LINUX_MODULE_H
#define _BS_LINUX_MODULE_H

#include <linux/types.h>

struct module;

#define THIS_MODULE ((struct module *)0)
#define __init
#define __exit

/* A repeatable declaration, so that "MODULE_X(...);" is valid C at file scope. */
#define __BS_MODINFO extern int bs_modinfo_unused
#define MODULE_AUTHOR(x) __BS_MODINFO
#define MODULE_DESCRIPTION(x) __BS_MODINFO
#define MODULE_VERSION(x) __BS_MODINFO
#define MODULE_ALIAS(x) __BS_MODINFO
#define MODULE_LICENSE(x) __BS_MODINFO

/* Definitions with these exact types, so a wrong signature does not compile. */
#define module_init(fn) int (*const bs_module_init)(void) = fn
#define module_exit(fn) void (*const bs_module_exit)(void) = fn

#endif
