/* __stringify lives in compiler.h here. */
#include <linux/compiler.h>
