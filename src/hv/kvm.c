/*
 * The "kvm" hypervisor: the host's /dev/kvm, reached with plain system
 * calls. Everything here is a thin pass-through; the point of the file is
 * that it is the only place that touches /dev/kvm.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv.h"

static int kvm_open_system(void)
{
	return open("/dev/kvm", O_RDWR | O_CLOEXEC);
}

static int kvm_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg);
}

static void *kvm_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

const struct hv_ops hv_kvm_ops = {
	.name = "kvm",
	.open_system = kvm_open_system,
	.ioctl = kvm_ioctl,
	.mmap = kvm_mmap,
	.munmap = munmap,
	.close = close,
};
