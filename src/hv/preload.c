/*
 * libsoftkvm.so: serves /dev/kvm from runvm's software hypervisor to an
 * unmodified program, through LD_PRELOAD.
 *
 * open("/dev/kvm") returns a handle of the soft hypervisor; ioctl(), mmap(),
 * munmap() and close() on the handles it created (system, VM and vCPU
 * handles, their kvm_run mappings) go to it; everything else goes on to
 * the C library. Calls that the soft hypervisor itself makes pass straight
 * through, so it may use open/mmap/close internally.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "hv.h"

#define MAX_FDS 4096
#define MAX_MAPS 256

static unsigned char soft_fd[MAX_FDS];
static struct { void *addr; size_t len; } soft_maps[MAX_MAPS];
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int inside;     /* in a call to the soft hypervisor */

#define REAL(name) static __typeof__(name) *real_##name; \
	if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static int is_soft(int fd)
{
	return !inside && fd >= 0 && fd < MAX_FDS && soft_fd[fd];
}

static int track(int fd)
{
	if (fd >= 0 && fd < MAX_FDS)
		soft_fd[fd] = 1;
	return fd;
}

static int is_dev_kvm(const char *path)
{
	return !inside && path && !strcmp(path, "/dev/kvm");
}

static int soft_open(void)
{
	inside = 1;
	int fd = hv_soft_ops.open_system();
	inside = 0;
	return track(fd);
}

static int open_mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = open_mode_arg(flags, ap);
	va_end(ap);
	if (is_dev_kvm(path))
		return soft_open();
	REAL(open);
	return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = open_mode_arg(flags, ap);
	va_end(ap);
	if (is_dev_kvm(path))
		return soft_open();
	REAL(open64);
	return real_open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = open_mode_arg(flags, ap);
	va_end(ap);
	if (is_dev_kvm(path))
		return soft_open();
	REAL(openat);
	return real_openat(dirfd, path, flags, mode);
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!is_soft(fd)) {
		REAL(ioctl);
		return real_ioctl(fd, request, arg);
	}
	inside = 1;
	int r = hv_soft_ops.ioctl(fd, request, arg);
	inside = 0;
	/* VM and vCPU handles are new descriptors of the soft hypervisor too. */
	if (r >= 0 && (request == KVM_CREATE_VM || request == KVM_CREATE_VCPU))
		track(r);
	return r;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (!is_soft(fd)) {
		REAL(mmap);
		return real_mmap(addr, len, prot, flags, fd, off);
	}
	inside = 1;
	void *p = hv_soft_ops.mmap(addr, len, prot, flags, fd, off);
	inside = 0;
	if (p == MAP_FAILED)
		return p;
	pthread_mutex_lock(&maps_lock);
	for (int i = 0; i < MAX_MAPS; i++)
		if (!soft_maps[i].addr) {
			soft_maps[i].addr = p;
			soft_maps[i].len = len;
			break;
		}
	pthread_mutex_unlock(&maps_lock);
	return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
	int mine = 0;
	if (!inside) {
		pthread_mutex_lock(&maps_lock);
		for (int i = 0; i < MAX_MAPS; i++)
			if (soft_maps[i].addr == addr) {
				soft_maps[i].addr = NULL;
				mine = 1;
			}
		pthread_mutex_unlock(&maps_lock);
	}
	if (!mine) {
		REAL(munmap);
		return real_munmap(addr, len);
	}
	inside = 1;
	int r = hv_soft_ops.munmap(addr, len);
	inside = 0;
	return r;
}

int close(int fd)
{
	if (!is_soft(fd)) {
		REAL(close);
		return real_close(fd);
	}
	soft_fd[fd] = 0;
	inside = 1;
	int r = hv_soft_ops.close(fd);
	inside = 0;
	return r;
}
