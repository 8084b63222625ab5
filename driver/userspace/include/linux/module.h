/* Module macros; module_init/module_exit (linux/init.h) hand the functions to
 * the harness. */
#ifndef _BS_LINUX_MODULE_H
#define _BS_LINUX_MODULE_H

#include <linux/types.h>
#include <linux/init.h>
#include <linux/moduleparam.h>
#include <linux/export.h>

struct module;

#define THIS_MODULE ((struct module *)0)

/* A repeatable declaration, so that "MODULE_X(...);" is valid C at file scope. */
#define __BS_MODINFO extern int bs_modinfo_unused
#define MODULE_AUTHOR(x) __BS_MODINFO
#define MODULE_DESCRIPTION(x) __BS_MODINFO
#define MODULE_VERSION(x) __BS_MODINFO
#define MODULE_ALIAS(x) __BS_MODINFO
#define MODULE_LICENSE(x) __BS_MODINFO
#define MODULE_INFO(tag, info) __BS_MODINFO
#define MODULE_FIRMWARE(x) __BS_MODINFO
#define MODULE_SOFTDEP(x) __BS_MODINFO
#define MODULE_DEVICE_TABLE(type, name) __BS_MODINFO

#endif
