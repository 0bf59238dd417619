/*
 * The soft hypervisor end to end, through hv_soft_ops as the VMM uses it:
 * handles, memory slots, registers, KVM_RUN exits and their completion.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hv/hv.h"
#include "test.h"

#define MEM_SIZE (1u << 20)

struct vmh {
	const struct hv_ops *hv;
	int sys, vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
};

static int vm_open(struct vmh *v, const uint8_t *code, size_t len)
{
	v->hv = &hv_soft_ops;
	v->sys = v->hv->open_system();
	if (v->sys < 0)
		return -1;
	v->vm = v->hv->ioctl(v->sys, KVM_CREATE_VM, 0);
	v->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kvm_userspace_memory_region r = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)v->mem,
	};
	if (v->hv->ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -1;
	memcpy(v->mem + 0x1000, code, len);
	v->vcpu = v->hv->ioctl(v->vm, KVM_CREATE_VCPU, (void *)0);
	int sz = v->hv->ioctl(v->sys, KVM_GET_VCPU_MMAP_SIZE, NULL);
	v->run = v->hv->mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	struct kvm_sregs s;
	v->hv->ioctl(v->vcpu, KVM_GET_SREGS, &s);
	s.cs.base = 0;
	s.cs.selector = 0;
	v->hv->ioctl(v->vcpu, KVM_SET_SREGS, &s);
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2, .rsp = 0x8000 };
	v->hv->ioctl(v->vcpu, KVM_SET_REGS, &regs);
	return 0;
}

static void vm_close(struct vmh *v)
{
	v->hv->munmap(v->run, 8192);
	v->hv->close(v->vcpu);
	v->hv->close(v->vm);
	v->hv->close(v->sys);
	munmap(v->mem, MEM_SIZE);
}

static int vm_run(struct vmh *v)
{
	int r = v->hv->ioctl(v->vcpu, KVM_RUN, NULL);
	return r < 0 ? -errno : (int)v->run->exit_reason;
}

static void test_system_ioctls(void)
{
	const struct hv_ops *hv = &hv_soft_ops;
	int sys = hv->open_system();
	CHECK(sys >= 0);
	CHECK_EQ(hv->ioctl(sys, KVM_GET_API_VERSION, NULL), 12);
	CHECK_EQ(hv->ioctl(sys, KVM_CHECK_EXTENSION, (void *)KVM_CAP_IRQCHIP), 1);
	CHECK_EQ(hv->ioctl(sys, KVM_CHECK_EXTENSION, (void *)KVM_CAP_IMMEDIATE_EXIT), 1);
	CHECK_EQ(hv->ioctl(sys, KVM_CHECK_EXTENSION, (void *)12345), 0);
	CHECK_EQ(hv->ioctl(sys, 0xdead, NULL), -1);
	CHECK_EQ(errno, ENOTTY);
	struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[2]; } small = { .c.nent = 2 };
	CHECK_EQ(hv->ioctl(sys, KVM_GET_SUPPORTED_CPUID, &small), -1);
	CHECK_EQ(errno, E2BIG);
	struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[64]; } big = { .c.nent = 64 };
	CHECK_EQ(hv->ioctl(sys, KVM_GET_SUPPORTED_CPUID, &big), 0);
	CHECK(big.c.nent > 4);
	int vm = hv->ioctl(sys, KVM_CREATE_VM, 0);
	CHECK(vm >= 0);
	CHECK_EQ(hv->ioctl(vm, KVM_CREATE_VCPU, (void *)100), -1);
	CHECK_EQ(errno, EINVAL);
	int vcpu = hv->ioctl(vm, KVM_CREATE_VCPU, (void *)0);
	CHECK(vcpu >= 0);
	CHECK_EQ(hv->ioctl(vm, KVM_CREATE_VCPU, (void *)0), -1);
	CHECK_EQ(errno, EEXIST);
	hv->close(vcpu);
	hv->close(vm);
	hv->close(sys);
}

/* out 0xe9 <- 'A'; out 0x3f8 <- 'B'; in from 0x3f8; hlt */
static const uint8_t pio_code[] = {
	0xb0, 'A', 0xe6, 0xe9, 0xba, 0xf8, 0x03, 0xb0, 'B', 0xee, 0xec, 0xf4,
};

static void test_pio_and_hlt(void)
{
	struct vmh v;
	CHECK_EQ(vm_open(&v, pio_code, sizeof(pio_code)), 0);
	CHECK_EQ(vm_run(&v), KVM_EXIT_IO);
	uint8_t *data = (uint8_t *)v.run + v.run->io.data_offset;
	CHECK_EQ(v.run->io.direction, KVM_EXIT_IO_OUT);
	CHECK_EQ(v.run->io.port, 0xe9);
	CHECK_EQ(v.run->io.size, 1);
	CHECK_EQ(v.run->io.count, 1);
	CHECK_EQ(data[0], 'A');
	CHECK_EQ(vm_run(&v), KVM_EXIT_IO);
	CHECK_EQ(v.run->io.port, 0x3f8);
	CHECK_EQ(data[0], 'B');
	CHECK_EQ(vm_run(&v), KVM_EXIT_IO);
	CHECK_EQ(v.run->io.direction, KVM_EXIT_IO_IN);
	data[0] = 0x5a;
	CHECK_EQ(vm_run(&v), KVM_EXIT_HLT);
	struct kvm_regs r;
	v.hv->ioctl(v.vcpu, KVM_GET_REGS, &r);
	CHECK_EQ(r.rip, 0x1000 + sizeof(pio_code));
	CHECK_EQ(r.rax & 0xff, 0x5a);
	vm_close(&v);
}

/* rep outsw of 3 words: one exit with count 3. */
static const uint8_t rep_code[] = {
	0xbe, 0x00, 0x20,               /* mov $0x2000, %si */
	0xb9, 0x03, 0x00,               /* mov $3, %cx */
	0xba, 0x00, 0x05,               /* mov $0x500, %dx */
	0xf3, 0x6f,                     /* rep outsw */
	0xf4,
};

static void test_rep_outs(void)
{
	struct vmh v;
	CHECK_EQ(vm_open(&v, rep_code, sizeof(rep_code)), 0);
	memcpy(v.mem + 0x2000, "\x01\x00\x02\x00\x03\x00", 6);
	CHECK_EQ(vm_run(&v), KVM_EXIT_IO);
	CHECK_EQ(v.run->io.count, 3);
	CHECK_EQ(v.run->io.size, 2);
	CHECK(!memcmp((uint8_t *)v.run + v.run->io.data_offset, "\x01\x00\x02\x00\x03\x00", 6));
	CHECK_EQ(vm_run(&v), KVM_EXIT_HLT);
	struct kvm_regs r;
	v.hv->ioctl(v.vcpu, KVM_GET_REGS, &r);
	CHECK_EQ(r.rcx & 0xffff, 0);
	CHECK_EQ(r.rsi & 0xffff, 0x2006);
	vm_close(&v);
}

/* MMIO: a 4-byte read from 0xf0000000 (not RAM) into EAX, then a 2-byte write. */
static const uint8_t mmio_code[] = {
	0x66, 0xb8, 0x00, 0x00, 0x00, 0xf0,     /* mov $0xf0000000, %eax */
	0x67, 0x66, 0x8b, 0x18,                 /* mov (%eax), %ebx */
	0x67, 0x89, 0x18,                       /* mov %bx, (%eax) */
	0xf4,
};

static void test_mmio(void)
{
	struct vmh v;
	CHECK_EQ(vm_open(&v, mmio_code, sizeof(mmio_code)), 0);
	/* Big real mode is not needed: real-mode DS limit 0xffff would fault, so flatten DS. */
	struct kvm_sregs s;
	v.hv->ioctl(v.vcpu, KVM_GET_SREGS, &s);
	s.ds.limit = 0xffffffff;
	v.hv->ioctl(v.vcpu, KVM_SET_SREGS, &s);
	CHECK_EQ(vm_run(&v), KVM_EXIT_MMIO);
	CHECK_EQ(v.run->mmio.phys_addr, 0xf0000000);
	CHECK_EQ(v.run->mmio.len, 4);
	CHECK_EQ(v.run->mmio.is_write, 0);
	memcpy(v.run->mmio.data, "\x78\x56\x34\x12", 4);
	CHECK_EQ(vm_run(&v), KVM_EXIT_MMIO);
	CHECK_EQ(v.run->mmio.is_write, 1);
	CHECK_EQ(v.run->mmio.len, 2);
	CHECK(!memcmp(v.run->mmio.data, "\x78\x56", 2));
	CHECK_EQ(vm_run(&v), KVM_EXIT_HLT);
	struct kvm_regs r;
	v.hv->ioctl(v.vcpu, KVM_GET_REGS, &r);
	CHECK_EQ(r.rbx, 0x12345678);
	vm_close(&v);
}

static const uint8_t loop_code[] = { 0xeb, 0xfe };     /* jmp . */

static void test_immediate_exit(void)
{
	struct vmh v;
	CHECK_EQ(vm_open(&v, loop_code, sizeof(loop_code)), 0);
	v.run->immediate_exit = 1;
	CHECK_EQ(vm_run(&v), -EINTR);
	CHECK_EQ(v.run->exit_reason, KVM_EXIT_INTR);
	vm_close(&v);
}

static const uint8_t step_code[] = { 0x90, 0x40, 0x40, 0xf4 };        /* nop; inc %ax x2; hlt */

static void test_single_step(void)
{
	struct vmh v;
	CHECK_EQ(vm_open(&v, step_code, sizeof(step_code)), 0);
	struct kvm_guest_debug dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP };
	CHECK_EQ(v.hv->ioctl(v.vcpu, KVM_SET_GUEST_DEBUG, &dbg), 0);
	for (int i = 1; i <= 3; i++) {
		CHECK_EQ(vm_run(&v), KVM_EXIT_DEBUG);
		CHECK_EQ(v.run->debug.arch.pc, 0x1000 + (uint64_t)i);
	}
	dbg.control = 0;
	v.hv->ioctl(v.vcpu, KVM_SET_GUEST_DEBUG, &dbg);
	CHECK_EQ(vm_run(&v), KVM_EXIT_HLT);
	vm_close(&v);
}

/* A #UD with an IVT entry pointing outside the 0x3ff limit: triple fault. */
static const uint8_t ud_code[] = { 0x0f, 0x0b };

static void test_triple_fault(void)
{
	struct vmh v;
	CHECK_EQ(vm_open(&v, ud_code, sizeof(ud_code)), 0);
	struct kvm_sregs s;
	v.hv->ioctl(v.vcpu, KVM_GET_SREGS, &s);
	s.idt.limit = 0;        /* no IVT: #UD -> #GP -> #DF -> shutdown */
	v.hv->ioctl(v.vcpu, KVM_SET_SREGS, &s);
	CHECK_EQ(vm_run(&v), KVM_EXIT_SHUTDOWN);
	vm_close(&v);
}

/* CPUID from the table of KVM_SET_CPUID2; RDMSR of an MSR set by KVM_SET_MSRS. */
static const uint8_t cpuid_code[] = {
	0x66, 0x31, 0xc0,               /* xor %eax, %eax */
	0x0f, 0xa2,                     /* cpuid */
	0x66, 0xb9, 0x74, 0x01, 0x00, 0x00, /* mov $0x174, %ecx */
	0x0f, 0x32,                     /* rdmsr */
	0xf4,
};

static void test_cpuid_msrs(void)
{
	struct vmh v;
	CHECK_EQ(vm_open(&v, cpuid_code, sizeof(cpuid_code)), 0);
	struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[1]; } cpuid = {
		.c.nent = 1, .e[0] = { .function = 0, .eax = 1, .ebx = 0x11, .ecx = 0x22, .edx = 0x33 },
	};
	CHECK_EQ(v.hv->ioctl(v.vcpu, KVM_SET_CPUID2, &cpuid), 0);
	struct { struct kvm_msrs m; struct kvm_msr_entry e[1]; } msrs = {
		.m.nmsrs = 1, .e[0] = { .index = 0x174, .data = 0x1008 },
	};
	CHECK_EQ(v.hv->ioctl(v.vcpu, KVM_SET_MSRS, &msrs), 1);
	CHECK_EQ(vm_run(&v), KVM_EXIT_HLT);
	struct kvm_regs r;
	v.hv->ioctl(v.vcpu, KVM_GET_REGS, &r);
	CHECK_EQ(r.rbx, 0x11);
	CHECK_EQ(r.rax, 0x1008);
	CHECK_EQ(r.rdx, 0);
	msrs.e[0].data = 0;
	CHECK_EQ(v.hv->ioctl(v.vcpu, KVM_GET_MSRS, &msrs), 1);
	CHECK_EQ(msrs.e[0].data, 0x1008);
	vm_close(&v);
}

/*
 * Without the in-kernel irqchip: the VMM asks for an interrupt window,
 * gets KVM_EXIT_IRQ_WINDOW_OPEN once STI's shadow has passed, and injects
 * with KVM_INTERRUPT.
 */
static const uint8_t window_code[] = {
	0xfa,                           /* cli */
	0xb8, 0x01, 0x00,               /* mov $1, %ax */
	0xfb,                           /* sti */
	0x90,                           /* nop (in the shadow) */
	0xeb, 0xfe,                     /* jmp . */
};

static void test_interrupt_window(void)
{
	struct vmh v;
	CHECK_EQ(vm_open(&v, window_code, sizeof(window_code)), 0);
	static const uint8_t handler[] = { 0xbb, 0x99, 0x00, 0xf4 };   /* mov $0x99, %bx; hlt */
	memcpy(v.mem + 0x1800, handler, sizeof(handler));
	uint16_t ivt[2] = { 0x1800, 0 };
	memcpy(v.mem + 0x20 * 4, ivt, 4);
	v.run->request_interrupt_window = 1;
	CHECK_EQ(vm_run(&v), KVM_EXIT_IRQ_WINDOW_OPEN);
	CHECK_EQ(v.run->ready_for_interrupt_injection, 1);
	CHECK_EQ(v.run->if_flag, 1);
	struct kvm_regs r;
	v.hv->ioctl(v.vcpu, KVM_GET_REGS, &r);
	CHECK(r.rip >= 0x1006);         /* past the shadowed NOP */
	struct kvm_interrupt irq = { .irq = 0x20 };
	CHECK_EQ(v.hv->ioctl(v.vcpu, KVM_INTERRUPT, &irq), 0);
	v.run->request_interrupt_window = 0;
	CHECK_EQ(vm_run(&v), KVM_EXIT_HLT);
	v.hv->ioctl(v.vcpu, KVM_GET_REGS, &r);
	CHECK_EQ(r.rbx, 0x99);
	CHECK_EQ(r.rflags & 0x200, 0);  /* the IVT delivery cleared IF */
	vm_close(&v);
}

int main(void)
{
	RUN(test_system_ioctls);
	RUN(test_pio_and_hlt);
	RUN(test_rep_outs);
	RUN(test_mmio);
	RUN(test_immediate_exit);
	RUN(test_single_step);
	RUN(test_triple_fault);
	RUN(test_cpuid_msrs);
	RUN(test_interrupt_window);
	TEST_EXIT();
}
