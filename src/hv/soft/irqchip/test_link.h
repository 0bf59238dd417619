/*
 * For the irqchip's unit tests only: makes every function of irqchip.h a
 * weak reference, so a test program still links when the build does not
 * include the irqchip yet (src/hv/soft/soft.mk decides); irqchip_linked()
 * then returns false and the test reports SKIP. Include after irqchip.h.
 */
#ifndef RUNVM_IRQCHIP_TEST_LINK_H
#define RUNVM_IRQCHIP_TEST_LINK_H

#include <stdbool.h>

#include "irqchip.h"

#pragma weak irqchip_create
#pragma weak irqchip_create_pit
#pragma weak irqchip_destroy
#pragma weak irqchip_device_raises
#pragma weak irqchip_get_chip
#pragma weak irqchip_get_cr8
#pragma weak irqchip_get_lapic
#pragma weak irqchip_get_pit2
#pragma weak irqchip_irq_line
#pragma weak irqchip_mmio
#pragma weak irqchip_msr_read
#pragma weak irqchip_msr_write
#pragma weak irqchip_nmi
#pragma weak irqchip_pio
#pragma weak irqchip_reset
#pragma weak irqchip_run_timers
#pragma weak irqchip_set_chip
#pragma weak irqchip_set_cr8
#pragma weak irqchip_set_gsi_routing
#pragma weak irqchip_set_lapic
#pragma weak irqchip_set_pit2
#pragma weak irqchip_signal_msi
#pragma weak irqchip_vcpu_accept_events
#pragma weak irqchip_vcpu_ack_interrupt
#pragma weak irqchip_vcpu_clear_kick
#pragma weak irqchip_vcpu_create
#pragma weak irqchip_vcpu_events
#pragma weak irqchip_vcpu_initial_mp_state
#pragma weak irqchip_vcpu_kick
#pragma weak irqchip_vcpu_next_deadline
#pragma weak irqchip_vcpu_pending_vector
#pragma weak irqchip_vcpu_set_tsc
#pragma weak irqchip_vcpu_take_nmi
#pragma weak irqchip_vcpu_wait

static inline bool irqchip_linked(void)
{
	return irqchip_create != NULL;
}

#endif
