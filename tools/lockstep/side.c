/*
 * One side of a lockstep run: a VM on one hypervisor, built with the VMM's
 * own code (vm_init, vcpu_create, the loaders and ACPI tables) but without
 * the in-kernel irqchip and PIT, whose timer interrupts would arrive at
 * different instructions on the two sides.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lockstep.h"
#include "vmm/acpi.h"
#include "vmm/boot/boot.h"

/* The pages KVM keeps for itself on Intel hosts, where runvm puts them. */
#define LOCKSTEP_TSS_ADDR 0xfffbd000ULL
#define LOCKSTEP_IDMAP_ADDR 0xfffbc000ULL
#define PAGE_SIZE_4K 4096ULL

static int side_ioctl(struct side *s, int fd, unsigned long req, void *arg, const char *what)
{
	int r = vm_ioctl(&s->vm, fd, req, arg);
	if (r < 0)
		fprintf(stderr, "lockstep: %s: %s: %s\n", s->name, what, strerror(errno));
	return r;
}

static int add_slot(struct side *s, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};
	return side_ioctl(s, s->vm.vm_fd, KVM_SET_USER_MEMORY_REGION, &r, "KVM_SET_USER_MEMORY_REGION");
}

/* Both sides must describe the same processor: B gets A's CPUID table. */
static int use_cpuid(struct side *s, const struct kvm_cpuid2 *cpuid)
{
	size_t sz = sizeof(*cpuid) + cpuid->nent * sizeof(cpuid->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	if (!c) {
		fprintf(stderr, "lockstep: out of memory\n");
		return -1;
	}
	memcpy(c, cpuid, sz);
	free(s->vm.cpuid);
	s->vm.cpuid = c;
	return 0;
}

/* vm_machine_create() without the irqchip and the PIT. */
static int create_machine(struct side *s)
{
	struct vm *vm = &s->vm;
	vm->vm_fd = side_ioctl(s, vm->sys_fd, KVM_CREATE_VM, NULL, "KVM_CREATE_VM");
	if (vm->vm_fd < 0)
		return -1;
	if (add_slot(s, 0, 0, vm->mem.low_size, vm->mem.host) < 0)
		return -1;
	if (vm->mem.high_size &&
	    add_slot(s, 1, MEM_HOLE_END, vm->mem.high_size, vm->mem.host + vm->mem.low_size) < 0)
		return -1;
	if (side_ioctl(s, vm->vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)LOCKSTEP_TSS_ADDR,
		       "KVM_SET_TSS_ADDR") < 0)
		return -1;
	uint64_t idmap = LOCKSTEP_IDMAP_ADDR;
	vm_ioctl(vm, vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap); /* only Intel hosts need it */
	if (vcpu_create(vm, 0) < 0)
		return -1;
	s->vcpu = &vm->vcpus[0];
	return 0;
}

/*
 * Opens the hypervisor, allocates the guest's RAM and creates the VM and
 * vCPU 0. cpuid, when given, replaces the hypervisor's own CPUID table.
 */
int side_open(struct side *s, const struct hv_ops *hv, const struct config *cfg,
	      const struct kvm_cpuid2 *cpuid)
{
	s->name = hv->name;
	s->finish_io_at_once = hv == &hv_kvm_ops;
	if (vm_init(&s->vm, cfg, hv) < 0)
		return -1;
	if (cpuid && use_cpuid(s, cpuid) < 0)
		return -1;
	return create_machine(s);
}

/* Loads the guest as runvm would; -1 with a message when the image is bad. */
int side_load_image(struct side *s)
{
	return acpi_build(&s->vm) < 0 || boot_load(&s->vm) < 0 ? -1 : 0;
}

/* Sets vCPU 0's boot state and starts single-stepping. */
int side_arm(struct side *s)
{
	if (vcpu_set_boot_state(s->vcpu, &s->vm.boot) < 0)
		return -1;
	struct kvm_guest_debug dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP };
	if (side_ioctl(s, s->vcpu->fd, KVM_SET_GUEST_DEBUG, &dbg, "KVM_SET_GUEST_DEBUG") < 0)
		return -1;
	return 0;
}

void side_close(struct side *s)
{
	struct vm *vm = &s->vm;
	if (s->vcpu)
		vcpu_destroy(s->vcpu);
	if (vm->vm_fd >= 0 && vm->hv)
		vm->hv->close(vm->vm_fd);
	vm->vm_fd = -1;
	if (vm->hv)
		vm_fini(vm);
	s->vcpu = NULL;
}

/* One KVM_RUN (unless an exit is pending); a signal only makes us go round again. */
int side_run(struct side *s)
{
	if (s->pending) {
		s->pending = 0;
		return 0;
	}
	for (;;) {
		if (vm_ioctl(&s->vm, s->vcpu->fd, KVM_RUN, NULL) == 0)
			return 0;
		if (errno != EINTR && errno != EAGAIN) {
			fprintf(stderr, "lockstep: %s: KVM_RUN: %s\n", s->name, strerror(errno));
			return -1;
		}
	}
}

/*
 * After an I/O exit was handled: with finish_io_at_once, completes the
 * instruction without running further; an EINTR then counts as the end
 * of the step, as a KVM_EXIT_DEBUG would. Otherwise the next side_run()
 * completes it.
 */
int side_finish_io(struct side *s)
{
	if (!s->finish_io_at_once)
		return 0;
	struct kvm_run *run = s->vcpu->run;
	run->immediate_exit = 1;
	int r = vm_ioctl(&s->vm, s->vcpu->fd, KVM_RUN, NULL);
	int e = errno;
	run->immediate_exit = 0;
	if (r < 0 && e != EINTR) {
		fprintf(stderr, "lockstep: %s: KVM_RUN to finish an I/O: %s\n", s->name, strerror(e));
		return -1;
	}
	if (r < 0)
		run->exit_reason = KVM_EXIT_DEBUG;
	s->pending = 1;
	return 0;
}

int side_get_state(struct side *s, struct cpu_state *st)
{
	memset(st, 0, sizeof(*st));
	if (side_ioctl(s, s->vcpu->fd, KVM_GET_REGS, &st->regs, "KVM_GET_REGS") < 0 ||
	    side_ioctl(s, s->vcpu->fd, KVM_GET_SREGS, &st->sregs, "KVM_GET_SREGS") < 0)
		return -1;
	return 0;
}

int side_set_regs(struct side *s, const struct kvm_regs *r)
{
	struct kvm_regs copy = *r;
	return side_ioctl(s, s->vcpu->fd, KVM_SET_REGS, &copy, "KVM_SET_REGS") < 0 ? -1 : 0;
}

int state_long64(const struct cpu_state *st)
{
	return (st->sregs.efer & (1ULL << 10)) && st->sregs.cs.l;
}

uint64_t state_code_address(const struct cpu_state *st)
{
	if (state_long64(st))
		return st->regs.rip;
	return (st->sregs.cs.base + st->regs.rip) & 0xffffffffULL;
}

/*
 * Linear to guest-physical. KVM_TRANSLATE walks the guest's page tables;
 * without paging, or when a hypervisor does not implement it, the address
 * is taken as physical (the test guests identity-map what they run).
 */
static uint64_t translate(struct side *s, const struct cpu_state *st, uint64_t lin)
{
	struct kvm_translation t = { .linear_address = lin };
	if (vm_ioctl(&s->vm, s->vcpu->fd, KVM_TRANSLATE, &t) == 0 && t.valid)
		return t.physical_address;
	if (!(st->sregs.cr0 & (1ULL << 31)))
		return lin;
	return ~0ULL;
}

size_t side_read_virt(struct side *s, const struct cpu_state *st, uint64_t lin, uint8_t *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		uint64_t at = lin + done;
		size_t chunk = PAGE_SIZE_4K - (at & (PAGE_SIZE_4K - 1));
		if (chunk > len - done)
			chunk = len - done;
		uint64_t gpa = translate(s, st, at);
		if (gpa == ~0ULL || guest_read(&s->vm.mem, gpa, buf + done, chunk) < 0)
			break;
		done += chunk;
	}
	return done;
}
