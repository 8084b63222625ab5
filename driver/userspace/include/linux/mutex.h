/* Mutexes on one thread: taking one the driver already holds is a BUG. */
#ifndef _BS_LINUX_MUTEX_H
#define _BS_LINUX_MUTEX_H

#include <linux/types.h>
#include <linux/bug.h>

struct mutex {
	int locked;
};

#define __MUTEX_INITIALIZER(name) { 0 }
#define DEFINE_MUTEX(name) struct mutex name = __MUTEX_INITIALIZER(name)
#define mutex_init(m) ((m)->locked = 0)
#define mutex_lock(m) do { BUG_ON((m)->locked); (m)->locked = 1; } while (0)
#define mutex_lock_interruptible(m) (mutex_lock(m), 0)
#define mutex_trylock(m) ((m)->locked ? 0 : ((m)->locked = 1))
#define mutex_unlock(m) do { (m)->locked = 0; } while (0)
#define mutex_is_locked(m) ((m)->locked)
#define mutex_destroy(m) do { } while (0)

#endif
