/*
 * QEMU's isa-debug-exit at DEBUG_EXIT_PORT: a write of value v ends runvm
 * with exit status (v << 1) | 1, so a test guest can report any result
 * and still be told apart from runvm's own statuses (0 is power-off).
 */
#include <stdlib.h>

#include "../vmm/vm.h"
#include "device.h"
#include "devices.h"

#define DEBUG_EXIT_WIDTH 4

struct debug_exit {
	struct vm *vm;
};

static void debug_exit_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct debug_exit *d = opaque;
	(void)offset, (void)size;
	/* The bus hands over only the bytes written; the shell keeps the low 8 bits. */
	uint32_t status = ((uint32_t)value << 1) | 1;
	vm_request_stop(d->vm, VM_STOP_EXIT, (int)status);
}

static const struct dev_ops debug_exit_ops = { .write = debug_exit_write };

static void *debug_exit_init(struct vm *vm)
{
	struct debug_exit *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->vm = vm;
	if (device_register(&vm->pio, DEBUG_EXIT_PORT, DEBUG_EXIT_WIDTH, &debug_exit_ops, d, "debug-exit") < 0) {
		free(d);
		return NULL;
	}
	return d;
}

const struct device_type debug_exit_device = {
	.name = "debug-exit",
	.init = debug_exit_init,
};
