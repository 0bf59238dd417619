/*
 * Port-I/O and MMIO buses: the VMM's address decoders.
 *
 * A device registers a range on a bus with an ops struct; an IO or MMIO exit
 * is dispatched to the device whose range holds the address. Access to an
 * address no device claims reads as all ones and drops writes, as on a PC.
 */
#ifndef RUNVM_BUS_H
#define RUNVM_BUS_H

#include <pthread.h>
#include <stdint.h>

struct dev_ops {
	/* offset is from the start of the registered range; size is 1, 2, 4 or 8. */
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
	void (*write)(void *opaque, uint64_t offset, uint64_t value, unsigned size);
};

#define BUS_MAX_RANGES 64

struct bus_range {
	uint64_t base, len;
	const struct dev_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;          /* "pio" or "mmio" */
	int n;
	struct bus_range r[BUS_MAX_RANGES];
	/*
	 * Devices are called with this lock held, so device code need not be
	 * thread-safe against several vCPUs; devices that also run threads of
	 * their own (the serial input) take it too.
	 */
	pthread_mutex_t lock;
};

void bus_init(struct bus *b, const char *name);
/* Returns 0, or -1 when the range overlaps another or the bus is full. */
int bus_register(struct bus *b, uint64_t base, uint64_t len,
		 const struct dev_ops *ops, void *opaque, const char *name);
/* Index of the range holding addr, or -1. */
int bus_find(const struct bus *b, uint64_t addr);
/*
 * Dispatches an access; returns the range index (for statistics) or -1 when
 * unclaimed. Reads of an unclaimed address give all ones.
 */
int bus_read(struct bus *b, uint64_t addr, void *data, unsigned size);
int bus_write(struct bus *b, uint64_t addr, const void *data, unsigned size);

#endif
