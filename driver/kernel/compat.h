/*
 * Forced include (-include) for building the unmodified seed driver against
 * current kernel headers.  It bridges API drift ONLY; it must not change what
 * the driver does.
 *
 * Drift bridged:
 *  - Linux 4.15 replaced the pointer `x86_hyper` (compared against
 *    `&x86_hyper_vmware`) by the enum `x86_hyper_type`.  `x86_hyper_vmware`
 *    still exists but is __initconst and not exported to modules, so the seed's
 *    `x86_hyper != &x86_hyper_vmware` must not reference it.  Both names are
 *    mapped onto a private marker: x86_hyper yields the marker's address when
 *    the kernel detected VMware, NULL otherwise.
 *  - Linux 2.6.36 renamed create_freezeable_workqueue() to
 *    create_freezable_workqueue() (same workqueue: one thread, freezable);
 *    driver version 1.2.1.1-k still spells it the old way.
 *
 * What no rename bridges (an API the kernel removed, e.g. 2.6.34's
 * <asm/vmware.h> and vmware_platform()) stays a build error, which the
 * backend reports as "this kernel lacks the API", not as a driver defect.
 */
#ifndef BALLOONSPEC_COMPAT_H
#define BALLOONSPEC_COMPAT_H

/* Pull the real declarations in first, so the macros below do not rename them. */
#include <asm/hypervisor.h>
#include <linux/workqueue.h>

static const char balloonspec_vmware_marker __maybe_unused;
#define x86_hyper_vmware balloonspec_vmware_marker
#define x86_hyper (x86_hyper_type == X86_HYPER_VMWARE ? \
		   &balloonspec_vmware_marker : NULL)

/*
 * asm/hypervisor.h already pulled printk.h in, which defined the default
 * pr_fmt; drop it so the seed's own `#define pr_fmt` (KBUILD_MODNAME prefix)
 * is the only definition and does not warn as a redefinition.
 */
#undef pr_fmt

#define create_freezeable_workqueue(name) create_freezable_workqueue(name)

#endif
