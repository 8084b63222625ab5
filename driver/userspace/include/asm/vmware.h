/* VMware detection as Linux 2.6.32 to 2.6.34 had it; true when the scenario
 * says the hypervisor is VMware (the `hypervisor` directive). */
#ifndef _BS_ASM_VMWARE_H
#define _BS_ASM_VMWARE_H

int vmware_platform(void);

#endif
