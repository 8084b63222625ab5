#ifndef _BSA_LINUX_INIT_H
#define _BSA_LINUX_INIT_H

#include <linux/compiler.h>

#endif
