/*
 * What a platform device file provides to the device table in devices.c,
 * and small helpers shared by the device files.
 *
 * Device ops run with the bus lock held (src/vmm/bus.h); a device with a
 * thread of its own takes the same lock before touching its state.
 */
#ifndef RUNVM_DEVICE_H
#define RUNVM_DEVICE_H

#include <stdint.h>

#include "../vmm/bus.h"

struct vm;

struct device_type {
	const char *name;
	/* Only devices whose wanted() is true (or NULL) are created. */
	int (*wanted)(const struct vm *vm);
	/* Allocates the state and registers its ranges; NULL with a message on failure. */
	void *(*init)(struct vm *vm);
	/* Back to the power-on state for a guest reboot; NULL when nothing to do. */
	void (*reset)(void *dev);
	/* Stops threads and frees the state; NULL means free(). */
	void (*destroy)(void *dev);
};

extern const struct device_type serial_device;
extern const struct device_type i8042_device;
extern const struct device_type rtc_device;
extern const struct device_type debug_exit_device;
extern const struct device_type post_device;
extern const struct device_type acpi_pm_device;
extern const struct device_type fw_cfg_device;
extern const struct device_type testdev_device;

/* The state of a created device of this type, or NULL (tests use it). */
void *devices_find(struct vm *vm, const struct device_type *type);

/* bus_register() that says what clashed; 0 or -1. */
int device_register(struct bus *b, uint64_t base, uint64_t len,
		    const struct dev_ops *ops, void *opaque, const char *name);

/*
 * Byte-wide register files. A wider access touches consecutive registers,
 * as an ISA bus splits it; registers past nregs read as 0xff and ignore
 * writes.
 */
typedef uint8_t (*reg_read_fn)(void *dev, unsigned reg);
typedef void (*reg_write_fn)(void *dev, unsigned reg, uint8_t value);

static inline uint64_t regs_read(reg_read_fn fn, void *dev, uint64_t offset,
				 unsigned size, unsigned nregs)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size && i < 8; i++) {
		uint64_t reg = offset + i;
		uint8_t b = reg < nregs ? fn(dev, (unsigned)reg) : 0xff;
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

static inline void regs_write(reg_write_fn fn, void *dev, uint64_t offset,
			      uint64_t value, unsigned size, unsigned nregs)
{
	for (unsigned i = 0; i < size && i < 8; i++) {
		uint64_t reg = offset + i;
		if (reg < nregs)
			fn(dev, (unsigned)reg, (uint8_t)(value >> (8 * i)));
	}
}

/* Little-endian byte buffers read or written at any offset and width. */
static inline uint64_t buf_read(const uint8_t *buf, uint64_t len, uint64_t offset, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size && i < 8; i++)
		if (offset + i < len)
			v |= (uint64_t)buf[offset + i] << (8 * i);
	return v;
}

static inline void buf_write(uint8_t *buf, uint64_t len, uint64_t offset, uint64_t value, unsigned size)
{
	for (unsigned i = 0; i < size && i < 8; i++)
		if (offset + i < len)
			buf[offset + i] = (uint8_t)(value >> (8 * i));
}

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t device_clock_ns(void);

#endif
