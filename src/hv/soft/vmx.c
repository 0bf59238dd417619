/*
 * The "hardware" of the soft hypervisor, in the role of vmx.c: the
 * guest-state area (struct vmx), VM entry into the CPU with
 * VMLAUNCH/VMRESUME semantics, and the exit handlers, dispatched through
 * a table indexed by the SDM's basic exit reason.
 *
 * Handlers return 1 to go on running the guest, 0 to return to userspace
 * with kvm_run filled in, or a negative errno.
 *
 * Port and MMIO accesses reach this file twice: first from the CPU, in
 * the middle of an instruction (vmx_pio/vmx_mmio), where in-kernel
 * devices (the irqchip's) answer at once; then, for the rest, as an exit
 * (handle_io/handle_ept_violation) that goes to userspace and is
 * completed when KVM_RUN is called again.
 */
#include <errno.h>
#include <string.h>

#include "irqchip/irqchip.h"
#include "soft.h"

/* Instructions per entry before the preemption timer fires. */
#define VMX_TIME_SLICE (1u << 20)

static struct soft_vcpu *cpu_vcpu(struct cpu *c)
{
	return c->opaque;
}

/* ---- in-kernel devices, asked from inside an instruction ---- */

static int vmx_pio(struct cpu *c, struct cpu_io_entry *e)
{
	struct soft_vcpu *v = cpu_vcpu(c);
	struct irqchip *ic = v->vm->irqchip;
	if (ic && irqchip_pio(ic, (uint16_t)e->addr, e->data, e->size, e->is_write)) {
		for (uint32_t i = 1; i < e->count; i++)
			irqchip_pio(ic, (uint16_t)e->addr, e->data + i * e->size, e->size, e->is_write);
		return 1;
	}
	/* Exit qualification for I/O instructions (SDM table 28-5). */
	c->exit.qual = (uint64_t)(e->size - 1) | (e->is_write ? 0 : 8) |
		       (e->count > 1 ? 0x30 : 0) | (e->addr << 16);
	return 0;
}

static int vmx_mmio(struct cpu *c, struct cpu_io_entry *e)
{
	struct soft_vcpu *v = cpu_vcpu(c);
	struct irqchip *ic = v->vm->irqchip;
	if (ic && irqchip_mmio(ic, v->id, e->addr, e->data, e->size, e->is_write))
		return 1;
	/* EPT-violation qualification: bit 0 read, bit 1 write. */
	c->exit.qual = e->is_write ? 2 : 1;
	return 0;
}

static uint64_t vmx_get_tpr(struct cpu *c)
{
	struct soft_vcpu *v = cpu_vcpu(c);
	return v->vm->irqchip ? irqchip_get_cr8(v->vm->irqchip, v->id) : 0;
}

static void vmx_set_tpr(struct cpu *c, uint64_t cr8)
{
	struct soft_vcpu *v = cpu_vcpu(c);
	if (v->vm->irqchip)
		irqchip_set_cr8(v->vm->irqchip, v->id, cr8);
}

static uint64_t vmx_rdtsc(struct cpu *c)
{
	return kvm_read_l1_tsc(cpu_vcpu(c));
}

static const struct cpu_platform vmx_platform = {
	.pio = vmx_pio,
	.mmio = vmx_mmio,
	.get_tpr = vmx_get_tpr,
	.set_tpr = vmx_set_tpr,
	.rdtsc = vmx_rdtsc,
};

int vmx_vcpu_create(struct soft_vcpu *v)
{
	return cpu_init(&v->vmx.cpu, &v->vm->pmem, &vmx_platform, v);
}

void vmx_vcpu_free(struct soft_vcpu *v)
{
	cpu_destroy(&v->vmx.cpu);
}

/* ---- VM entry ---- */

int vmx_vcpu_run(struct soft_vcpu *v)
{
	struct vmx *vmx = &v->vmx;
	struct cpu *c = &vmx->cpu;
	struct irqchip *ic = v->vm->irqchip;

	if (!vmx->launched) {
		vmx->launched = 1;
		vmx->nr_launch++;
	} else {
		vmx->nr_resume++;
	}
	if (ic) {
		c->events = irqchip_vcpu_events(ic, v->id);
		c->ev_stop = IRQCHIP_EV_INIT | IRQCHIP_EV_SIPI | IRQCHIP_EV_KICK;
		c->ev_nmi = IRQCHIP_EV_NMI;
		c->ev_intr = IRQCHIP_EV_INTR;
	} else {
		c->events = &v->own_events;
		c->ev_stop = IRQCHIP_EV_KICK;
		c->ev_nmi = c->ev_intr = 0;
	}
	c->immediate_exit = &v->run->immediate_exit;
	c->single_step = (v->guest_debug & (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP)) ==
			 (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP);
	c->budget = VMX_TIME_SLICE;
	vmx->exit_reason = (uint32_t)cpu_run(c);
	vmx->exit_qualification = c->exit.qual;
	if (vmx->exit_reason < EXIT_REASON_MAX)
		v->nr_exits[vmx->exit_reason]++;
	return 0;
}

/* A single-step trap for the debugger (KVM_SET_GUEST_DEBUG) as KVM_EXIT_DEBUG. */
static int vmx_single_step_exit(struct soft_vcpu *v)
{
	struct cpu *c = &v->vmx.cpu;
	v->run->exit_reason = KVM_EXIT_DEBUG;
	v->run->debug.arch.exception = EX_DB;
	v->run->debug.arch.pc = c->sbase[S_CS] + c->rip;
	v->run->debug.arch.dr6 = 0xffff4ff0;
	v->run->debug.arch.dr7 = c->dr[7];
	return 0;
}

/*
 * Like KVM's kvm_skip_emulated_instruction: an instruction the hypervisor
 * emulated retires here, so a single-stepping debugger gets its trap here
 * too. Returns 1 to re-enter the guest, 0 to exit to userspace.
 */
int vmx_skip_emulated_instruction(struct soft_vcpu *v)
{
	struct cpu *c = &v->vmx.cpu;
	c->rip += c->exit.insn_len;
	if (c->mode != MODE_LONG)
		c->rip &= 0xffffffff;
	c->intr_shadow = 0;
	return c->single_step ? vmx_single_step_exit(v) : 1;
}

/* ---- exit handlers ---- */

static int handle_exception_nmi(struct soft_vcpu *v)
{
	struct cpu *c = &v->vmx.cpu;
	if (c->exit.intr.vector == EX_DB && c->single_step)
		return vmx_single_step_exit(v);
	return 1;
}

static int handle_external_interrupt(struct soft_vcpu *v)
{
	if (v->vm->irqchip)
		irqchip_vcpu_clear_kick(v->vm->irqchip, v->id);
	atomic_fetch_and(&v->own_events, ~IRQCHIP_EV_KICK);
	return 1;
}

static int handle_triple_fault(struct soft_vcpu *v)
{
	v->run->exit_reason = KVM_EXIT_SHUTDOWN;
	return 0;
}

static int handle_interrupt_window(struct soft_vcpu *v)
{
	v->vmx.cpu.intr_window_exiting = 0;
	if (!v->vm->irqchip && v->run->request_interrupt_window && !v->irq_pending) {
		v->run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
		return 0;
	}
	return 1;
}

static int handle_cpuid(struct soft_vcpu *v)
{
	kvm_emulate_cpuid(v);
	return vmx_skip_emulated_instruction(v);
}

static int handle_halt(struct soft_vcpu *v)
{
	vmx_skip_emulated_instruction(v);
	if (!v->vm->irqchip) {
		v->run->exit_reason = KVM_EXIT_HLT;
		return 0;
	}
	v->mp_state = KVM_MP_STATE_HALTED;
	return 1;
}

/* KVM's hypercall ABI: no hypercalls are offered, so every one is -KVM_ENOSYS. */
static int handle_vmcall(struct soft_vcpu *v)
{
	v->vmx.cpu.gpr[R_AX] = (uint64_t)-1000;
	return vmx_skip_emulated_instruction(v);
}

static int handle_rdmsr(struct soft_vcpu *v)
{
	struct cpu *c = &v->vmx.cpu;
	uint64_t data;
	if (kvm_get_msr(v, (uint32_t)c->gpr[R_CX], &data, 0)) {
		kvm_queue_exception(v, EX_GP, 1, 0);
		return 1;
	}
	c->gpr[R_AX] = (uint32_t)data;
	c->gpr[R_DX] = data >> 32;
	return vmx_skip_emulated_instruction(v);
}

static int handle_wrmsr(struct soft_vcpu *v)
{
	struct cpu *c = &v->vmx.cpu;
	uint64_t data = (uint32_t)c->gpr[R_AX] | (c->gpr[R_DX] << 32);
	if (kvm_set_msr(v, (uint32_t)c->gpr[R_CX], data, 0)) {
		kvm_queue_exception(v, EX_GP, 1, 0);
		return 1;
	}
	return vmx_skip_emulated_instruction(v);
}

/*
 * Finishing an instruction the VMM completed: it runs again, alone and
 * before any event is injected, replaying its port/MMIO accesses.
 */
static int complete_emulated_io(struct soft_vcpu *v)
{
	struct cpu *c = &v->vmx.cpu;
	c->step_one = 1;
	vmx_vcpu_run(v);
	c->step_one = 0;
	if (v->vmx.exit_reason == EXIT_MONITOR_TRAP)
		return 1;
	return vmx_handle_exit(v);
}

static int complete_pio_in(struct soft_vcpu *v)
{
	cpu_io_complete(&v->vmx.cpu, (uint8_t *)v->run + SOFT_PIO_OFFSET, IO_DATA_MAX);
	return complete_emulated_io(v);
}

static int complete_mmio_read(struct soft_vcpu *v)
{
	cpu_io_complete(&v->vmx.cpu, v->run->mmio.data, v->run->mmio.len);
	return complete_emulated_io(v);
}

static int complete_write(struct soft_vcpu *v)
{
	cpu_io_complete(&v->vmx.cpu, NULL, 0);
	return complete_emulated_io(v);
}

static int handle_io(struct soft_vcpu *v)
{
	struct cpu_io_entry *e = cpu_io_pending(&v->vmx.cpu);
	struct kvm_run *run = v->run;
	if (!e)
		return -EFAULT;
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = e->is_write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
	run->io.size = e->size;
	run->io.port = (uint16_t)e->addr;
	run->io.count = e->count;
	run->io.data_offset = SOFT_PIO_OFFSET;
	if (e->is_write)
		memcpy((uint8_t *)run + SOFT_PIO_OFFSET, e->data, (size_t)e->size * e->count);
	v->complete_userspace_io = e->is_write ? complete_write : complete_pio_in;
	v->pio_exit = 1;
	return 0;
}

static int handle_ept_violation(struct soft_vcpu *v)
{
	struct cpu_io_entry *e = cpu_io_pending(&v->vmx.cpu);
	struct kvm_run *run = v->run;
	if (!e)
		return -EFAULT;
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = e->addr;
	run->mmio.len = e->size;
	run->mmio.is_write = e->is_write;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	if (e->is_write)
		memcpy(run->mmio.data, e->data, e->size);
	v->complete_userspace_io = e->is_write ? complete_write : complete_mmio_read;
	return 0;
}

static int handle_preemption_timer(struct soft_vcpu *v)
{
	(void)v;
	return 1;
}

static int handle_monitor_trap(struct soft_vcpu *v)
{
	(void)v;
	return 1;
}

/* A state the CPU cannot run (code outside RAM, an overfull I/O log). */
static int handle_invalid_state(struct soft_vcpu *v)
{
	v->run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	v->run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	v->run->internal.ndata = 2;
	v->run->internal.data[0] = v->vmx.exit_qualification;
	v->run->internal.data[1] = v->vmx.cpu.rip;
	return 0;
}

static int (*const vmx_exit_handlers[EXIT_REASON_MAX])(struct soft_vcpu *v) = {
	[EXIT_EXCEPTION_NMI] = handle_exception_nmi,
	[EXIT_EXTERNAL_INTERRUPT] = handle_external_interrupt,
	[EXIT_TRIPLE_FAULT] = handle_triple_fault,
	[EXIT_INTERRUPT_WINDOW] = handle_interrupt_window,
	[EXIT_CPUID] = handle_cpuid,
	[EXIT_HLT] = handle_halt,
	[EXIT_VMCALL] = handle_vmcall,
	[EXIT_IO_INSTRUCTION] = handle_io,
	[EXIT_MSR_READ] = handle_rdmsr,
	[EXIT_MSR_WRITE] = handle_wrmsr,
	[EXIT_INVALID_STATE] = handle_invalid_state,
	[EXIT_MONITOR_TRAP] = handle_monitor_trap,
	[EXIT_EPT_VIOLATION] = handle_ept_violation,
	[EXIT_PREEMPTION_TIMER] = handle_preemption_timer,
};

int vmx_handle_exit(struct soft_vcpu *v)
{
	uint32_t reason = v->vmx.exit_reason;
	if (reason < EXIT_REASON_MAX && vmx_exit_handlers[reason])
		return vmx_exit_handlers[reason](v);
	v->run->exit_reason = KVM_EXIT_UNKNOWN;
	v->run->hw.hardware_exit_reason = reason;
	return 0;
}
