/*
 * Just enough of the i8042 keyboard controller to reset the machine, and
 * system control port B (0x61).
 *
 * There is no keyboard: the status register never reports data, and the
 * FADT says the 8042 is absent so Linux does not probe it. Resets come
 * from the "pulse output line" commands (0xfe pulses the reset line) and
 * from writing the output port (command 0xd1) with the reset bit low.
 *
 * Port B is normally served by the in-kernel PIT; this model only answers
 * when the hypervisor leaves the port to us. Its refresh bit toggles every
 * 15 us and the PIT channel 2 output is modelled as channel 2 counting
 * 65536 in square-wave mode, so that polling loops on either bit end.
 */
#include <stdlib.h>

#include "../vmm/vm.h"
#include "device.h"
#include "devices.h"

#define STATUS_SYSTEM       0x04    /* self-test passed */
#define STATUS_UNLOCKED     0x10    /* keyboard not inhibited */

#define CMD_WRITE_OUTPUT    0xd1
#define OUTPUT_RESET_HIGH   0x01    /* the reset line is active low */

#define PORT_B_WRITABLE     0x0f    /* gate 2, speaker, parity and channel checks */
#define PORT_B_REFRESH      0x10
#define PORT_B_OUT2         0x20

#define REFRESH_PERIOD_NS   15085ULL
#define PIT_HZ              1193182ULL

struct i8042 {
	struct vm *vm;
	uint8_t command;                /* command whose data byte is awaited */
	uint8_t port_b;
};

static void i8042_pulse_reset(struct i8042 *k)
{
	vm_request_stop(k->vm, VM_STOP_RESET, 0);
}

static uint64_t i8042_data_read(void *opaque, uint64_t offset, unsigned size)
{
	(void)opaque, (void)offset, (void)size;
	return 0;
}

static void i8042_data_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct i8042 *k = opaque;
	(void)offset, (void)size;
	if (k->command == CMD_WRITE_OUTPUT && !(value & OUTPUT_RESET_HIGH))
		i8042_pulse_reset(k);
	k->command = 0;
}

static uint64_t i8042_status_read(void *opaque, uint64_t offset, unsigned size)
{
	(void)opaque, (void)offset, (void)size;
	return STATUS_SYSTEM | STATUS_UNLOCKED;
}

static void i8042_command_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct i8042 *k = opaque;
	uint8_t cmd = (uint8_t)value;
	(void)offset, (void)size;
	/* 0xf0-0xff pulse the output lines whose bits are 0; bit 0 is reset. */
	if (cmd >= 0xf0 && !(cmd & 0x01))
		i8042_pulse_reset(k);
	k->command = cmd;
}

static uint64_t port_b_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8042 *k = opaque;
	(void)offset, (void)size;
	uint64_t ns = device_clock_ns();
	uint64_t pit_ticks = (ns / 1000000000ULL) * PIT_HZ + (ns % 1000000000ULL) * PIT_HZ / 1000000000ULL;
	uint8_t v = k->port_b;
	if ((ns / REFRESH_PERIOD_NS) & 1)
		v |= PORT_B_REFRESH;
	if ((pit_ticks & 0xffff) < 0x8000)
		v |= PORT_B_OUT2;
	return v;
}

static void port_b_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct i8042 *k = opaque;
	(void)offset, (void)size;
	k->port_b = value & PORT_B_WRITABLE;
}

static const struct dev_ops i8042_data_ops = { .read = i8042_data_read, .write = i8042_data_write };
static const struct dev_ops i8042_cmd_ops = { .read = i8042_status_read, .write = i8042_command_write };
static const struct dev_ops port_b_ops = { .read = port_b_read, .write = port_b_write };

static void *i8042_init(struct vm *vm)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->vm = vm;
	if (device_register(&vm->pio, I8042_DATA_PORT, 1, &i8042_data_ops, k, "i8042 data") < 0 ||
	    device_register(&vm->pio, I8042_CMD_PORT, 1, &i8042_cmd_ops, k, "i8042 command") < 0 ||
	    device_register(&vm->pio, SYSTEM_PORT_B, 1, &port_b_ops, k, "port B") < 0) {
		free(k);
		return NULL;
	}
	return k;
}

static void i8042_reset(void *dev)
{
	struct i8042 *k = dev;
	k->command = 0;
	k->port_b = 0;
}

const struct device_type i8042_device = {
	.name = "i8042",
	.init = i8042_init,
	.reset = i8042_reset,
};
