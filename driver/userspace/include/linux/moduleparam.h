/* Module parameters keep their initial value: the harness loads with none. */
#ifndef _BS_LINUX_MODULEPARAM_H
#define _BS_LINUX_MODULEPARAM_H

#define __BS_PARAM extern int bs_modparam_unused
#define module_param(name, type, perm) __BS_PARAM
#define module_param_named(name, value, type, perm) __BS_PARAM
#define module_param_array(name, type, nump, perm) __BS_PARAM
#define MODULE_PARM_DESC(name, desc) __BS_PARAM

#endif
