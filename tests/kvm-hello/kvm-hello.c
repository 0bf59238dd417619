/*
 * kvm-hello: a program written against /dev/kvm in the manner of the
 * public "KVM hello world" examples. It knows nothing of runvm: run under
 * LD_PRELOAD=libsoftkvm.so, the same binary runs on runvm's software
 * hypervisor instead, and must print the same.
 *
 * usage: kvm-hello -r|-s|-p|-l   (real, protected, paged 32-bit, long mode)
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE 0x200000
#define PT_ADDR  0x100000   /* page tables live at 1 MiB, code at 0 */

extern const uint8_t guest16[], guest16_end[], guest32[], guest32_end[];
extern const uint8_t guest64[], guest64_end[];

struct vm {
	int kvm, fd, cpu;
	uint8_t *mem;
	struct kvm_run *run;
};

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static void vm_setup(struct vm *vm)
{
	vm->kvm = open("/dev/kvm", O_RDWR);
	if (vm->kvm < 0)
		fail("open /dev/kvm");
	if (ioctl(vm->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fprintf(stderr, "unexpected KVM API version\n");
		exit(1);
	}
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		fail("KVM_CREATE_VM");
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000) < 0)
		fail("KVM_SET_TSS_ADDR");
	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED)
		fail("mmap mem");
	struct kvm_userspace_memory_region r = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (unsigned long)vm->mem,
	};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		fail("KVM_SET_USER_MEMORY_REGION");
	vm->cpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->cpu < 0)
		fail("KVM_CREATE_VCPU");
	int sz = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0)
		fail("KVM_GET_VCPU_MMAP_SIZE");
	vm->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, vm->cpu, 0);
	if (vm->run == MAP_FAILED)
		fail("mmap kvm_run");
}

/* Runs until HLT, copying port 0xE9 output to stdout; returns EAX. */
static int run_guest(struct vm *vm)
{
	for (;;) {
		if (ioctl(vm->cpu, KVM_RUN, 0) < 0)
			fail("KVM_RUN");
		switch (vm->run->exit_reason) {
		case KVM_EXIT_HLT: {
			struct kvm_regs regs;
			if (ioctl(vm->cpu, KVM_GET_REGS, &regs) < 0)
				fail("KVM_GET_REGS");
			return (int)regs.rax;
		}
		case KVM_EXIT_IO:
			if (vm->run->io.direction == KVM_EXIT_IO_OUT && vm->run->io.port == 0xe9) {
				char *p = (char *)vm->run + vm->run->io.data_offset;
				fwrite(p, vm->run->io.size, 1, stdout);
				fflush(stdout);
				continue;
			}
			/* fall through */
		default:
			fprintf(stderr, "unexpected exit reason %u\n", vm->run->exit_reason);
			exit(1);
		}
	}
}

static void set_regs(struct vm *vm)
{
	struct kvm_regs regs = { .rflags = 2, .rip = 0, .rsp = 0x8000 };
	if (ioctl(vm->cpu, KVM_SET_REGS, &regs) < 0)
		fail("KVM_SET_REGS");
}

static void flat_segments(struct kvm_sregs *s, int long_mode)
{
	struct kvm_segment seg = {
		.base = 0, .limit = 0xffffffff, .selector = 1 << 3, .present = 1,
		.type = 11, .dpl = 0, .db = !long_mode, .s = 1, .l = long_mode, .g = 1,
	};
	s->cs = seg;
	seg.type = 3;
	seg.selector = 2 << 3;
	seg.l = 0;
	seg.db = 1;
	s->ds = s->es = s->fs = s->gs = s->ss = seg;
}

static void mode_real(struct vm *vm, struct kvm_sregs *s)
{
	(void)vm;
	s->cs.selector = 0;
	s->cs.base = 0;
}

static void mode_protected(struct vm *vm, struct kvm_sregs *s)
{
	(void)vm;
	s->cr0 |= 1;
	flat_segments(s, 0);
}

/* 32-bit paging: one page directory with a 4 MiB identity page. */
static void mode_paged(struct vm *vm, struct kvm_sregs *s)
{
	uint32_t *pd = (uint32_t *)(vm->mem + PT_ADDR);
	pd[0] = 0x83; /* present, writable, 4 MiB */
	s->cr3 = PT_ADDR;
	s->cr4 |= 1 << 4; /* PSE */
	s->cr0 |= 1 | (1u << 31);
	flat_segments(s, 0);
}

/* 4-level paging: PML4 → PDPT → PD with one 2 MiB identity page. */
static void mode_long(struct vm *vm, struct kvm_sregs *s)
{
	uint64_t *pml4 = (uint64_t *)(vm->mem + PT_ADDR);
	uint64_t *pdpt = (uint64_t *)(vm->mem + PT_ADDR + 0x1000);
	uint64_t *pd = (uint64_t *)(vm->mem + PT_ADDR + 0x2000);
	pml4[0] = 3 | (PT_ADDR + 0x1000);
	pdpt[0] = 3 | (PT_ADDR + 0x2000);
	pd[0] = 0x83;
	s->cr3 = PT_ADDR;
	s->cr4 |= 1 << 5; /* PAE */
	s->cr0 |= 1 | (1u << 31);
	s->efer |= (1 << 8) | (1 << 10); /* LME, LMA */
	flat_segments(s, 1);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *opt;
		void (*setup)(struct vm *, struct kvm_sregs *);
		const uint8_t *code, *end;
	} modes[] = {
		{ "-r", mode_real, guest16, guest16_end },
		{ "-s", mode_protected, guest32, guest32_end },
		{ "-p", mode_paged, guest32, guest32_end },
		{ "-l", mode_long, guest64, guest64_end },
	};
	for (size_t i = 0; argc == 2 && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].opt))
			continue;
		struct vm vm;
		struct kvm_sregs s;
		vm_setup(&vm);
		if (ioctl(vm.cpu, KVM_GET_SREGS, &s) < 0)
			fail("KVM_GET_SREGS");
		modes[i].setup(&vm, &s);
		if (ioctl(vm.cpu, KVM_SET_SREGS, &s) < 0)
			fail("KVM_SET_SREGS");
		set_regs(&vm);
		memcpy(vm.mem, modes[i].code, modes[i].end - modes[i].code);
		int eax = run_guest(&vm);
		printf("halted with eax=%d\n", eax);
		return eax == 42 ? 0 : 1;
	}
	fprintf(stderr, "usage: kvm-hello -r|-s|-p|-l\n");
	return 2;
}
