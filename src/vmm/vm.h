/*
 * A virtual machine: its hypervisor handles, memory, buses, devices and vCPUs.
 */
#ifndef RUNVM_VM_H
#define RUNVM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "../hv/hv.h"
#include "bus.h"
#include "config.h"
#include "mem.h"

struct vm;
struct stats;

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	int started;
	struct vcpu_stats *stats;       /* NULL without --stats */
};

/* Why the VM stopped; decides what runvm does next. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_POWEROFF,       /* ACPI power-off: exit status 0 */
	VM_STOP_RESET,          /* reboot the guest */
	VM_STOP_EXIT,           /* a chosen exit status (debug-exit port, Ctrl-A x) */
	VM_STOP_SIGNAL,         /* SIGINT / SIGTERM to runvm */
	VM_STOP_ERROR,          /* an exit runvm cannot handle */
};

/* The boot state a loader leaves for vCPU 0. */
struct boot_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	int has_sregs;          /* sregs holds a full state to set */
};

struct vm {
	const struct config *cfg;
	const struct hv_ops *hv;
	int sys_fd;
	int vm_fd;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	int ncpus;
	struct vcpu vcpus[CONFIG_MAX_CPUS];
	struct kvm_cpuid2 *cpuid;       /* supported CPUID, set per vCPU with its APIC ID */
	int host_hw_virt;               /* the host CPU has VT-x or AMD-V */
	struct boot_state boot;

	_Atomic int stop_reason;
	_Atomic int signalled;          /* SIGINT/SIGTERM seen: no more reboots */
	int exit_status;
	int stop_fd;                    /* eventfd: wakes the main thread on a stop request */
	pthread_mutex_t machine_lock;   /* guards vm_fd against reboots */

	struct devices *devs;           /* the platform devices (src/dev) */
	struct stats *stats;
};

/* Hypervisor calls go through the seam (src/hv/hv.h). */
static inline int vm_ioctl(struct vm *vm, int fd, unsigned long req, void *arg)
{
	return vm->hv->ioctl(fd, req, arg);
}

/*
 * Exit statuses of runvm besides the guest's own: power-off gives 0, the
 * debug-exit port gives (value << 1) | 1.
 */
#define RUNVM_EXIT_USAGE       2    /* bad option or input file */
#define RUNVM_EXIT_VM_ERROR    3    /* an exit runvm cannot handle, hypervisor error */
#define RUNVM_EXIT_TRIPLE      4    /* triple fault with --no-reboot */
#define RUNVM_EXIT_SIGNAL      130  /* SIGINT/SIGTERM, like a shell */

/*
 * vm_init opens the hypervisor and allocates memory once per run;
 * vm_machine_create makes the hypervisor VM (memory slots, irqchip, PIT,
 * vCPUs) and is repeated on each guest reboot.
 */
int vm_init(struct vm *vm, const struct config *cfg, const struct hv_ops *hv);
void vm_fini(struct vm *vm);
int vm_machine_create(struct vm *vm);
void vm_machine_destroy(struct vm *vm);

/* Raises or lowers an interrupt line (GSI) of the in-kernel irqchip. */
void vm_irq_line(struct vm *vm, unsigned gsi, int level);

/*
 * Asks every vCPU to stop with the given reason. The first request wins;
 * later ones are ignored. Safe from any thread, not from a signal handler.
 */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int exit_status);
/* Async-signal-safe version for SIGINT/SIGTERM. */
void vm_request_stop_from_signal(struct vm *vm);
int vm_stopping(struct vm *vm);
/* Blocks the main thread until some thread asks the VM to stop. */
enum vm_stop_reason vm_wait_stop(struct vm *vm);

/* vcpu.c */
int vcpu_create(struct vm *vm, int id);
void vcpu_destroy(struct vcpu *v);
int vcpu_set_boot_state(struct vcpu *v, const struct boot_state *b);
int vcpus_start(struct vm *vm);
void vcpus_kick(struct vm *vm);
void vcpus_join(struct vm *vm);
void vcpu_dump_regs(struct vcpu *v, FILE *out);
/* exits.c: one KVM_EXIT_* dispatch; returns 0 to go on, non-zero to stop. */
int vcpu_handle_exit(struct vcpu *v);
const char *kvm_exit_name(unsigned reason);

#define VCPU_KICK_SIGNAL SIGUSR1

#endif
