/* Hypervisor detection as the seed's kernel had it (x86_hyper pointer). */
#ifndef _BS_ASM_HYPERVISOR_H
#define _BS_ASM_HYPERVISOR_H

struct hypervisor_x86 {
	const char *name;
};

/* The scenario's "hypervisor" directive decides where this points. */
extern const struct hypervisor_x86 *x86_hyper;
extern const struct hypervisor_x86 x86_hyper_vmware;

#endif
