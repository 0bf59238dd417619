/*
 * The device table: which platform devices a runvm PC has, in the order
 * they are created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../vmm/vm.h"
#include "device.h"
#include "devices.h"
#include "virtio_mmio.h"

static const struct device_type *const device_table[] = {
	&serial_device,
	&i8042_device,
	&rtc_device,
	&post_device,
	&debug_exit_device,
	&acpi_pm_device,
	&fw_cfg_device,
	&testdev_device,
	&virtio_device,
};

#define N_DEVICES (sizeof(device_table) / sizeof(device_table[0]))

struct devices {
	void *state[N_DEVICES];         /* NULL for a device this VM does not have */
};

int devices_init(struct vm *vm)
{
	struct devices *d = calloc(1, sizeof(*d));
	if (!d) {
		fprintf(stderr, "runvm: out of memory for devices\n");
		return -1;
	}
	vm->devs = d;
	for (size_t i = 0; i < N_DEVICES; i++) {
		const struct device_type *t = device_table[i];
		if (t->wanted && !t->wanted(vm))
			continue;
		d->state[i] = t->init(vm);
		if (!d->state[i]) {
			fprintf(stderr, "runvm: cannot create the %s device\n", t->name);
			devices_destroy(vm);
			return -1;
		}
	}
	return 0;
}

void devices_reset(struct vm *vm)
{
	if (!vm->devs)
		return;
	for (size_t i = 0; i < N_DEVICES; i++)
		if (vm->devs->state[i] && device_table[i]->reset)
			device_table[i]->reset(vm->devs->state[i]);
}

/* Call when no vCPU runs any more: the buses still point at the states. */
void devices_destroy(struct vm *vm)
{
	if (!vm->devs)
		return;
	for (size_t i = N_DEVICES; i-- > 0;) {
		void *s = vm->devs->state[i];
		if (!s)
			continue;
		if (device_table[i]->destroy)
			device_table[i]->destroy(s);
		else
			free(s);
	}
	free(vm->devs);
	vm->devs = NULL;
}

void *devices_find(struct vm *vm, const struct device_type *type)
{
	if (!vm->devs)
		return NULL;
	for (size_t i = 0; i < N_DEVICES; i++)
		if (device_table[i] == type)
			return vm->devs->state[i];
	return NULL;
}

int device_register(struct bus *b, uint64_t base, uint64_t len,
		    const struct dev_ops *ops, void *opaque, const char *name)
{
	if (bus_register(b, base, len, ops, opaque, name) == 0)
		return 0;
	int clash = bus_find(b, base);
	fprintf(stderr, "runvm: cannot place %s at %s 0x%llx+0x%llx%s%s\n", name, b->name,
		(unsigned long long)base, (unsigned long long)len,
		clash >= 0 ? ": taken by " : "", clash >= 0 ? b->r[clash].name : "");
	return -1;
}

uint64_t device_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
