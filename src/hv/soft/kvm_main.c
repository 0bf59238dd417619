/*
 * The soft hypervisor's handles and ioctl dispatch, in the role of KVM's
 * kvm_main.c: system, VM and vCPU handles, each a real file descriptor
 * (an eventfd, so it is unique and close() works on it) mapped to its
 * object in a table. Unknown ioctls fail with ENOTTY, bad arguments with
 * EINVAL, as KVM's do.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../hv.h"
#include "irqchip/irqchip.h"
#include "soft.h"

#define KVM_API_VERSION 12
#define MAX_FDS 65536

static struct soft_handle *handles[MAX_FDS];
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;

static int handle_register(struct soft_handle *h, enum soft_kind kind)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fd >= MAX_FDS) {
		close(fd);
		errno = EMFILE;
		return -1;
	}
	h->kind = kind;
	h->fd = fd;
	pthread_mutex_lock(&handles_lock);
	handles[fd] = h;
	pthread_mutex_unlock(&handles_lock);
	return fd;
}

static struct soft_handle *handle_get(int fd)
{
	if (fd < 0 || fd >= MAX_FDS)
		return NULL;
	pthread_mutex_lock(&handles_lock);
	struct soft_handle *h = handles[fd];
	pthread_mutex_unlock(&handles_lock);
	return h;
}

struct soft_vcpu *soft_vcpu_get(int fd)
{
	struct soft_handle *h = handle_get(fd);
	return h && h->kind == SOFT_VCPU ? (struct soft_vcpu *)h : NULL;
}

/* ---- system handle ---- */

static int check_extension(struct soft_vm *vm, long ext)
{
	switch (ext) {
	case KVM_CAP_USER_MEMORY:
	case KVM_CAP_SET_TSS_ADDR:
	case KVM_CAP_SET_IDENTITY_MAP_ADDR:
	case KVM_CAP_EXT_CPUID:
	case KVM_CAP_IMMEDIATE_EXIT:
	case KVM_CAP_IRQCHIP:
	case KVM_CAP_PIT2:
	case KVM_CAP_PIT_STATE2:
	case KVM_CAP_IRQ_INJECT_STATUS:
	case KVM_CAP_SET_GUEST_DEBUG:
	case KVM_CAP_MP_STATE:
	case KVM_CAP_SIGNAL_MSI:
	case KVM_CAP_IRQ_ROUTING:
	case KVM_CAP_HLT:
	case KVM_CAP_NOP_IO_DELAY:
	case KVM_CAP_TSC_DEADLINE_TIMER:
		return 1;
	case KVM_CAP_NR_VCPUS:
	case KVM_CAP_MAX_VCPUS:
	case KVM_CAP_MAX_VCPU_ID:
		return SOFT_MAX_VCPUS;
	case KVM_CAP_NR_MEMSLOTS:
		return SOFT_MAX_SLOTS;
	default:
		(void)vm;
		return 0;
	}
}

static int create_vm(struct soft_handle *sys, unsigned long type)
{
	(void)sys;
	if (type != 0)
		return -EINVAL;
	struct soft_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	pthread_mutex_init(&vm->lock, NULL);
	vm->refs = 1;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	vm->clock_base_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	int fd = handle_register(&vm->h, SOFT_VM);
	if (fd < 0) {
		int e = errno;
		free(vm);
		return -e;
	}
	return fd;
}

static int system_ioctl(struct soft_handle *h, unsigned long req, void *arg)
{
	switch (req) {
	case KVM_GET_API_VERSION:
		return KVM_API_VERSION;
	case KVM_CREATE_VM:
		return create_vm(h, (unsigned long)arg);
	case KVM_CHECK_EXTENSION:
		return check_extension(NULL, (long)arg);
	case KVM_GET_VCPU_MMAP_SIZE:
		return SOFT_RUN_SIZE;
	case KVM_GET_SUPPORTED_CPUID: {
		struct kvm_cpuid2 *c = arg;
		if (!c)
			return -EFAULT;
		return kvm_get_supported_cpuid(c);
	}
	case KVM_GET_MSR_INDEX_LIST: {
		struct kvm_msr_list *l = arg;
		if (!l)
			return -EFAULT;
		return kvm_get_msr_index_list(l, l->nmsrs);
	}
	default:
		return -ENOTTY;
	}
}

/* ---- VM handle ---- */

static int set_user_memory_region(struct soft_vm *vm, const struct kvm_userspace_memory_region *r)
{
	if (!r)
		return -EFAULT;
	if (r->slot >= SOFT_MAX_SLOTS || (r->guest_phys_addr & 0xfff) || (r->memory_size & 0xfff) ||
	    (r->userspace_addr & 0xfff) || (r->flags & ~(uint32_t)KVM_MEM_READONLY))
		return -EINVAL;
	if (r->memory_size && r->guest_phys_addr + r->memory_size < r->guest_phys_addr)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	for (int i = 0; i < SOFT_MAX_SLOTS; i++) {
		const struct kvm_userspace_memory_region *o = &vm->slots[i];
		if ((uint32_t)i == r->slot || !o->memory_size || !r->memory_size)
			continue;
		if (r->guest_phys_addr < o->guest_phys_addr + o->memory_size &&
		    o->guest_phys_addr < r->guest_phys_addr + r->memory_size) {
			pthread_mutex_unlock(&vm->lock);
			return -EEXIST;
		}
	}
	int err = pmem_set_slot(&vm->pmem, (int)r->slot, r->guest_phys_addr, r->memory_size,
				(void *)(uintptr_t)r->userspace_addr, !!(r->flags & KVM_MEM_READONLY));
	if (!err)
		vm->slots[r->slot] = *r;
	/* Mappings moved: every vCPU drops its translations and decoded code. */
	for (int i = 0; i < SOFT_MAX_VCPUS; i++)
		if (vm->vcpus[i]) {
			cpu_flush_tlb(&vm->vcpus[i]->vmx.cpu);
			cpu_flush_code(&vm->vcpus[i]->vmx.cpu);
		}
	pthread_mutex_unlock(&vm->lock);
	return err ? -ENOMEM : 0;
}

static int create_vcpu(struct soft_vm *vm, unsigned long id)
{
	if (id >= SOFT_MAX_VCPUS)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	if (vm->vcpus[id]) {
		pthread_mutex_unlock(&vm->lock);
		return -EEXIST;
	}
	if (vm->irqchip) {
		int r = irqchip_vcpu_create(vm->irqchip, (int)id);
		if (r < 0) {
			pthread_mutex_unlock(&vm->lock);
			return r;
		}
	}
	struct soft_vcpu *v = calloc(1, sizeof(*v));
	void *run = mmap(NULL, SOFT_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!v || run == MAP_FAILED) {
		free(v);
		if (run != MAP_FAILED)
			munmap(run, SOFT_RUN_SIZE);
		pthread_mutex_unlock(&vm->lock);
		return -ENOMEM;
	}
	v->id = (int)id;
	v->vm = vm;
	v->run = run;
	pthread_mutex_init(&v->mutex, NULL);
	if (kvm_arch_vcpu_create(v) < 0) {
		munmap(run, SOFT_RUN_SIZE);
		free(v);
		pthread_mutex_unlock(&vm->lock);
		return -ENOMEM;
	}
	int fd = handle_register(&v->h, SOFT_VCPU);
	if (fd < 0) {
		int e = errno;
		vmx_vcpu_free(v);
		munmap(run, SOFT_RUN_SIZE);
		free(v);
		pthread_mutex_unlock(&vm->lock);
		return -e;
	}
	vm->vcpus[id] = v;
	vm->refs++;
	pthread_mutex_unlock(&vm->lock);
	return fd;
}

static int create_irqchip(struct soft_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	int busy = vm->irqchip != NULL;
	for (int i = 0; i < SOFT_MAX_VCPUS; i++)
		busy |= vm->vcpus[i] != NULL;   /* KVM: only before any vCPU */
	if (busy) {
		pthread_mutex_unlock(&vm->lock);
		return vm->irqchip ? -EEXIST : -EINVAL;
	}
	struct irqchip_params p = { .nr_vcpus = SOFT_MAX_VCPUS, .tsc_hz = SOFT_TSC_HZ,
				    .phys_addr_bits = SOFT_PHYS_BITS };
	vm->irqchip = irqchip_create(&p);
	int r = vm->irqchip ? 0 : -errno;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

static int vm_ioctl(struct soft_vm *vm, unsigned long req, void *arg)
{
	struct irqchip *ic = vm->irqchip;
	switch (req) {
	case KVM_CHECK_EXTENSION:
		return check_extension(vm, (long)arg);
	case KVM_SET_USER_MEMORY_REGION:
		return set_user_memory_region(vm, arg);
	case KVM_CREATE_VCPU:
		return create_vcpu(vm, (unsigned long)arg);
	case KVM_SET_TSS_ADDR:
		vm->tss_addr = (uint64_t)(uintptr_t)arg;
		return 0;
	case KVM_SET_IDENTITY_MAP_ADDR:
		if (!arg)
			return -EFAULT;
		vm->identity_map_addr = *(uint64_t *)arg;
		return 0;
	case KVM_CREATE_IRQCHIP:
		return create_irqchip(vm);
	case KVM_CREATE_PIT2: {
		const struct kvm_pit_config *c = arg;
		if (!c)
			return -EFAULT;
		if (!ic)
			return -ENOENT;
		return irqchip_create_pit(ic, c->flags);
	}
	case KVM_IRQ_LINE:
	case KVM_IRQ_LINE_STATUS: {
		struct kvm_irq_level *l = arg;
		if (!l)
			return -EFAULT;
		if (!ic)
			return -ENXIO;
		int r = irqchip_irq_line(ic, l->irq, (int)l->level);
		if (r < 0)
			return r;
		if (req == KVM_IRQ_LINE_STATUS)
			l->status = r;
		return 0;
	}
	case KVM_SIGNAL_MSI:
		if (!arg)
			return -EFAULT;
		return ic ? irqchip_signal_msi(ic, arg) : -ENXIO;
	case KVM_SET_GSI_ROUTING:
		if (!arg)
			return -EFAULT;
		return ic ? irqchip_set_gsi_routing(ic, arg) : -EINVAL;
	case KVM_GET_IRQCHIP:
		if (!arg)
			return -EFAULT;
		return ic ? irqchip_get_chip(ic, arg) : -ENXIO;
	case KVM_SET_IRQCHIP:
		if (!arg)
			return -EFAULT;
		return ic ? irqchip_set_chip(ic, arg) : -ENXIO;
	case KVM_GET_PIT2:
		if (!arg)
			return -EFAULT;
		return ic ? irqchip_get_pit2(ic, arg) : -ENXIO;
	case KVM_SET_PIT2:
		if (!arg)
			return -EFAULT;
		return ic ? irqchip_set_pit2(ic, arg) : -ENXIO;
	default:
		return -ENOTTY;
	}
}

/* ---- vCPU handle ---- */

static int get_msrs(struct soft_vcpu *v, struct kvm_msrs *m, int set)
{
	if (!m)
		return -EFAULT;
	if (m->nmsrs > 4096)
		return -E2BIG;
	uint32_t i;
	for (i = 0; i < m->nmsrs; i++) {
		struct kvm_msr_entry *e = &m->entries[i];
		uint64_t d = e->data;
		if (set ? kvm_set_msr(v, e->index, d, 1) : kvm_get_msr(v, e->index, &d, 1))
			break;
		e->data = d;
	}
	return (int)i;
}

static int set_cpuid2(struct soft_vcpu *v, const struct kvm_cpuid2 *c)
{
	if (!c)
		return -EFAULT;
	if (c->nent > SOFT_MAX_CPUID)
		return -E2BIG;
	memcpy(v->cpuid, c->entries, c->nent * sizeof(c->entries[0]));
	v->ncpuid = (int)c->nent;
	return 0;
}

static int vcpu_ioctl_locked(struct soft_vcpu *v, unsigned long req, void *arg)
{
	struct irqchip *ic = v->vm->irqchip;
	if (req != KVM_RUN && req != KVM_INTERRUPT && req != KVM_NMI && !arg &&
	    _IOC_SIZE(req) != 0)
		return -EFAULT;
	switch (req) {
	case KVM_RUN:
		if (arg)
			return -EINVAL;
		return kvm_arch_vcpu_ioctl_run(v);
	case KVM_GET_REGS:
		kvm_arch_get_regs(v, arg);
		return 0;
	case KVM_SET_REGS:
		kvm_arch_set_regs(v, arg);
		return 0;
	case KVM_GET_SREGS:
		kvm_arch_get_sregs(v, arg);
		return 0;
	case KVM_SET_SREGS:
		return kvm_arch_set_sregs(v, arg);
	case KVM_GET_FPU:
		kvm_arch_get_fpu(v, arg);
		return 0;
	case KVM_SET_FPU:
		kvm_arch_set_fpu(v, arg);
		return 0;
	case KVM_GET_MSRS:
		return get_msrs(v, arg, 0);
	case KVM_SET_MSRS:
		return get_msrs(v, arg, 1);
	case KVM_SET_CPUID2:
		return set_cpuid2(v, arg);
	case KVM_GET_CPUID2: {
		struct kvm_cpuid2 *c = arg;
		if (c->nent < (uint32_t)v->ncpuid) {
			c->nent = (uint32_t)v->ncpuid;
			return -E2BIG;
		}
		c->nent = (uint32_t)v->ncpuid;
		memcpy(c->entries, v->cpuid, (size_t)v->ncpuid * sizeof(c->entries[0]));
		return 0;
	}
	case KVM_INTERRUPT: {
		const struct kvm_interrupt *irq = arg;
		if (!irq)
			return -EFAULT;
		if (ic)
			return -ENXIO;
		if (irq->irq >= 256)
			return -EINVAL;
		v->irq_pending = 1;
		v->irq_vector = (uint8_t)irq->irq;
		atomic_fetch_or(&v->own_events, IRQCHIP_EV_KICK);
		return 0;
	}
	case KVM_NMI:
		if (ic)
			return irqchip_nmi(ic, v->id);
		v->nmi_pending = 1;
		atomic_fetch_or(&v->own_events, IRQCHIP_EV_KICK);
		return 0;
	case KVM_SET_GUEST_DEBUG: {
		const struct kvm_guest_debug *d = arg;
		if (d->control & ~(uint32_t)(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP))
			return -EINVAL;
		v->guest_debug = d->control;
		return 0;
	}
	case KVM_GET_MP_STATE:
		((struct kvm_mp_state *)arg)->mp_state = v->mp_state;
		return 0;
	case KVM_SET_MP_STATE: {
		uint32_t s = ((struct kvm_mp_state *)arg)->mp_state;
		if (s != KVM_MP_STATE_RUNNABLE && s != KVM_MP_STATE_UNINITIALIZED &&
		    s != KVM_MP_STATE_INIT_RECEIVED && s != KVM_MP_STATE_HALTED)
			return -EINVAL;
		v->mp_state = s;
		return 0;
	}
	case KVM_GET_LAPIC:
		return ic ? irqchip_get_lapic(ic, v->id, arg) : -ENXIO;
	case KVM_SET_LAPIC:
		return ic ? irqchip_set_lapic(ic, v->id, arg) : -ENXIO;
	case KVM_TRANSLATE:
		return kvm_arch_translate(v, arg);
	default:
		return -ENOTTY;
	}
}

/* As in KVM, a vCPU's ioctls are serialized: a KVM_GET_REGS waits for KVM_RUN to return. */
static int vcpu_ioctl(struct soft_vcpu *v, unsigned long req, void *arg)
{
	pthread_mutex_lock(&v->mutex);
	int r = vcpu_ioctl_locked(v, req, arg);
	pthread_mutex_unlock(&v->mutex);
	return r;
}

/* ---- the hv_ops seam ---- */

static int soft_open_system(void)
{
	struct soft_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		errno = ENOMEM;
		return -1;
	}
	int fd = handle_register(h, SOFT_SYSTEM);
	if (fd < 0)
		free(h);
	return fd;
}

static int soft_ioctl(int fd, unsigned long req, void *arg)
{
	struct soft_handle *h = handle_get(fd);
	int r;
	if (!h) {
		errno = fd >= 0 ? ENOTTY : EBADF;
		return -1;
	}
	switch (h->kind) {
	case SOFT_SYSTEM: r = system_ioctl(h, req, arg); break;
	case SOFT_VM: r = vm_ioctl((struct soft_vm *)h, req, arg); break;
	default: r = vcpu_ioctl((struct soft_vcpu *)h, req, arg); break;
	}
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

static void *soft_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct soft_vcpu *v = soft_vcpu_get(fd);
	if (!v)
		return mmap(addr, len, prot, flags, fd, off);
	if (off != 0 || len > SOFT_RUN_SIZE || len == 0) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return v->run;
}

static int is_run_area(void *addr)
{
	int found = 0;
	pthread_mutex_lock(&handles_lock);
	for (int i = 0; i < MAX_FDS && !found; i++)
		if (handles[i] && handles[i]->kind == SOFT_VCPU &&
		    ((struct soft_vcpu *)handles[i])->run == addr)
			found = 1;
	pthread_mutex_unlock(&handles_lock);
	return found;
}

/* The kvm_run area lives as long as its vCPU handle. */
static int soft_munmap(void *addr, size_t len)
{
	if (is_run_area(addr))
		return 0;
	return munmap(addr, len);
}

static void vm_put(struct soft_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	int last = --vm->refs == 0;
	pthread_mutex_unlock(&vm->lock);
	if (!last)
		return;
	if (vm->irqchip)
		irqchip_destroy(vm->irqchip);
	pmem_destroy(&vm->pmem);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

static int soft_close(int fd)
{
	struct soft_handle *h = handle_get(fd);
	if (!h)
		return close(fd);
	pthread_mutex_lock(&handles_lock);
	handles[fd] = NULL;
	pthread_mutex_unlock(&handles_lock);
	if (h->kind == SOFT_VCPU) {
		struct soft_vcpu *v = (struct soft_vcpu *)h;
		struct soft_vm *vm = v->vm;
		pthread_mutex_lock(&vm->lock);
		vm->vcpus[v->id] = NULL;
		pthread_mutex_unlock(&vm->lock);
		vmx_vcpu_free(v);
		munmap(v->run, SOFT_RUN_SIZE);
		pthread_mutex_destroy(&v->mutex);
		free(v);
		vm_put(vm);
	} else if (h->kind == SOFT_VM) {
		vm_put((struct soft_vm *)h);
	} else {
		free(h);
	}
	return close(fd);
}

const struct hv_ops hv_soft_ops = {
	.name = "soft",
	.open_system = soft_open_system,
	.ioctl = soft_ioctl,
	.mmap = soft_mmap,
	.munmap = soft_munmap,
	.close = soft_close,
};
