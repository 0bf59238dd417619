/*
 * The exit handlers: what the VMM does with each kvm_run->exit_reason.
 *
 * One small function per reason, dispatched through exit_handlers[]. A
 * reason without a handler stops the VM with a message that names it and
 * a register dump; runvm never spins on an exit it does not understand.
 * Handlers return 0 to re-enter the guest, non-zero to leave the loop.
 */
#include <stdio.h>

#include "stats.h"
#include "vm.h"

static const char *const exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "EXCEPTION",
	[KVM_EXIT_IO] = "IO",
	[KVM_EXIT_HYPERCALL] = "HYPERCALL",
	[KVM_EXIT_DEBUG] = "DEBUG",
	[KVM_EXIT_HLT] = "HLT",
	[KVM_EXIT_MMIO] = "MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[KVM_EXIT_INTR] = "INTR",
	[KVM_EXIT_SET_TPR] = "SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
	[KVM_EXIT_NMI] = "NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[KVM_EXIT_OSI] = "OSI",
	[KVM_EXIT_PAPR_HCALL] = "PAPR_HCALL",
	[KVM_EXIT_WATCHDOG] = "WATCHDOG",
	[KVM_EXIT_EPR] = "EPR",
	[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	[KVM_EXIT_IOAPIC_EOI] = "IOAPIC_EOI",
	[KVM_EXIT_HYPERV] = "HYPERV",
	[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
	[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
	[KVM_EXIT_DIRTY_RING_FULL] = "DIRTY_RING_FULL",
	[KVM_EXIT_X86_BUS_LOCK] = "X86_BUS_LOCK",
};

const char *kvm_exit_name(unsigned reason)
{
	if (reason < sizeof(exit_names) / sizeof(exit_names[0]) && exit_names[reason])
		return exit_names[reason];
	return "(unnamed)";
}

/* Stops the VM because of this exit, with its name and the registers. */
static int stop_on_exit(struct vcpu *v, const char *what)
{
	fprintf(stderr, "runvm: vCPU %d: %s (exit reason %u, KVM_EXIT_%s)\n", v->id, what,
		v->run->exit_reason, kvm_exit_name(v->run->exit_reason));
	vcpu_dump_regs(v, stderr);
	vm_request_stop(v->vm, VM_STOP_ERROR, RUNVM_EXIT_VM_ERROR);
	return 1;
}

static int handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;

	if (run->io.data_offset + (uint64_t)run->io.count * size > v->run_size)
		return stop_on_exit(v, "I/O exit with data outside the run page");
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&v->vm->pio, run->io.port, data, size);
		else
			bus_read(&v->vm->pio, run->io.port, data, size);
	}
	if (v->stats)
		v->stats->pio[run->io.port] += run->io.count;
	return 0;
}

static int handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len;
	int range;

	if (len == 0 || len > sizeof(run->mmio.data))
		return stop_on_exit(v, "MMIO exit with a bad length");
	if (run->mmio.is_write)
		range = bus_write(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		range = bus_read(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	if (v->stats)
		v->stats->mmio[range >= 0 ? range : STATS_MMIO_UNCLAIMED]++;
	return 0;
}

/* With the in-kernel irqchip the hypervisor waits in HLT itself; an exit means nothing can wake it. */
static int handle_hlt(struct vcpu *v)
{
	return stop_on_exit(v, "the guest halted and nothing can wake it");
}

static int handle_shutdown(struct vcpu *v)
{
	struct vm *vm = v->vm;
	fprintf(stderr, "runvm: vCPU %d: triple fault (KVM_EXIT_SHUTDOWN)%s\n", v->id,
		vm->cfg->no_reboot ? "" : ", resetting");
	vcpu_dump_regs(v, stderr);
	if (vm->cfg->no_reboot)
		vm_request_stop(vm, VM_STOP_EXIT, RUNVM_EXIT_TRIPLE);
	else
		vm_request_stop(vm, VM_STOP_RESET, 0);
	return 1;
}

static int handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(v->vm, VM_STOP_POWEROFF, 0);
		return 1;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(v->vm, VM_STOP_RESET, 0);
		return 1;
	default:
		return stop_on_exit(v, "system event (crash)");
	}
}

static int handle_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	fprintf(stderr, "runvm: vCPU %d: hypervisor internal error, suberror %u", v->id,
		run->internal.suberror);
	for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++)
		fprintf(stderr, " %llx", (unsigned long long)run->internal.data[i]);
	fputc('\n', stderr);
	return stop_on_exit(v, "cannot go on after an internal error");
}

static int handle_fail_entry(struct vcpu *v)
{
	fprintf(stderr, "runvm: vCPU %d: VM entry failed, hardware reason 0x%llx\n", v->id,
		(unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
	return stop_on_exit(v, "cannot enter the guest");
}

static int handle_unknown(struct vcpu *v)
{
	fprintf(stderr, "runvm: vCPU %d: unknown exit, hardware exit reason %llu\n", v->id,
		(unsigned long long)v->run->hw.hardware_exit_reason);
	return stop_on_exit(v, "exit the hypervisor could not handle");
}

/* A signal (a kick) or an open interrupt window: just go round again. */
static int handle_nothing(struct vcpu *v)
{
	(void)v;
	return 0;
}

typedef int (*exit_handler_fn)(struct vcpu *v);

static const exit_handler_fn exit_handlers[] = {
	[KVM_EXIT_UNKNOWN] = handle_unknown,
	[KVM_EXIT_IO] = handle_io,
	[KVM_EXIT_MMIO] = handle_mmio,
	[KVM_EXIT_HLT] = handle_hlt,
	[KVM_EXIT_SHUTDOWN] = handle_shutdown,
	[KVM_EXIT_SYSTEM_EVENT] = handle_system_event,
	[KVM_EXIT_INTERNAL_ERROR] = handle_internal_error,
	[KVM_EXIT_FAIL_ENTRY] = handle_fail_entry,
	[KVM_EXIT_INTR] = handle_nothing,
	[KVM_EXIT_IRQ_WINDOW_OPEN] = handle_nothing,
};

int vcpu_handle_exit(struct vcpu *v)
{
	unsigned reason = v->run->exit_reason;
	if (reason < sizeof(exit_handlers) / sizeof(exit_handlers[0]) && exit_handlers[reason])
		return exit_handlers[reason](v);
	return stop_on_exit(v, "no handler for this exit");
}
