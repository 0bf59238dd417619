/*
 * ACPI fixed hardware, at the ports the FADT gives (src/dev/devices.h):
 *
 *   PM1a event block   status (write 1 to clear) and enable, 16 bits each
 *   PM1a control       SCI_EN; SLP_TYP with SLP_EN enters a sleep state,
 *                      and S5 (soft off) powers the VM off
 *   PM timer           24-bit counter at 3.579545 MHz from CLOCK_MONOTONIC
 *   reset register     ACPI_RESET_VALUE resets the machine
 *
 * The FADT has no SMI command port, so the machine is always in ACPI mode
 * and SCI_EN reads 1 from power-on. The timer's overflow status is found
 * when the status register is read; no SCI is raised for it.
 */
#include <stdlib.h>

#include "../vmm/vm.h"
#include "device.h"
#include "devices.h"

#define STS_TMR         0x0001
#define STS_WRITABLE    0x8731  /* TMR, BM, GBL, PWRBTN, SLPBTN, RTC, WAK */
#define EN_WRITABLE     0x0721  /* TMR, GBL, PWRBTN, SLPBTN, RTC */
#define SCI_EVENTS      (STS_WRITABLE & ~STS_TMR)

#define CNT_SCI_EN      0x0001
#define CNT_KEPT        0x1c03  /* SCI_EN, BM_RLD, SLP_TYP; GBL_RLS and SLP_EN read 0 */
#define CNT_SLP_EN      0x2000
#define CNT_SLP_TYP(v)  (((v) >> 10) & 7)

#define PM_TIMER_HZ     3579545ULL
#define PM_TIMER_MASK   0xffffffu

struct acpi_pm {
	struct vm *vm;
	uint16_t sts, en, cnt;
	uint32_t timer_msb_seen;        /* bit 23 of the timer when status was last looked at */
	int sci_level;
};

static uint32_t pm_timer_ticks(void)
{
	uint64_t ns = device_clock_ns();
	uint64_t t = (ns / 1000000000ULL) * PM_TIMER_HZ + (ns % 1000000000ULL) * PM_TIMER_HZ / 1000000000ULL;
	return (uint32_t)t & PM_TIMER_MASK;
}

/* TMR_STS is set whenever bit 23 of the timer has changed. */
static void pm_poll_timer(struct acpi_pm *pm)
{
	uint32_t msb = pm_timer_ticks() >> 23;
	if (msb != pm->timer_msb_seen) {
		pm->timer_msb_seen = msb;
		pm->sts |= STS_TMR;
	}
}

static void pm_update_sci(struct acpi_pm *pm)
{
	int level = (pm->cnt & CNT_SCI_EN) && (pm->sts & pm->en & SCI_EVENTS);
	if (level != pm->sci_level) {
		pm->sci_level = level;
		vm_irq_line(pm->vm, ACPI_SCI_IRQ, level);
	}
}

/* Event block: bytes 0-1 status, 2-3 enable. */
static uint8_t pm_evt_reg_read(void *dev, unsigned reg)
{
	struct acpi_pm *pm = dev;
	uint16_t v = reg < 2 ? pm->sts : pm->en;
	return (uint8_t)(v >> (8 * (reg & 1)));
}

static void pm_evt_reg_write(void *dev, unsigned reg, uint8_t v)
{
	struct acpi_pm *pm = dev;
	uint16_t bits = (uint16_t)(v << (8 * (reg & 1)));
	if (reg < 2)
		pm->sts &= ~(bits & STS_WRITABLE);
	else
		pm->en = (uint16_t)((pm->en & ~(0xff << (8 * (reg & 1)))) | (bits & EN_WRITABLE));
}

static uint64_t pm_evt_read(void *opaque, uint64_t offset, unsigned size)
{
	pm_poll_timer(opaque);
	return regs_read(pm_evt_reg_read, opaque, offset, size, ACPI_PM1_EVT_LEN);
}

static void pm_evt_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	pm_poll_timer(opaque);
	regs_write(pm_evt_reg_write, opaque, offset, value, size, ACPI_PM1_EVT_LEN);
	pm_update_sci(opaque);
}

static void pm_sleep(struct acpi_pm *pm, unsigned slp_typ)
{
	/* Only S5 is offered (the DSDT has just \_S5); other states are ignored. */
	if (slp_typ == ACPI_SLP_TYP_S5)
		vm_request_stop(pm->vm, VM_STOP_POWEROFF, 0);
}

static uint8_t pm_cnt_reg_read(void *dev, unsigned reg)
{
	struct acpi_pm *pm = dev;
	return (uint8_t)(pm->cnt >> (8 * reg));
}

static void pm_cnt_reg_write(void *dev, unsigned reg, uint8_t v)
{
	struct acpi_pm *pm = dev;
	uint16_t bits = (uint16_t)(v << (8 * reg));
	pm->cnt = (uint16_t)((pm->cnt & ~(0xff << (8 * reg))) | (bits & CNT_KEPT));
	if (bits & CNT_SLP_EN)
		pm_sleep(pm, CNT_SLP_TYP(bits));
}

static uint64_t pm_cnt_read(void *opaque, uint64_t offset, unsigned size)
{
	return regs_read(pm_cnt_reg_read, opaque, offset, size, ACPI_PM1_CNT_LEN);
}

static void pm_cnt_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	regs_write(pm_cnt_reg_write, opaque, offset, value, size, ACPI_PM1_CNT_LEN);
	pm_update_sci(opaque);
}

static uint64_t pm_tmr_read(void *opaque, uint64_t offset, unsigned size)
{
	(void)opaque;
	uint8_t b[ACPI_PM_TMR_LEN];
	uint32_t t = pm_timer_ticks();
	for (int i = 0; i < ACPI_PM_TMR_LEN; i++)
		b[i] = (uint8_t)(t >> (8 * i));
	return buf_read(b, ACPI_PM_TMR_LEN, offset, size);
}

static void pm_reset_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct acpi_pm *pm = opaque;
	(void)size;
	if (offset == 0 && (uint8_t)value == ACPI_RESET_VALUE)
		vm_request_stop(pm->vm, VM_STOP_RESET, 0);
}

static const struct dev_ops pm_evt_ops = { .read = pm_evt_read, .write = pm_evt_write };
static const struct dev_ops pm_cnt_ops = { .read = pm_cnt_read, .write = pm_cnt_write };
static const struct dev_ops pm_tmr_ops = { .read = pm_tmr_read };
static const struct dev_ops pm_reset_ops = { .write = pm_reset_write };

static void acpi_pm_power_on(struct acpi_pm *pm)
{
	pm->sts = pm->en = 0;
	pm->cnt = CNT_SCI_EN;
	pm->timer_msb_seen = pm_timer_ticks() >> 23;
	if (pm->sci_level)
		vm_irq_line(pm->vm, ACPI_SCI_IRQ, 0);
	pm->sci_level = 0;
}

static void *acpi_pm_init(struct vm *vm)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	if (!pm)
		return NULL;
	pm->vm = vm;
	acpi_pm_power_on(pm);
	struct bus *b = &vm->pio;
	if (device_register(b, ACPI_PM1A_EVT_PORT, ACPI_PM1_EVT_LEN, &pm_evt_ops, pm, "acpi pm1a_evt") < 0 ||
	    device_register(b, ACPI_PM1A_CNT_PORT, ACPI_PM1_CNT_LEN, &pm_cnt_ops, pm, "acpi pm1a_cnt") < 0 ||
	    device_register(b, ACPI_PM_TMR_PORT, ACPI_PM_TMR_LEN, &pm_tmr_ops, pm, "acpi pm_tmr") < 0 ||
	    device_register(b, ACPI_RESET_PORT, 1, &pm_reset_ops, pm, "acpi reset") < 0) {
		free(pm);
		return NULL;
	}
	return pm;
}

static void acpi_pm_reset(void *dev)
{
	acpi_pm_power_on(dev);
}

const struct device_type acpi_pm_device = {
	.name = "acpi-pm",
	.init = acpi_pm_init,
	.reset = acpi_pm_reset,
};
