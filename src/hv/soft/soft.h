/*
 * The soft hypervisor: runvm's own implementation of the KVM ABI.
 *
 * Its files follow the layering of Linux KVM, so that each can be read
 * beside its counterpart:
 *   kvm_main.c  handles and ioctl dispatch (virt/kvm/kvm_main.c)
 *   x86.c       the run loop, event injection, MSRs, CPUID (arch/x86/kvm/x86.c)
 *   vmx.c       the "hardware": guest state, VM entry, exit handlers (vmx/vmx.c)
 *   cpu/        the x86-64 processor that vmx.c enters
 *   irqchip/    the in-kernel LAPIC, I/O APIC, PIC and PIT
 */
#ifndef RUNVM_SOFT_H
#define RUNVM_SOFT_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

#include "cpu/cpu.h"

#define SOFT_MAX_VCPUS 64
#define SOFT_MAX_SLOTS PMEM_MAX_SLOTS
#define SOFT_MAX_CPUID 64
#define SOFT_RUN_SIZE  (2 * 4096)       /* struct kvm_run, then the PIO data page */
#define SOFT_PIO_OFFSET 4096
/*
 * The guest TSC runs at this rate, a linear function of CLOCK_MONOTONIC
 * shared by all vCPUs, so RDTSC, kvmclock and the TSC-deadline timer
 * agree exactly. 2 GHz: one nanosecond is two ticks.
 */
#define SOFT_TSC_HZ 2000000000ULL
/* Guest-physical address bits (CPUID 0x80000008, the page walk, APIC base). */
#define SOFT_PHYS_BITS 40

struct irqchip;
struct soft_vcpu;

enum soft_kind { SOFT_SYSTEM = 1, SOFT_VM, SOFT_VCPU };

/* Every handle starts with this. */
struct soft_handle {
	enum soft_kind kind;
	int fd;
};

struct soft_vm {
	struct soft_handle h;
	pthread_mutex_t lock;
	int refs;                       /* the VM handle and each vCPU */
	struct pmem pmem;
	struct kvm_userspace_memory_region slots[SOFT_MAX_SLOTS];
	struct soft_vcpu *vcpus[SOFT_MAX_VCPUS];
	struct irqchip *irqchip;
	int has_pit;
	uint64_t tss_addr, identity_map_addr;
	int64_t clock_base_ns;          /* CLOCK_MONOTONIC at kvmclock 0 (VM creation) */
};

/* The "hardware" state of a vCPU: the VMCS and the processor. */
struct vmx {
	struct cpu cpu;
	int launched;                   /* VMLAUNCH done; VMRESUME from now on */
	uint64_t nr_launch, nr_resume;
	uint32_t exit_reason;
	uint64_t exit_qualification;
};

struct soft_vcpu {
	struct soft_handle h;
	pthread_mutex_t mutex;          /* vCPU ioctls run one at a time, KVM_RUN included */
	int id;
	struct soft_vm *vm;
	struct kvm_run *run;
	struct vmx vmx;

	/* kvm_vcpu_arch */
	uint32_t mp_state;
	struct kvm_cpuid_entry2 cpuid[SOFT_MAX_CPUID];
	int ncpuid;
	struct {
		int pending;
		uint8_t vector, has_error;
		uint32_t error;
	} exception;                    /* raised by the hypervisor (#GP for a bad MSR) */
	int irq_pending;                /* KVM_INTERRUPT, without the in-kernel irqchip */
	uint8_t irq_vector;
	int nmi_pending;
	uint32_t guest_debug;
	uint64_t apic_base;             /* without the in-kernel irqchip */
	uint64_t misc_enable;
	uint64_t mtrr[32];              /* MTRR and friends: stored, not enforced */
	uint64_t system_time_msr;       /* MSR_KVM_SYSTEM_TIME_NEW: pvclock gpa | enable */
	uint64_t wall_clock_msr;        /* MSR_KVM_WALL_CLOCK_NEW, as last written */
	_Atomic uint32_t own_events;    /* the event word without an irqchip */
	int (*complete_userspace_io)(struct soft_vcpu *v);
	uint32_t device_raises;         /* irqchip_device_raises() at the last verify */
	int pio_exit;                   /* the last exit was port I/O (see kvm_arch_vcpu_ioctl_run) */
	uint64_t nr_exits[EXIT_REASON_MAX];
};

/* kvm_main.c */
struct soft_vcpu *soft_vcpu_get(int fd);

/* x86.c */
int kvm_arch_vcpu_ioctl_run(struct soft_vcpu *v);
int kvm_get_msr(struct soft_vcpu *v, uint32_t index, uint64_t *data, int host);
int kvm_set_msr(struct soft_vcpu *v, uint32_t index, uint64_t data, int host);
int kvm_get_msr_index_list(struct kvm_msr_list *list, uint32_t max);
int kvm_get_supported_cpuid(struct kvm_cpuid2 *c);
void kvm_emulate_cpuid(struct soft_vcpu *v);
void kvm_queue_exception(struct soft_vcpu *v, int vector, int has_error, uint32_t error);
int64_t kvm_clock_ns(struct soft_vm *vm);
uint64_t kvm_read_l1_tsc(struct soft_vcpu *v);
int kvm_arch_vcpu_create(struct soft_vcpu *v);
void kvm_vcpu_reset(struct soft_vcpu *v, int init_event);
void kvm_arch_get_regs(struct soft_vcpu *v, struct kvm_regs *r);
void kvm_arch_set_regs(struct soft_vcpu *v, const struct kvm_regs *r);
void kvm_arch_get_sregs(struct soft_vcpu *v, struct kvm_sregs *s);
int kvm_arch_set_sregs(struct soft_vcpu *v, const struct kvm_sregs *s);
void kvm_arch_get_fpu(struct soft_vcpu *v, struct kvm_fpu *f);
void kvm_arch_set_fpu(struct soft_vcpu *v, const struct kvm_fpu *f);
int kvm_arch_translate(struct soft_vcpu *v, struct kvm_translation *t);

/* vmx.c */
int vmx_vcpu_create(struct soft_vcpu *v);
void vmx_vcpu_free(struct soft_vcpu *v);
int vmx_vcpu_run(struct soft_vcpu *v);
int vmx_handle_exit(struct soft_vcpu *v);
int vmx_skip_emulated_instruction(struct soft_vcpu *v);

#endif
