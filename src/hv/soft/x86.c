/*
 * The architecture half of the soft hypervisor, in the role of KVM's
 * x86.c: the KVM_RUN path (complete the userspace I/O, then loop:
 * requests, event injection, VM entry, exit handling; block while
 * halted), the register ioctls, MSRs and CPUID.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "irqchip/irqchip.h"
#include "soft.h"

/* How long a halted vCPU sleeps before looking at immediate_exit again. */
#define HALT_POLL_NS 20000000LL

/* ---- CPUID ---- */

/*
 * What the CPU implements, and nothing more, dressed as a real processor:
 * a 64-bit Atom of the Bonnell generation (family 6, model 0x1c, the Atom
 * D510), an in-order core that executes nothing speculatively, as this
 * interpreter. Linux knows that generation is immune to the speculative
 * execution attacks, so it runs without page-table isolation, retpolines
 * or buffer clearing, which would only cost time here.
 *
 * Beyond that core: what a hypervisor adds to any model (x2APIC,
 * TSC-deadline timer, the hypervisor bit and KVM's leaves), RDTSCP, 1 GiB
 * pages and fast REP MOVSB/STOSB. The x87/MMX/SSE/SSE2 unit and
 * FXSAVE/FXRSTOR (cpu/fpu.c, cpu/sse*.c) are CPUID_1_EDX_FPU; no SSE3 or
 * later, and no XSAVE.
 */
#define CPUID_1_EAX 0x000106ca          /* family 6, model 0x1c, stepping 10 */
#define CPUID_1_ECX ((1u << 13) /* CX16 */ | (1u << 21) /* x2APIC */ | (1u << 22) /* MOVBE */ | \
		     (1u << 24) /* TSC-deadline */ | (1u << 31) /* hypervisor */)
/* FPU DE PSE TSC MSR PAE MCE CX8 APIC SEP PGE CMOV PAT CLFSH MMX */
#define CPUID_1_EDX_CORE ((1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | \
			  (1u << 6) | (1u << 7) | (1u << 8) | (1u << 9) | (1u << 11) | \
			  (1u << 13) | (1u << 15) | (1u << 16) | (1u << 19) | (1u << 23))
#define CPUID_1_EDX_FPU ((1u << 24) /* FXSR */ | (1u << 25) /* SSE */ | (1u << 26) /* SSE2 */)

/* KVM's paravirtual interface (Documentation/virt/kvm/x86/cpuid.rst). */
#define KVM_CPUID_SIGNATURE 0x40000000
#define KVM_CPUID_FEATURES  0x40000001
#define KVM_FEATURE_NOP_IO_DELAY 1
#define KVM_FEATURE_CLOCKSOURCE2 3
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT 24

static const struct kvm_cpuid_entry2 supported_cpuid[] = {
	/* Max basic leaf 7, "GenuineIntel". */
	{ .function = 0, .eax = 7, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69 },
	/* CLFLUSH line 8 quadwords, one logical processor; the VMM sets the APIC ID. */
	{ .function = 1, .eax = CPUID_1_EAX, .ebx = 0x00010800, .ecx = CPUID_1_ECX,
	  .edx = CPUID_1_EDX_CORE | CPUID_1_EDX_FPU },
	{ .function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .ebx = (1u << 9) /* ERMS */ },
	/* "KVMKVMKVM\0\0\0", and the leaves up to KVM_CPUID_FEATURES. */
	{ .function = KVM_CPUID_SIGNATURE, .eax = KVM_CPUID_FEATURES,
	  .ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x0000004d },
	{ .function = KVM_CPUID_FEATURES,
	  .eax = (1u << KVM_FEATURE_NOP_IO_DELAY) | (1u << KVM_FEATURE_CLOCKSOURCE2) |
		 (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT) },
	{ .function = 0x80000000, .eax = 0x80000008 },
	/* LAHF in 64-bit mode; SYSCALL, NX, 1 GiB pages, RDTSCP, long mode. */
	{ .function = 0x80000001, .ecx = (1u << 0),
	  .edx = (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29) },
	/* Brand string: "runvm soft CPU" */
	{ .function = 0x80000002, .eax = 0x766e7572, .ebx = 0x6f73206d, .ecx = 0x43207466, .edx = 0x00005550 },
	{ .function = 0x80000003 },
	{ .function = 0x80000004 },
	/* Invariant TSC: it is CLOCK_MONOTONIC at SOFT_TSC_HZ. */
	{ .function = 0x80000007, .edx = 1u << 8 },
	/* 40 physical, 48 linear address bits. */
	{ .function = 0x80000008, .eax = 0x3000 | SOFT_PHYS_BITS },
};

#define N_SUPPORTED_CPUID (sizeof(supported_cpuid) / sizeof(supported_cpuid[0]))

int kvm_get_supported_cpuid(struct kvm_cpuid2 *c)
{
	if (c->nent < N_SUPPORTED_CPUID) {
		c->nent = N_SUPPORTED_CPUID;
		return -E2BIG;
	}
	c->nent = N_SUPPORTED_CPUID;
	memcpy(c->entries, supported_cpuid, sizeof(supported_cpuid));
	return 0;
}

static const struct kvm_cpuid_entry2 *find_cpuid(struct soft_vcpu *v, uint32_t fn, uint32_t idx)
{
	for (int i = 0; i < v->ncpuid; i++) {
		const struct kvm_cpuid_entry2 *e = &v->cpuid[i];
		if (e->function == fn &&
		    (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == idx))
			return e;
	}
	return NULL;
}

/* CPUID from the table KVM_SET_CPUID2 gave this vCPU; unknown leaves read as zero. */
void kvm_emulate_cpuid(struct soft_vcpu *v)
{
	struct cpu *c = &v->vmx.cpu;
	uint32_t fn = (uint32_t)c->gpr[R_AX], idx = (uint32_t)c->gpr[R_CX];
	const struct kvm_cpuid_entry2 *e = find_cpuid(v, fn, idx);
	uint32_t a = 0, b = 0, cx = 0, d = 0;
	if (e) {
		a = e->eax;
		b = e->ebx;
		cx = e->ecx;
		d = e->edx;
		if (fn == 1) {  /* OSXSAVE mirrors CR4 */
			cx &= ~(1u << 27);
			if (c->cr4 & CR4_OSXSAVE)
				cx |= 1u << 27;
		}
	}
	c->gpr[R_AX] = a;
	c->gpr[R_BX] = b;
	c->gpr[R_CX] = cx;
	c->gpr[R_DX] = d;
}

/* ---- MSRs ---- */

#define MSR_IA32_TSC            0x10
#define MSR_IA32_APICBASE       0x1b
#define MSR_IA32_FEATURE_CONTROL 0x3a
#define MSR_IA32_TSC_ADJUST     0x3b
#define MSR_IA32_UCODE_REV      0x8b
#define MSR_MTRRcap             0xfe
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_MTRR_FIRST          0x200
#define MSR_MTRR_LAST           0x20f
#define MSR_MTRRfix64K          0x250
#define MSR_MTRRfix16K_80000    0x258
#define MSR_MTRRfix16K_A0000    0x259
#define MSR_MTRRfix4K_FIRST     0x268
#define MSR_MTRRfix4K_LAST      0x26f
#define MSR_IA32_CR_PAT         0x277
#define MSR_MTRRdefType         0x2ff
#define MSR_IA32_TSC_DEADLINE   0x6e0
#define MSR_EFER                0xc0000080
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_FS_BASE             0xc0000100
#define MSR_GS_BASE             0xc0000101
#define MSR_KERNEL_GS_BASE      0xc0000102
#define MSR_TSC_AUX             0xc0000103
#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

static const uint32_t msrs_to_save[] = {
	MSR_IA32_TSC, MSR_IA32_APICBASE, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP,
	MSR_IA32_SYSENTER_EIP, MSR_IA32_MISC_ENABLE, MSR_IA32_CR_PAT, MSR_MTRRdefType,
	MSR_IA32_TSC_DEADLINE, MSR_EFER, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK,
	MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_TSC_AUX,
	MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_SYSTEM_TIME_NEW,
};
#define N_MSRS (sizeof(msrs_to_save) / sizeof(msrs_to_save[0]))

int kvm_get_msr_index_list(struct kvm_msr_list *list, uint32_t max)
{
	uint32_t n = max;
	list->nmsrs = N_MSRS;
	if (n < N_MSRS)
		return -E2BIG;
	memcpy(list->indices, msrs_to_save, sizeof(msrs_to_save));
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- time: the TSC and kvmclock ---- */

/* Nanoseconds since the VM was created: kvmclock's system time. */
int64_t kvm_clock_ns(struct soft_vm *vm)
{
	return now_ns() - vm->clock_base_ns;
}

/* A whole number of ticks per nanosecond keeps RDTSC a multiplication. */
_Static_assert(SOFT_TSC_HZ % 1000000000u == 0, "SOFT_TSC_HZ is a multiple of 1 GHz");
static uint64_t ns_to_tsc(int64_t ns)
{
	return (uint64_t)ns * (SOFT_TSC_HZ / 1000000000u);
}

/* The guest TSC of this vCPU: the shared clock plus its own offset (WRMSR 0x10). */
uint64_t kvm_read_l1_tsc(struct soft_vcpu *v)
{
	return ns_to_tsc(kvm_clock_ns(v->vm)) + v->vmx.cpu.tsc_offset;
}

/*
 * The pvclock_vcpu_time_info the guest registered (struct layout of the
 * KVM ABI), and the factors that turn TSC ticks into nanoseconds:
 * ns = ((ticks << shift) * mul) >> 32, a negative shift shifting right.
 */
#define PVCLOCK_TSC_STABLE_BIT 1u
struct pvclock_time {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags, pad[2];
};
_Static_assert(sizeof(struct pvclock_time) == 32, "pvclock_vcpu_time_info is 32 bytes");

static void tsc_scale(uint32_t *mul, int8_t *shift)
{
	uint64_t base = 1000000000u, tps = SOFT_TSC_HZ;
	int s = 0;
	while (tps > 2 * base) {        /* mul < 2^32 needs ticks/s <= 2 * ns/s */
		tps >>= 1;
		s--;
	}
	while (tps <= base) {
		tps <<= 1;
		s++;
	}
	*mul = (uint32_t)((base << 32) / tps);
	*shift = (int8_t)s;
}

/* Writes a version-protected structure: odd while it changes, even after. */
static void pvclock_publish(uint32_t *version, void *dst, const void *src, size_t len)
{
	uint32_t ver = __atomic_load_n(version, __ATOMIC_RELAXED);
	ver += ver & 1;         /* a first write may find junk there */
	__atomic_store_n(version, ver + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(dst, src, len);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(version, ver + 2, __ATOMIC_RELAXED);
}

/*
 * kvm_guest_time_update: (re)writes the vCPU's pvclock from the present
 * (TSC, system time) pair. The TSC is an exact linear function of the
 * clock, so one update holds until the guest writes the TSC again.
 */
static void kvm_guest_time_update(struct soft_vcpu *v)
{
	uint64_t msr = v->system_time_msr;
	if (!(msr & 1))
		return;
	struct pvclock_time *p = pmem_host(&v->vm->pmem, msr & ~1ULL, sizeof(*p));
	if (!p)
		return;         /* not RAM: nothing to maintain (KVM ignores it too) */
	int64_t ns = kvm_clock_ns(v->vm);
	struct pvclock_time t = {
		.tsc_timestamp = ns_to_tsc(ns) + v->vmx.cpu.tsc_offset,
		.system_time = (uint64_t)ns,
		.flags = PVCLOCK_TSC_STABLE_BIT,
	};
	tsc_scale(&t.tsc_to_system_mul, &t.tsc_shift);
	pvclock_publish(&p->version, (uint8_t *)p + 8, (uint8_t *)&t + 8, sizeof(t) - 8);
}

/* kvm_write_wall_clock: the wall-clock time at kvmclock 0 (struct pvclock_wall_clock). */
static void kvm_write_wall_clock(struct soft_vcpu *v, uint64_t gpa)
{
	struct { uint32_t version, sec, nsec; } *w = pmem_host(&v->vm->pmem, gpa, 12);
	if (!w)
		return;
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	int64_t boot = (int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec - kvm_clock_ns(v->vm);
	uint32_t t[2] = { (uint32_t)(boot / 1000000000LL), (uint32_t)(boot % 1000000000LL) };
	pvclock_publish(&w->version, &w->sec, t, sizeof(t));
}

/* The MTRRs: an array slot for each, so that what is written reads back. */
static uint64_t *mtrr_slot(struct soft_vcpu *v, uint32_t i)
{
	if (i >= MSR_MTRR_FIRST && i <= MSR_MTRR_LAST)
		return &v->mtrr[i - MSR_MTRR_FIRST];
	switch (i) {
	case MSR_MTRRfix64K: return &v->mtrr[16];
	case MSR_MTRRfix16K_80000: return &v->mtrr[17];
	case MSR_MTRRfix16K_A0000: return &v->mtrr[18];
	case MSR_MTRRdefType: return &v->mtrr[27];
	}
	if (i >= MSR_MTRRfix4K_FIRST && i <= MSR_MTRRfix4K_LAST)
		return &v->mtrr[19 + i - MSR_MTRRfix4K_FIRST];
	return NULL;
}

/* Returns 0, or 1 when the guest's RDMSR must #GP. host: KVM_GET_MSRS. */
int kvm_get_msr(struct soft_vcpu *v, uint32_t i, uint64_t *data, int host)
{
	struct cpu *c = &v->vmx.cpu;
	struct irqchip *ic = v->vm->irqchip;
	(void)host;
	if (ic) {
		int r = irqchip_msr_read(ic, v->id, i, data);
		if (r != IRQCHIP_MSR_NOT_MINE)
			return r == IRQCHIP_MSR_OK ? 0 : 1;
	}
	uint64_t *m = mtrr_slot(v, i);
	if (m) {
		*data = *m;
		return 0;
	}
	switch (i) {
	case MSR_IA32_TSC: *data = cpu_rdtsc(c); break;
	case MSR_KVM_WALL_CLOCK_NEW: *data = v->wall_clock_msr; break;
	case MSR_KVM_SYSTEM_TIME_NEW: *data = v->system_time_msr; break;
	case MSR_IA32_APICBASE: *data = v->apic_base; break;
	case MSR_IA32_UCODE_REV: *data = 0x100000000ULL; break;
	case MSR_MTRRcap: *data = 0x508; break;         /* 8 variable, fixed, WC */
	case MSR_IA32_SYSENTER_CS: *data = c->sysenter_cs; break;
	case MSR_IA32_SYSENTER_ESP: *data = c->sysenter_esp; break;
	case MSR_IA32_SYSENTER_EIP: *data = c->sysenter_eip; break;
	case MSR_IA32_MISC_ENABLE: *data = v->misc_enable; break;
	case MSR_IA32_CR_PAT: *data = c->pat; break;
	case MSR_EFER: *data = c->efer; break;
	case MSR_STAR: *data = c->star; break;
	case MSR_LSTAR: *data = c->lstar; break;
	case MSR_CSTAR: *data = c->cstar; break;
	case MSR_SYSCALL_MASK: *data = c->sfmask; break;
	case MSR_FS_BASE: *data = c->seg[S_FS].base; break;
	case MSR_GS_BASE: *data = c->seg[S_GS].base; break;
	case MSR_KERNEL_GS_BASE: *data = c->kernel_gs_base; break;
	case MSR_TSC_AUX: *data = c->tsc_aux; break;
	default: return 1;
	}
	return 0;
}

/* Returns 0, or 1 when the guest's WRMSR must #GP. host: KVM_SET_MSRS. */
int kvm_set_msr(struct soft_vcpu *v, uint32_t i, uint64_t data, int host)
{
	struct cpu *c = &v->vmx.cpu;
	struct irqchip *ic = v->vm->irqchip;
	if (ic) {
		int r = irqchip_msr_write(ic, v->id, i, data, host);
		if (r != IRQCHIP_MSR_NOT_MINE)
			return r == IRQCHIP_MSR_OK ? 0 : 1;
	}
	uint64_t *m = mtrr_slot(v, i);
	if (m) {
		*m = data;
		return 0;
	}
	int canonical = (uint64_t)((int64_t)(data << 16) >> 16) == data;
	switch (i) {
	case MSR_IA32_TSC: {
		int64_t ns = kvm_clock_ns(v->vm);
		c->tsc_offset = data - ns_to_tsc(ns);
		if (ic)
			irqchip_vcpu_set_tsc(ic, v->id, ns + v->vm->clock_base_ns, data);
		kvm_guest_time_update(v);
		break;
	}
	case MSR_KVM_WALL_CLOCK_NEW:
		v->wall_clock_msr = data;
		kvm_write_wall_clock(v, data);
		break;
	case MSR_KVM_SYSTEM_TIME_NEW:
		v->system_time_msr = data;
		kvm_guest_time_update(v);
		break;
	case MSR_IA32_APICBASE: v->apic_base = data; break;
	case MSR_IA32_UCODE_REV: break;
	case MSR_IA32_SYSENTER_CS: c->sysenter_cs = data & 0xffff; break;
	case MSR_IA32_SYSENTER_ESP: c->sysenter_esp = data; break;
	case MSR_IA32_SYSENTER_EIP: c->sysenter_eip = data; break;
	case MSR_IA32_MISC_ENABLE: v->misc_enable = data; break;
	case MSR_IA32_CR_PAT: c->pat = data; break;
	case MSR_EFER:
		if (host) {
			c->efer = data;
			cpu_update_mode(c);
		} else if (cpu_set_efer(c, data)) {
			return 1;
		}
		break;
	case MSR_STAR: c->star = data; break;
	case MSR_LSTAR:
		if (!canonical)
			return 1;
		c->lstar = data;
		break;
	case MSR_CSTAR:
		if (!canonical)
			return 1;
		c->cstar = data;
		break;
	case MSR_SYSCALL_MASK: c->sfmask = data & 0xffffffff; break;
	case MSR_FS_BASE:
	case MSR_GS_BASE:
		if (!canonical)
			return 1;
		c->seg[i == MSR_FS_BASE ? S_FS : S_GS].base = data;
		cpu_update_mode(c);
		break;
	case MSR_KERNEL_GS_BASE:
		if (!canonical)
			return 1;
		c->kernel_gs_base = data;
		break;
	case MSR_TSC_AUX: c->tsc_aux = data & 0xffffffff; break;
	default: return 1;
	}
	return 0;
}

/* ---- registers ---- */

void kvm_arch_get_regs(struct soft_vcpu *v, struct kvm_regs *r)
{
	struct cpu *c = &v->vmx.cpu;
	uint64_t *g = c->gpr;
	*r = (struct kvm_regs){
		.rax = g[R_AX], .rbx = g[R_BX], .rcx = g[R_CX], .rdx = g[R_DX],
		.rsi = g[R_SI], .rdi = g[R_DI], .rsp = g[R_SP], .rbp = g[R_BP],
		.r8 = g[R_R8], .r9 = g[R_R9], .r10 = g[R_R10], .r11 = g[R_R11],
		.r12 = g[R_R12], .r13 = g[R_R13], .r14 = g[R_R14], .r15 = g[R_R15],
		.rip = c->rip, .rflags = cpu_get_rflags(c),
	};
}

void kvm_arch_set_regs(struct soft_vcpu *v, const struct kvm_regs *r)
{
	struct cpu *c = &v->vmx.cpu;
	uint64_t *g = c->gpr;
	g[R_AX] = r->rax; g[R_BX] = r->rbx; g[R_CX] = r->rcx; g[R_DX] = r->rdx;
	g[R_SI] = r->rsi; g[R_DI] = r->rdi; g[R_SP] = r->rsp; g[R_BP] = r->rbp;
	g[R_R8] = r->r8; g[R_R9] = r->r9; g[R_R10] = r->r10; g[R_R11] = r->r11;
	g[R_R12] = r->r12; g[R_R13] = r->r13; g[R_R14] = r->r14; g[R_R15] = r->r15;
	c->rip = r->rip;
	cpu_set_rflags(c, r->rflags);
}

static void get_segment(const struct seg *s, struct kvm_segment *k)
{
	uint32_t a = s->attr;
	*k = (struct kvm_segment){
		.base = s->base, .limit = s->limit, .selector = s->sel,
		.type = (uint8_t)SEG_TYPE(a), .s = !!(a & SEG_S), .dpl = (uint8_t)SEG_DPL(a),
		.present = !!(a & SEG_P), .avl = !!(a & SEG_AVL), .l = !!(a & SEG_L),
		.db = !!(a & SEG_DB), .g = !!(a & SEG_G), .unusable = !!(a & SEG_UNUSABLE),
	};
}

static void set_segment(struct seg *s, const struct kvm_segment *k)
{
	s->base = k->base;
	s->limit = k->limit;
	s->sel = k->selector;
	s->attr = (k->type & 15u) | (k->s ? SEG_S : 0) | ((k->dpl & 3u) << 5) |
		  (k->present ? SEG_P : 0) | (k->avl ? SEG_AVL : 0) | (k->l ? SEG_L : 0) |
		  (k->db ? SEG_DB : 0) | (k->g ? SEG_G : 0) | (k->unusable ? SEG_UNUSABLE : 0);
}

void kvm_arch_get_sregs(struct soft_vcpu *v, struct kvm_sregs *s)
{
	struct cpu *c = &v->vmx.cpu;
	memset(s, 0, sizeof(*s));
	get_segment(&c->seg[S_CS], &s->cs);
	get_segment(&c->seg[S_DS], &s->ds);
	get_segment(&c->seg[S_ES], &s->es);
	get_segment(&c->seg[S_FS], &s->fs);
	get_segment(&c->seg[S_GS], &s->gs);
	get_segment(&c->seg[S_SS], &s->ss);
	get_segment(&c->seg[S_TR], &s->tr);
	get_segment(&c->seg[S_LDTR], &s->ldt);
	s->gdt.base = c->gdtr.base;
	s->gdt.limit = c->gdtr.limit;
	s->idt.base = c->idtr.base;
	s->idt.limit = c->idtr.limit;
	s->cr0 = c->cr0;
	s->cr2 = c->cr2;
	s->cr3 = c->cr3;
	s->cr4 = c->cr4;
	s->efer = c->efer;
	if (v->vm->irqchip) {
		s->cr8 = irqchip_get_cr8(v->vm->irqchip, v->id);
		uint64_t base = 0;
		kvm_get_msr(v, MSR_IA32_APICBASE, &base, 1);
		s->apic_base = base;
	} else {
		s->apic_base = v->apic_base;
		if (v->irq_pending)
			s->interrupt_bitmap[v->irq_vector / 64] |= 1ULL << (v->irq_vector % 64);
	}
}

int kvm_arch_set_sregs(struct soft_vcpu *v, const struct kvm_sregs *s)
{
	struct cpu *c = &v->vmx.cpu;
	if ((s->efer & EFER_LME) && (s->cr0 & CR0_PG) && !(s->cr4 & CR4_PAE))
		return -EINVAL;
	set_segment(&c->seg[S_CS], &s->cs);
	set_segment(&c->seg[S_DS], &s->ds);
	set_segment(&c->seg[S_ES], &s->es);
	set_segment(&c->seg[S_FS], &s->fs);
	set_segment(&c->seg[S_GS], &s->gs);
	set_segment(&c->seg[S_SS], &s->ss);
	set_segment(&c->seg[S_TR], &s->tr);
	set_segment(&c->seg[S_LDTR], &s->ldt);
	c->gdtr.base = s->gdt.base;
	c->gdtr.limit = s->gdt.limit;
	c->idtr.base = s->idt.base;
	c->idtr.limit = s->idt.limit;
	c->cr0 = s->cr0 | CR0_ET;
	c->cr2 = s->cr2;
	c->cr3 = s->cr3;
	c->cr4 = s->cr4;
	c->efer = s->efer;
	if ((c->efer & EFER_LME) && (c->cr0 & CR0_PG))
		c->efer |= EFER_LMA;
	/* CPL comes from SS.DPL, as on VMX. */
	c->cpl = (c->cr0 & CR0_PE) ? (int)s->ss.dpl : 0;
	cpu_update_mode(c);
	cpu_flush_tlb(c);
	cpu_io_abandon(c);
	v->complete_userspace_io = NULL;
	if (v->vm->irqchip) {
		irqchip_set_cr8(v->vm->irqchip, v->id, s->cr8);
		kvm_set_msr(v, MSR_IA32_APICBASE, s->apic_base, 1);
	} else {
		v->apic_base = s->apic_base;
		v->irq_pending = 0;
		for (int i = 0; i < 256; i++)
			if (s->interrupt_bitmap[i / 64] & (1ULL << (i % 64))) {
				v->irq_pending = 1;
				v->irq_vector = (uint8_t)i;
				break;
			}
	}
	return 0;
}

/* struct kvm_fpu is the FXSAVE image, field by field. */
void kvm_arch_get_fpu(struct soft_vcpu *v, struct kvm_fpu *f)
{
	const uint8_t *x = v->vmx.cpu.fxsave;
	memset(f, 0, sizeof(*f));
	memcpy(&f->fcw, x + 0, 2);
	memcpy(&f->fsw, x + 2, 2);
	f->ftwx = x[4];
	memcpy(&f->last_opcode, x + 6, 2);
	memcpy(&f->last_ip, x + 8, 8);
	memcpy(&f->last_dp, x + 16, 8);
	memcpy(&f->mxcsr, x + 24, 4);
	for (int i = 0; i < 8; i++)
		memcpy(f->fpr[i], x + 32 + 16 * i, 16);
	for (int i = 0; i < 16; i++)
		memcpy(f->xmm[i], x + 160 + 16 * i, 16);
}

void kvm_arch_set_fpu(struct soft_vcpu *v, const struct kvm_fpu *f)
{
	uint8_t *x = v->vmx.cpu.fxsave;
	memcpy(x + 0, &f->fcw, 2);
	memcpy(x + 2, &f->fsw, 2);
	x[4] = f->ftwx;
	memcpy(x + 6, &f->last_opcode, 2);
	memcpy(x + 8, &f->last_ip, 8);
	memcpy(x + 16, &f->last_dp, 8);
	memcpy(x + 24, &f->mxcsr, 4);
	for (int i = 0; i < 8; i++)
		memcpy(x + 32 + 16 * i, f->fpr[i], 16);
	for (int i = 0; i < 16; i++)
		memcpy(x + 160 + 16 * i, f->xmm[i], 16);
}

int kvm_arch_translate(struct soft_vcpu *v, struct kvm_translation *t)
{
	int w = 0;
	int64_t gpa = cpu_translate(&v->vmx.cpu, t->linear_address, &w);
	t->valid = gpa >= 0;
	t->physical_address = gpa >= 0 ? (uint64_t)gpa : 0;
	t->writeable = (uint8_t)w;
	t->usermode = 0;
	return 0;
}

/* ---- life cycle ---- */

void kvm_vcpu_reset(struct soft_vcpu *v, int init_event)
{
	struct cpu *c = &v->vmx.cpu;
	uint64_t efer = c->efer;
	cpu_reset(c);
	if (init_event)         /* INIT keeps the MSRs; only the core is reset */
		c->efer = efer & ~(uint64_t)(EFER_LMA | EFER_LME);
	/* EDX holds the processor signature after reset. */
	const struct kvm_cpuid_entry2 *e = find_cpuid(v, 1, 0);
	c->gpr[R_DX] = e ? e->eax : 0x600;
	v->exception.pending = 0;
	v->complete_userspace_io = NULL;
	v->system_time_msr = 0;         /* kvmclock_reset: the guest registers it again */
	cpu_flush_code(c);
}

int kvm_arch_vcpu_create(struct soft_vcpu *v)
{
	if (vmx_vcpu_create(v) < 0)
		return -ENOMEM;
	v->misc_enable = 1;     /* fast strings */
	v->apic_base = 0xfee00800ULL | (v->id == 0 ? 0x100 : 0);
	v->mp_state = v->vm->irqchip ? irqchip_vcpu_initial_mp_state(v->vm->irqchip, v->id)
				     : KVM_MP_STATE_RUNNABLE;
	kvm_vcpu_reset(v, 0);
	/* The TSC starts at 0 with the VM; the TSC-deadline timer must count the same. */
	v->vmx.cpu.tsc_offset = 0;
	if (v->vm->irqchip)
		irqchip_vcpu_set_tsc(v->vm->irqchip, v->id, v->vm->clock_base_ns, 0);
	return 0;
}

void kvm_queue_exception(struct soft_vcpu *v, int vector, int has_error, uint32_t error)
{
	v->exception.pending = 1;
	v->exception.vector = (uint8_t)vector;
	v->exception.has_error = (uint8_t)has_error;
	v->exception.error = error;
}

/* ---- the run loop ---- */

/*
 * A device may have written guest code before it interrupted: the blocks
 * verify their bytes again. Not for the irqchip's own timers and IPIs,
 * which write nothing; without an irqchip, every interrupt is the VMM's.
 */
static void note_device_writes(struct soft_vcpu *v, struct irqchip *ic)
{
	if (ic) {
		uint32_t raises = irqchip_device_raises(ic);
		if (raises == v->device_raises)
			return;
		v->device_raises = raises;
	}
	v->vmx.cpu.stamp++;
}

/*
 * Picks the event to inject on this entry, as KVM's inject_pending_event:
 * a queued exception, then an NMI, then an external interrupt when
 * RFLAGS.IF allows and no STI/MOV SS shadow is in force. Otherwise asks
 * for an interrupt-window exit when something is waiting.
 */
static void inject_pending_event(struct soft_vcpu *v)
{
	struct cpu *c = &v->vmx.cpu;
	struct irqchip *ic = v->vm->irqchip;
	c->intr_window_exiting = 0;
	if (c->inject.type != EV_NONE)
		return;
	if (v->exception.pending) {
		c->inject = (struct cpu_event){ .type = EV_HWEXC, .vector = v->exception.vector,
						.has_err = v->exception.has_error,
						.err = v->exception.error };
		v->exception.pending = 0;
		return;
	}
	if (!c->nmi_blocked && !c->intr_shadow) {
		int nmi = v->nmi_pending || (ic && irqchip_vcpu_take_nmi(ic, v->id));
		if (nmi) {
			v->nmi_pending = 0;
			c->inject = (struct cpu_event){ .type = EV_NMI, .vector = EX_NMI };
			return;
		}
	}
	if ((c->flags & F_IF) && !c->intr_shadow) {
		int vec = -1;
		if (ic) {
			vec = irqchip_vcpu_ack_interrupt(ic, v->id);
		} else if (v->irq_pending) {
			vec = v->irq_vector;
			v->irq_pending = 0;
		}
		if (vec >= 0) {
			c->inject = (struct cpu_event){ .type = EV_EXTINT, .vector = (uint8_t)vec };
			note_device_writes(v, ic);
			return;
		}
	}
	if (!ic && (v->irq_pending || v->run->request_interrupt_window))
		c->intr_window_exiting = 1;
}

/* INIT and SIPI from the irqchip: kvm_apic_accept_events. */
static void accept_events(struct soft_vcpu *v)
{
	struct irqchip *ic = v->vm->irqchip;
	uint8_t sipi = 0;
	if (!ic)
		return;
	uint32_t ev = atomic_load(irqchip_vcpu_events(ic, v->id));
	if (!(ev & (IRQCHIP_EV_INIT | IRQCHIP_EV_SIPI)))
		return;
	unsigned todo = irqchip_vcpu_accept_events(ic, v->id, &v->mp_state, &sipi);
	if (todo & IRQCHIP_DO_INIT)
		kvm_vcpu_reset(v, 1);
	if (todo & IRQCHIP_DO_SIPI) {
		struct cpu *c = &v->vmx.cpu;
		c->seg[S_CS].sel = (uint16_t)(sipi << 8);
		c->seg[S_CS].base = (uint64_t)sipi << 12;
		c->rip = 0;
		cpu_update_mode(c);
	}
}

static int vcpu_enter_guest(struct soft_vcpu *v)
{
	accept_events(v);
	if (v->mp_state != KVM_MP_STATE_RUNNABLE)
		return 1;
	inject_pending_event(v);
	/* kvm_mmu_reload: paging-mode changes and flushes happen inside the CPU. */
	vmx_vcpu_run(v);
	return vmx_handle_exit(v);
}

static int vcpu_has_events(struct soft_vcpu *v, uint32_t ev)
{
	struct cpu *c = &v->vmx.cpu;
	if (ev & (IRQCHIP_EV_NMI | IRQCHIP_EV_INIT | IRQCHIP_EV_SIPI))
		return 1;
	return (ev & IRQCHIP_EV_INTR) && (c->flags & F_IF);
}

/* A halted vCPU, or an AP waiting for its SIPI, sleeps until an event arrives. */
static int vcpu_block(struct soft_vcpu *v)
{
	struct irqchip *ic = v->vm->irqchip;
	struct cpu *c = &v->vmx.cpu;
	if (!ic)
		return -EINVAL;
	uint32_t mask = IRQCHIP_EV_INIT | IRQCHIP_EV_SIPI;
	if (v->mp_state == KVM_MP_STATE_HALTED) {
		mask |= IRQCHIP_EV_NMI;
		if (c->flags & F_IF)
			mask |= IRQCHIP_EV_INTR;
	}
	uint32_t ev = irqchip_vcpu_wait(ic, v->id, mask, now_ns() + HALT_POLL_NS);
	if (v->mp_state == KVM_MP_STATE_HALTED && vcpu_has_events(v, ev))
		v->mp_state = KVM_MP_STATE_RUNNABLE;
	if (ev & (IRQCHIP_EV_INIT | IRQCHIP_EV_SIPI))
		accept_events(v);
	return 1;
}

static int __vcpu_run(struct soft_vcpu *v)
{
	int r = 1;
	while (r > 0) {
		if (v->mp_state == KVM_MP_STATE_RUNNABLE)
			r = vcpu_enter_guest(v);
		else
			r = vcpu_block(v);
		if (r <= 0)
			break;
		if (v->run->immediate_exit) {
			v->run->exit_reason = KVM_EXIT_INTR;
			r = -EINTR;
		}
	}
	return r;
}

static void post_run(struct soft_vcpu *v)
{
	struct cpu *c = &v->vmx.cpu;
	struct kvm_run *run = v->run;
	run->if_flag = !!(c->flags & F_IF);
	run->flags = 0;
	if (v->vm->irqchip) {
		run->cr8 = irqchip_get_cr8(v->vm->irqchip, v->id);
		uint64_t base = 0;
		kvm_get_msr(v, MSR_IA32_APICBASE, &base, 1);
		run->apic_base = base;
		run->ready_for_interrupt_injection = 0;
	} else {
		run->cr8 = 0;
		run->apic_base = v->apic_base;
		run->ready_for_interrupt_injection = (c->flags & F_IF) && !c->intr_shadow &&
						     !v->irq_pending;
	}
}

int kvm_arch_vcpu_ioctl_run(struct soft_vcpu *v)
{
	struct cpu *c = &v->vmx.cpu;
	int r;
	/*
	 * The VMM may have written guest code while we were out, and the
	 * blocks verify their bytes again. Not after port I/O: a port is
	 * served from the run structure (our devices do no DMA from port
	 * writes), and a boot writes some 30000 console bytes, after each
	 * of which the blocks compared their bytes again. Writes by a
	 * device that interrupts are caught at the interrupt. A VMM that
	 * set the registers anew (KVM_SET_SREGS, a reset) dropped the
	 * port's completion, and may have loaded code: that verifies.
	 */
	if (!(v->pio_exit && v->complete_userspace_io))
		c->stamp++;
	v->pio_exit = 0;
	/* The I/O the VMM just completed finishes first, immediate_exit or not (as in KVM). */
	if (v->complete_userspace_io) {
		int (*cui)(struct soft_vcpu *) = v->complete_userspace_io;
		v->complete_userspace_io = NULL;
		r = cui(v);
		if (r <= 0)
			goto out;
	}
	if (v->run->immediate_exit) {
		v->run->exit_reason = KVM_EXIT_INTR;
		r = -EINTR;
		goto out;
	}
	r = __vcpu_run(v);
out:
	post_run(v);
	return r;
}
