/* Section annotations and initcalls. Built as a module, every initcall level
 * is module_init (include/linux/module.h under MODULE), so late_initcall and
 * device_initcall run when the module loads. */
#ifndef _BS_LINUX_INIT_H
#define _BS_LINUX_INIT_H

#define __init
#define __exit
#define __initdata
#define __exitdata
#define __initconst
#define __refdata
#define __ref
#define __exit_p(x) x
/* Gone since Linux 3.8, used by older drivers. */
#define __devinit
#define __devexit
#define __devinitdata
#define __devexit_p(x) x

/* Definitions with these exact types, so a wrong signature does not compile. */
#define module_init(fn) int (*const bs_module_init)(void) = fn
#define module_exit(fn) void (*const bs_module_exit)(void) = fn

#define early_initcall(fn) module_init(fn)
#define core_initcall(fn) module_init(fn)
#define postcore_initcall(fn) module_init(fn)
#define arch_initcall(fn) module_init(fn)
#define subsys_initcall(fn) module_init(fn)
#define fs_initcall(fn) module_init(fn)
#define device_initcall(fn) module_init(fn)
#define late_initcall(fn) module_init(fn)
#define late_initcall_sync(fn) module_init(fn)
#define __initcall(fn) device_initcall(fn)
#define __exitcall(fn) module_exit(fn)

#endif
