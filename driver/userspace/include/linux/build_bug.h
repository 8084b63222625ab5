#include <linux/bug.h>
