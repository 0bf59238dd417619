/*
 * The VM: hypervisor handles, memory slots, the in-kernel irqchip and PIT,
 * and the stop protocol that every thread uses to end a run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vm.h"

#define KVM_API_VERSION_EXPECTED 12
/* Guest-physical pages KVM needs for its own use on Intel hosts (in the hole). */
#define KVM_TSS_ADDR 0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

static int hv_open(struct vm *vm)
{
	vm->sys_fd = vm->hv->open_system();
	if (vm->sys_fd < 0) {
		int e = errno;
		if (e == ENOENT)
			fprintf(stderr, "runvm: /dev/kvm does not exist: this host has no KVM "
				"(load the kvm module, or use --accel soft)\n");
		else if (e == EACCES || e == EPERM)
			fprintf(stderr, "runvm: no permission to open /dev/kvm "
				"(join the kvm group, or use --accel soft)\n");
		else
			fprintf(stderr, "runvm: cannot open the %s hypervisor: %s\n",
				vm->hv->name, strerror(e));
		return -1;
	}
	int v = vm_ioctl(vm, vm->sys_fd, KVM_GET_API_VERSION, NULL);
	if (v != KVM_API_VERSION_EXPECTED) {
		fprintf(stderr, "runvm: %s: KVM API version %d, expected %d\n",
			vm->hv->name, v, KVM_API_VERSION_EXPECTED);
		return -1;
	}
	return 0;
}

static int set_memory_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};
	if (vm_ioctl(vm, vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		fprintf(stderr, "runvm: KVM_SET_USER_MEMORY_REGION (slot %u): %m\n", slot);
		return -1;
	}
	return 0;
}

static int get_supported_cpuid(struct vm *vm)
{
	for (int n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return -1;
		c->nent = n;
		if (vm_ioctl(vm, vm->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			break;
	}
	fprintf(stderr, "runvm: KVM_GET_SUPPORTED_CPUID: %m\n");
	return -1;
}

int vm_init(struct vm *vm, const struct config *cfg, const struct hv_ops *hv)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->hv = hv;
	vm->sys_fd = vm->vm_fd = -1;
	vm->ncpus = cfg->cpus;
	vm->host_hw_virt = hv_host_has_hw_virt();
	vm->stop_fd = eventfd(0, EFD_CLOEXEC);
	pthread_mutex_init(&vm->machine_lock, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	for (int i = 0; i < vm->ncpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		vm->vcpus[i].fd = -1;
	}
	if (vm->stop_fd < 0 || hv_open(vm) < 0 || get_supported_cpuid(vm) < 0)
		return -1;
	return guest_mem_init(&vm->mem, cfg->mem);
}

void vm_fini(struct vm *vm)
{
	guest_mem_free(&vm->mem);
	free(vm->cpuid);
	vm->cpuid = NULL;
	if (vm->sys_fd >= 0)
		vm->hv->close(vm->sys_fd);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	vm->sys_fd = vm->stop_fd = -1;
}

static int create_platform(struct vm *vm)
{
	if (vm_ioctl(vm, vm->vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)KVM_TSS_ADDR) < 0) {
		fprintf(stderr, "runvm: KVM_SET_TSS_ADDR: %m\n");
		return -1;
	}
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	vm_ioctl(vm, vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap); /* only Intel hosts need it */
	if (vm_ioctl(vm, vm->vm_fd, KVM_CREATE_IRQCHIP, NULL) < 0) {
		fprintf(stderr, "runvm: KVM_CREATE_IRQCHIP: %m\n");
		return -1;
	}
	/* The dummy speaker lets the kernel PIT own port 0x61 (channel 2 gate and output). */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (vm_ioctl(vm, vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		fprintf(stderr, "runvm: KVM_CREATE_PIT2: %m\n");
		return -1;
	}
	return 0;
}

int vm_machine_create(struct vm *vm)
{
	int fd = vm_ioctl(vm, vm->sys_fd, KVM_CREATE_VM, NULL);
	if (fd < 0) {
		fprintf(stderr, "runvm: KVM_CREATE_VM: %m\n");
		return -1;
	}
	pthread_mutex_lock(&vm->machine_lock);
	vm->vm_fd = fd;
	pthread_mutex_unlock(&vm->machine_lock);

	if (set_memory_slot(vm, 0, 0, vm->mem.low_size, vm->mem.host) < 0)
		return -1;
	if (vm->mem.high_size &&
	    set_memory_slot(vm, 1, MEM_HOLE_END, vm->mem.high_size, vm->mem.host + vm->mem.low_size) < 0)
		return -1;
	if (create_platform(vm) < 0)
		return -1;
	for (int i = 0; i < vm->ncpus; i++)
		if (vcpu_create(vm, i) < 0)
			return -1;
	if (!atomic_load(&vm->signalled))
		atomic_store(&vm->stop_reason, VM_RUNNING);
	return 0;
}

void vm_machine_destroy(struct vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->machine_lock);
	if (vm->vm_fd >= 0)
		vm->hv->close(vm->vm_fd);
	vm->vm_fd = -1;
	pthread_mutex_unlock(&vm->machine_lock);
}

void vm_irq_line(struct vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };

	/* Device threads may raise lines while a reboot re-creates the machine. */
	pthread_mutex_lock(&vm->machine_lock);
	if (vm->vm_fd >= 0 && vm_ioctl(vm, vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		fprintf(stderr, "runvm: KVM_IRQ_LINE %u: %m\n", gsi);
	pthread_mutex_unlock(&vm->machine_lock);
}

/* The first stop request wins; returns whether this one did. */
static int claim_stop(struct vm *vm, enum vm_stop_reason reason)
{
	int expected = VM_RUNNING;
	return atomic_compare_exchange_strong(&vm->stop_reason, &expected, (int)reason);
}

static void wake_main(struct vm *vm)
{
	uint64_t one = 1;
	if (vm->stop_fd >= 0 && write(vm->stop_fd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow in practice; nothing else to do. */
	}
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int exit_status)
{
	if (claim_stop(vm, reason))
		vm->exit_status = exit_status;
	wake_main(vm);
}

void vm_request_stop_from_signal(struct vm *vm)
{
	/* Sticky, so that a reboot under way cannot swallow it. */
	atomic_store(&vm->signalled, 1);
	if (claim_stop(vm, VM_STOP_SIGNAL))
		vm->exit_status = RUNVM_EXIT_SIGNAL;
	wake_main(vm);
}

int vm_stopping(struct vm *vm)
{
	return atomic_load_explicit(&vm->stop_reason, memory_order_relaxed) != VM_RUNNING;
}

enum vm_stop_reason vm_wait_stop(struct vm *vm)
{
	uint64_t v;
	while (!vm_stopping(vm))
		if (read(vm->stop_fd, &v, sizeof(v)) < 0 && errno != EINTR)
			break;
	return atomic_load(&vm->stop_reason);
}
