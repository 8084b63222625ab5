/* Hypervisor detection: the x86_hyper pointer of the seed's kernel, and the
 * x86_hyper_type enum of later ones. Both read the scenario's hypervisor. */
#ifndef _BSA_ASM_HYPERVISOR_H
#define _BSA_ASM_HYPERVISOR_H

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
};

extern enum x86_hypervisor_type x86_hyper_type;

#endif
