/*
 * Hypervisor detection: the x86_hyper pointer of Linux 2.6.35 to 4.14 and the
 * x86_hyper_type of 4.15 on. Both follow the scenario's `hypervisor`
 * directive.
 */
#ifndef _BS_ASM_HYPERVISOR_H
#define _BS_ASM_HYPERVISOR_H

struct hypervisor_x86 {
	const char *name;
};

extern const struct hypervisor_x86 *x86_hyper;
extern const struct hypervisor_x86 x86_hyper_vmware;

enum x86_hypervisor_type {
	X86_HYPER_NATIVE = 0,
	X86_HYPER_VMWARE,
	X86_HYPER_MS_HYPERV,
	X86_HYPER_XEN_PV,
	X86_HYPER_XEN_HVM,
	X86_HYPER_KVM,
	X86_HYPER_JAILHOUSE,
	X86_HYPER_ACRN,
};

extern enum x86_hypervisor_type x86_hyper_type;

#endif
