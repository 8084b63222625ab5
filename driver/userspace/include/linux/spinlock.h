/*
 * Spinlocks. The harness runs the driver on one thread, so a lock is always
 * free when taken, except when the driver takes one it already holds: that
 * deadlocks a kernel, and here it is a BUG (verdict "abort").
 */
#ifndef _BS_LINUX_SPINLOCK_H
#define _BS_LINUX_SPINLOCK_H

#include <linux/types.h>
#include <linux/bug.h>

typedef struct {
	int locked;
} spinlock_t;

#define __SPIN_LOCK_UNLOCKED(name) { 0 }
#define DEFINE_SPINLOCK(name) spinlock_t name = __SPIN_LOCK_UNLOCKED(name)
#define spin_lock_init(lock) ((lock)->locked = 0)

#define spin_lock(lock) do { BUG_ON((lock)->locked); (lock)->locked = 1; } while (0)
#define spin_unlock(lock) do { (lock)->locked = 0; } while (0)
#define spin_trylock(lock) ((lock)->locked ? 0 : ((lock)->locked = 1))
#define spin_lock_bh spin_lock
#define spin_unlock_bh spin_unlock
#define spin_lock_irq spin_lock
#define spin_unlock_irq spin_unlock
#define spin_lock_irqsave(lock, flags) do { (flags) = 0; spin_lock(lock); } while (0)
#define spin_unlock_irqrestore(lock, flags) do { (void)(flags); spin_unlock(lock); } while (0)
#define assert_spin_locked(lock) BUG_ON(!(lock)->locked)

#endif
