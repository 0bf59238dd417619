/*
 * vCPUs: one thread each, running the KVM_RUN loop.
 *
 * The loop is the userspace half of the path in kvm-run-path.md: enter the
 * guest with KVM_RUN, then dispatch kvm_run->exit_reason through the exit
 * table (exits.c). A stop is requested by setting immediate_exit and sending
 * VCPU_KICK_SIGNAL, which makes a KVM_RUN in progress (or the next one)
 * return EINTR.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "seccomp.h"
#include "stats.h"
#include "vm.h"

/* CPUID leaf 1 EBX[31:24] and leaf 0xB EDX carry the initial APIC ID. */
static void cpuid_set_apic_id(struct kvm_cpuid2 *c, uint32_t apic_id)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffff) | (apic_id << 24);
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = apic_id;
	}
}

/*
 * Without VT-x/AMD-V, a host's /dev/kvm (the PVM module) emulates guest
 * kernel code itself and cannot emulate CMPXCHG16B; a guest told it exists
 * uses it and stops with an internal error, so runvm hides it there. (That
 * KVM also cannot emulate XRSTOR but reports XSAVE whatever the table says:
 * Linux guests there need "noxsave" on their command line.)
 */
static void cpuid_hide_unemulated(struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			c->entries[i].ecx &= ~(1u << 13); /* CX16 */
}

static int vcpu_set_cpuid(struct vcpu *v)
{
	struct vm *vm = v->vm;
	size_t sz = sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(vm->cpuid->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	if (!c)
		return -1;
	memcpy(c, vm->cpuid, sz);
	cpuid_set_apic_id(c, v->id);
	if (vm->hv == &hv_kvm_ops && !vm->host_hw_virt)
		cpuid_hide_unemulated(c);
	int r = vm_ioctl(vm, v->fd, KVM_SET_CPUID2, c);
	free(c);
	if (r < 0)
		fprintf(stderr, "runvm: vCPU %d: KVM_SET_CPUID2: %m\n", v->id);
	return r;
}

int vcpu_create(struct vm *vm, int id)
{
	struct vcpu *v = &vm->vcpus[id];
	v->fd = vm_ioctl(vm, vm->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id);
	if (v->fd < 0) {
		fprintf(stderr, "runvm: KVM_CREATE_VCPU %d: %m\n", id);
		return -1;
	}
	int sz = vm_ioctl(vm, vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (sz < (int)sizeof(struct kvm_run)) {
		fprintf(stderr, "runvm: KVM_GET_VCPU_MMAP_SIZE: %m\n");
		return -1;
	}
	v->run_size = sz;
	v->run = vm->hv->mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		fprintf(stderr, "runvm: mmap of vCPU %d: %m\n", id);
		return -1;
	}
	return vcpu_set_cpuid(v);
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		v->vm->hv->munmap(v->run, v->run_size);
	if (v->fd >= 0)
		v->vm->hv->close(v->fd);
	v->run = NULL;
	v->fd = -1;
	v->started = 0;
}

/* Loaders describe segments, control registers and descriptor tables; the rest keeps its reset value. */
int vcpu_set_boot_state(struct vcpu *v, const struct boot_state *b)
{
	struct vm *vm = v->vm;
	struct kvm_sregs s;
	if (vm_ioctl(vm, v->fd, KVM_GET_SREGS, &s) < 0)
		goto fail;
	if (b->has_sregs) {
		const struct kvm_sregs *n = &b->sregs;
		s.cs = n->cs; s.ds = n->ds; s.es = n->es; s.fs = n->fs; s.gs = n->gs; s.ss = n->ss;
		if (n->tr.present) {
			s.tr = n->tr;
			s.ldt = n->ldt;
		}
		s.gdt = n->gdt;
		s.idt = n->idt;
		s.cr0 = n->cr0; s.cr3 = n->cr3; s.cr4 = n->cr4; s.efer = n->efer;
	}
	if (vm_ioctl(vm, v->fd, KVM_SET_SREGS, &s) < 0)
		goto fail;
	struct kvm_regs r = b->regs;
	if (r.rflags == 0)
		r.rflags = 2;
	if (vm_ioctl(vm, v->fd, KVM_SET_REGS, &r) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "runvm: vCPU %d: setting the boot state: %m\n", v->id);
	return -1;
}

static void print_seg(FILE *out, const char *name, const struct kvm_segment *s)
{
	fprintf(out, "%-3s %04x base %016llx limit %08x type %x dpl %u p%u db%u l%u g%u\n",
		name, s->selector, (unsigned long long)s->base, s->limit, s->type,
		s->dpl, s->present, s->db, s->l, s->g);
}

void vcpu_dump_regs(struct vcpu *v, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (vm_ioctl(v->vm, v->fd, KVM_GET_REGS, &r) < 0 ||
	    vm_ioctl(v->vm, v->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(out, "vCPU %d: registers unavailable: %m\n", v->id);
		return;
	}
	fprintf(out, "vCPU %d registers:\n", v->id);
	fprintf(out, "rax %016llx rbx %016llx rcx %016llx rdx %016llx\n",
		r.rax, r.rbx, r.rcx, r.rdx);
	fprintf(out, "rsi %016llx rdi %016llx rbp %016llx rsp %016llx\n",
		r.rsi, r.rdi, r.rbp, r.rsp);
	fprintf(out, "r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n",
		r.r8, r.r9, r.r10, r.r11);
	fprintf(out, "r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n",
		r.r12, r.r13, r.r14, r.r15);
	fprintf(out, "rip %016llx rflags %08llx\n", r.rip, r.rflags);
	print_seg(out, "cs", &s.cs);
	print_seg(out, "ds", &s.ds);
	print_seg(out, "ss", &s.ss);
	print_seg(out, "tr", &s.tr);
	fprintf(out, "cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %016llx\n",
		s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	fprintf(out, "gdt %016llx/%04x idt %016llx/%04x apic_base %016llx\n",
		s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit, s.apic_base);
}

/* The KVM_RUN loop. */
static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;

	if (seccomp_enter(SECCOMP_VCPU) < 0) {
		vm_request_stop(vm, VM_STOP_ERROR, RUNVM_EXIT_VM_ERROR);
		return NULL;
	}
	while (!vm_stopping(vm)) {
		if (vm_ioctl(vm, v->fd, KVM_RUN, NULL) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				stats_count_exit(v->stats, KVM_EXIT_INTR);
				continue;
			}
			fprintf(stderr, "runvm: vCPU %d: KVM_RUN: %m\n", v->id);
			vm_request_stop(vm, VM_STOP_ERROR, RUNVM_EXIT_VM_ERROR);
			break;
		}
		stats_count_exit(v->stats, v->run->exit_reason);
		if (vcpu_handle_exit(v) != 0)
			break;
	}
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig; /* its only job is to interrupt KVM_RUN */
}

int vcpus_start(struct vm *vm)
{
	/* The main thread's filter goes on before the first guest instruction. */
	if (seccomp_enter(SECCOMP_MAIN) < 0) {
		vm_request_stop(vm, VM_STOP_ERROR, RUNVM_EXIT_VM_ERROR);
		return -1;
	}
	struct sigaction sa = { .sa_handler = kick_handler };
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL); /* no SA_RESTART: KVM_RUN must return */

	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->run->immediate_exit = 0;
		if (pthread_create(&v->thread, NULL, vcpu_thread, v) != 0) {
			fprintf(stderr, "runvm: cannot start the thread of vCPU %d\n", i);
			vm_request_stop(vm, VM_STOP_ERROR, RUNVM_EXIT_VM_ERROR);
			return -1;
		}
		v->started = 1;
	}
	return 0;
}

void vcpus_kick(struct vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		v->run->immediate_exit = 1;
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	}
}

void vcpus_join(struct vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->started)
			pthread_join(v->thread, NULL);
		v->started = 0;
	}
}
