/*
 * The POST diagnostic port (0x80). Kernels write to it as a short I/O
 * delay; it stores nothing and reads as all ones (the bus default for a
 * range without a read op).
 */
#include <stdlib.h>

#include "../vmm/vm.h"
#include "device.h"
#include "devices.h"

static const struct dev_ops post_ops = { 0 };

static void *post_init(struct vm *vm)
{
	static int present;     /* no state: any non-NULL pointer will do */
	return device_register(&vm->pio, POST_PORT, 1, &post_ops, NULL, "post") < 0 ? NULL : &present;
}

static void post_destroy(void *dev)
{
	(void)dev;
}

const struct device_type post_device = {
	.name = "post",
	.init = post_init,
	.destroy = post_destroy,
};
