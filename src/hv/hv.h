/*
 * The hypervisor seam.
 *
 * The VMM talks to a hypervisor only through the Linux KVM ABI: a system
 * handle from open_system(), VM and vCPU handles from ioctls on it, the
 * structs of <linux/kvm.h>, and a struct kvm_run mapped from each vCPU
 * handle. Two implementations sit behind it: "kvm" (the real /dev/kvm) and
 * "soft" (runvm's own hypervisor). Nothing in the VMM may call ioctl() or
 * mmap() on a KVM handle directly; it goes through these functions so that
 * both hypervisors run the same VMM code.
 */
#ifndef RUNVM_HV_H
#define RUNVM_HV_H

#include <stddef.h>
#include <sys/types.h>

struct hv_ops {
	const char *name;
	/* Like open("/dev/kvm"): a system handle, or -1 with errno set. */
	int (*open_system)(void);
	/* Like ioctl(2) on a system, VM or vCPU handle: -1 with errno on error. */
	int (*ioctl)(int fd, unsigned long request, void *arg);
	/* Like mmap(2) of a vCPU handle: the shared struct kvm_run. */
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
	int (*munmap)(void *addr, size_t len);
	int (*close)(int fd);
};

extern const struct hv_ops hv_kvm_ops;
extern const struct hv_ops hv_soft_ops;

/*
 * Picks the hypervisor named by --accel ("kvm", "soft" or "auto").
 * Returns NULL and prints why when the name is unknown.
 */
const struct hv_ops *hv_select(const char *accel);

/* True when the host CPU advertises VT-x or AMD-V (vmx or svm flag). */
int hv_host_has_hw_virt(void);

#endif
