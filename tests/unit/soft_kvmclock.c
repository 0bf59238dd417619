/*
 * The soft hypervisor's paravirtual clock, as a Linux guest uses it: KVM's
 * CPUID leaves, the pvclock structure behind MSR_KVM_SYSTEM_TIME_NEW kept
 * consistent with RDTSC, and the wall clock behind MSR_KVM_WALL_CLOCK_NEW.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "hv/hv.h"
#include "test.h"

#define MEM_SIZE (1u << 20)
#define PVCLOCK_GPA 0x3000
#define WALL_GPA 0x3100
#define TSC_GPA 0x4000
#define MSR_IA32_TSC 0x10
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

struct pvclock {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t mul;
	int8_t shift;
	uint8_t flags, pad[2];
};

struct vmh {
	const struct hv_ops *hv;
	int sys, vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
};

/*
 * Real mode: WRMSR MSR_KVM_SYSTEM_TIME_NEW = PVCLOCK_GPA | enable, then
 * RDTSC into TSC_GPA, then HLT.
 */
static const uint8_t guest[] = {
	0x66, 0xb9, 0x01, 0x4d, 0x56, 0x4b,             /* mov $0x4b564d01, %ecx */
	0x66, 0xb8, 0x01, 0x30, 0x00, 0x00,             /* mov $0x3001, %eax */
	0x66, 0x31, 0xd2,                               /* xor %edx, %edx */
	0x0f, 0x30,                                     /* wrmsr */
	0x0f, 0x31,                                     /* rdtsc */
	0x66, 0xa3, 0x00, 0x40,                         /* mov %eax, 0x4000 */
	0x66, 0x89, 0x16, 0x04, 0x40,                   /* mov %edx, 0x4004 */
	0xf4,                                           /* hlt */
};

static int vm_open(struct vmh *v)
{
	v->hv = &hv_soft_ops;
	v->sys = v->hv->open_system();
	v->vm = v->hv->ioctl(v->sys, KVM_CREATE_VM, 0);
	v->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kvm_userspace_memory_region r = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)v->mem,
	};
	if (v->vm < 0 || v->hv->ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -1;
	memcpy(v->mem + 0x1000, guest, sizeof(guest));
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

static int set_msr(struct vmh *v, uint32_t index, uint64_t data)
{
	struct { struct kvm_msrs m; struct kvm_msr_entry e; } m = {
		.m.nmsrs = 1, .e = { .index = index, .data = data },
	};
	return v->hv->ioctl(v->vcpu, KVM_SET_MSRS, &m);
}

static uint64_t get_msr(struct vmh *v, uint32_t index)
{
	struct { struct kvm_msrs m; struct kvm_msr_entry e; } m = {
		.m.nmsrs = 1, .e = { .index = index },
	};
	v->hv->ioctl(v->vcpu, KVM_GET_MSRS, &m);
	return m.e.data;
}

/* What the guest computes: system_time + scaled(tsc - tsc_timestamp). */
static uint64_t pvclock_ns(const struct pvclock *p, uint64_t tsc)
{
	uint64_t d = tsc - p->tsc_timestamp;
	d = p->shift < 0 ? d >> -p->shift : d << p->shift;
	return p->system_time + (uint64_t)(((unsigned __int128)d * p->mul) >> 32);
}

static void test_kvm_cpuid_leaves(void)
{
	const struct hv_ops *hv = &hv_soft_ops;
	int sys = hv->open_system();
	struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[64]; } t = { .c.nent = 64 };
	CHECK_EQ(hv->ioctl(sys, KVM_GET_SUPPORTED_CPUID, &t), 0);
	int sig = 0, feat = 0;
	for (uint32_t i = 0; i < t.c.nent; i++) {
		const struct kvm_cpuid_entry2 *e = &t.e[i];
		if (e->function == 0x40000000) {
			char s[13] = { 0 };
			memcpy(s, &e->ebx, 4);
			memcpy(s + 4, &e->ecx, 4);
			memcpy(s + 8, &e->edx, 4);
			CHECK(!memcmp(s, "KVMKVMKVM\0\0\0", 12));
			CHECK(e->eax >= 0x40000001);
			sig = 1;
		}
		if (e->function == 0x40000001) {
			CHECK(e->eax & (1u << 3));      /* CLOCKSOURCE2 */
			CHECK(e->eax & (1u << 24));     /* CLOCKSOURCE_STABLE_BIT */
			feat = 1;
		}
		if (e->function == 1)
			CHECK(e->ecx & (1u << 31));     /* hypervisor */
		if (e->function == 0x80000007)
			CHECK(e->edx & (1u << 8));      /* invariant TSC */
	}
	CHECK(sig && feat);
	hv->close(sys);
}

/* The pvclock the guest registered agrees with the RDTSC it then reads. */
static void test_pvclock_matches_rdtsc(void)
{
	struct vmh v;
	CHECK_EQ(vm_open(&v), 0);
	CHECK_EQ(v.hv->ioctl(v.vcpu, KVM_RUN, NULL), 0);
	CHECK_EQ(v.run->exit_reason, KVM_EXIT_HLT);
	struct pvclock p;
	memcpy(&p, v.mem + PVCLOCK_GPA, sizeof(p));
	uint64_t tsc;
	memcpy(&tsc, v.mem + TSC_GPA, 8);
	CHECK(p.version && !(p.version & 1));
	CHECK(p.flags & 1);                     /* PVCLOCK_TSC_STABLE_BIT */
	CHECK(tsc >= p.tsc_timestamp);
	/* TSC 2 GHz: a nanosecond is two ticks, from the VM's creation on. */
	CHECK_EQ(pvclock_ns(&p, p.tsc_timestamp + 2000000000ULL) - p.system_time, 1000000000ULL);
	CHECK_EQ(p.tsc_timestamp, 2 * p.system_time);
	CHECK_EQ(get_msr(&v, MSR_KVM_SYSTEM_TIME_NEW), PVCLOCK_GPA | 1);
	uint64_t ns1 = pvclock_ns(&p, tsc), ns2 = pvclock_ns(&p, get_msr(&v, MSR_IA32_TSC));
	CHECK(ns2 >= ns1);
	CHECK(ns2 - ns1 < 1000000000ULL);
	vm_close(&v);
}

/* Writing the TSC moves it, and the pvclock follows without a jump in time. */
static void test_tsc_write_updates_pvclock(void)
{
	struct vmh v;
	CHECK_EQ(vm_open(&v), 0);
	CHECK_EQ(v.hv->ioctl(v.vcpu, KVM_RUN, NULL), 0);
	struct pvclock a, b;
	memcpy(&a, v.mem + PVCLOCK_GPA, sizeof(a));
	uint64_t before = pvclock_ns(&a, get_msr(&v, MSR_IA32_TSC));
	CHECK_EQ(set_msr(&v, MSR_IA32_TSC, 1000000000000ULL), 1);
	memcpy(&b, v.mem + PVCLOCK_GPA, sizeof(b));
	CHECK_EQ(b.version, a.version + 2);
	uint64_t tsc = get_msr(&v, MSR_IA32_TSC);
	CHECK(tsc >= 1000000000000ULL && tsc < 1000000000000ULL + 2000000000ULL);
	uint64_t after = pvclock_ns(&b, tsc);
	CHECK(after >= before && after - before < 1000000000ULL);
	vm_close(&v);
}

static void test_wall_clock(void)
{
	struct vmh v;
	CHECK_EQ(vm_open(&v), 0);
	CHECK_EQ(set_msr(&v, MSR_KVM_WALL_CLOCK_NEW, WALL_GPA), 1);
	uint32_t w[3];
	memcpy(w, v.mem + WALL_GPA, sizeof(w));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	CHECK(w[0] && !(w[0] & 1));
	/* The wall-clock time of kvmclock 0, that is of the VM's creation: just now. */
	CHECK(w[1] <= (uint32_t)now.tv_sec && w[1] + 10 >= (uint32_t)now.tv_sec);
	CHECK(w[2] < 1000000000u);
	CHECK_EQ(get_msr(&v, MSR_KVM_WALL_CLOCK_NEW), WALL_GPA);
	/* A structure outside RAM is ignored, not a crash. */
	CHECK_EQ(set_msr(&v, MSR_KVM_WALL_CLOCK_NEW, 0xfffff000ULL), 1);
	CHECK_EQ(set_msr(&v, MSR_KVM_SYSTEM_TIME_NEW, (MEM_SIZE - 8) | 1), 1);
	vm_close(&v);
}

int main(void)
{
	RUN(test_kvm_cpuid_leaves);
	RUN(test_pvclock_matches_rdtsc);
	RUN(test_tsc_write_updates_pvclock);
	RUN(test_wall_clock);
	TEST_EXIT();
}
