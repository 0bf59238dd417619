/*
 * QEMU's firmware configuration device, legacy I/O interface (see QEMU's
 * docs/specs/fw_cfg.rst): a 16-bit little-endian write of a key to the
 * selector port picks an item and rewinds it; byte reads from the data
 * port (selector + 1) return the item's bytes in turn, then zeros. Data
 * writes are ignored, as in QEMU since 2.4. There is no DMA interface.
 */
#include <stdlib.h>
#include <string.h>

#include "../vmm/vm.h"
#include "device.h"
#include "devices.h"

#define FW_CFG_SIGNATURE   0x0000
#define FW_CFG_ID          0x0001
#define FW_CFG_RAM_SIZE    0x0003
#define FW_CFG_NOGRAPHIC   0x0004
#define FW_CFG_NB_CPUS     0x0005
#define FW_CFG_MAX_CPUS    0x000f
#define FW_CFG_FILE_DIR    0x0019
#define FW_CFG_WRITE_CHANNEL 0x4000     /* selects the same item */

#define FW_CFG_ID_TRADITIONAL 0x01

#define SELECTOR_OFFSET    0
#define DATA_OFFSET        1
#define MAX_ITEM           8

struct fw_cfg_item {
	uint16_t key;
	uint8_t len;
	uint8_t data[MAX_ITEM];
};

#define MAX_ITEMS          8

struct fw_cfg {
	struct fw_cfg_item items[MAX_ITEMS];
	int n_items;
	const struct fw_cfg_item *cur; /* NULL: the selected key has no item */
	uint32_t offset;
};

static void fw_cfg_add(struct fw_cfg *f, uint16_t key, uint64_t le_value, uint8_t len)
{
	if (f->n_items >= MAX_ITEMS || len > MAX_ITEM)
		return;
	struct fw_cfg_item *it = &f->items[f->n_items++];
	it->key = key;
	it->len = len;
	for (int i = 0; i < len; i++)
		it->data[i] = (uint8_t)(le_value >> (8 * i));
}

static void fw_cfg_select(struct fw_cfg *f, uint16_t key)
{
	key &= ~FW_CFG_WRITE_CHANNEL;
	f->cur = NULL;
	f->offset = 0;
	for (int i = 0; i < f->n_items; i++)
		if (f->items[i].key == key)
			f->cur = &f->items[i];
}

static uint8_t fw_cfg_next_byte(struct fw_cfg *f)
{
	if (!f->cur || f->offset >= f->cur->len)
		return 0;
	return f->cur->data[f->offset++];
}

static uint64_t fw_cfg_read(void *opaque, uint64_t offset, unsigned size)
{
	struct fw_cfg *f = opaque;
	if (offset != DATA_OFFSET)
		return 0;
	/* Wider reads than the byte port defines return the next bytes in order. */
	uint64_t v = 0;
	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t)fw_cfg_next_byte(f) << (8 * i);
	return v;
}

static void fw_cfg_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	if (offset == SELECTOR_OFFSET && size == 2)
		fw_cfg_select(opaque, (uint16_t)value);
}

static const struct dev_ops fw_cfg_ops = { .read = fw_cfg_read, .write = fw_cfg_write };

static void *fw_cfg_init(struct vm *vm)
{
	struct fw_cfg *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	uint64_t sig;
	memcpy(&sig, "QEMU\0\0\0\0", 8);
	fw_cfg_add(f, FW_CFG_SIGNATURE, sig, 4);
	fw_cfg_add(f, FW_CFG_ID, FW_CFG_ID_TRADITIONAL, 4);
	fw_cfg_add(f, FW_CFG_RAM_SIZE, vm->mem.size, 8);
	fw_cfg_add(f, FW_CFG_NOGRAPHIC, 1, 2);
	fw_cfg_add(f, FW_CFG_NB_CPUS, (uint64_t)vm->ncpus, 2);
	fw_cfg_add(f, FW_CFG_MAX_CPUS, (uint64_t)vm->ncpus, 2);
	fw_cfg_add(f, FW_CFG_FILE_DIR, 0, 4);   /* no files: a big-endian count of 0 */
	fw_cfg_select(f, FW_CFG_SIGNATURE);
	if (device_register(&vm->pio, FW_CFG_PORT, 2, &fw_cfg_ops, f, "fw_cfg") < 0) {
		free(f);
		return NULL;
	}
	return f;
}

static void fw_cfg_reset(void *dev)
{
	fw_cfg_select(dev, FW_CFG_SIGNATURE);
}

const struct device_type fw_cfg_device = {
	.name = "fw_cfg",
	.init = fw_cfg_init,
	.reset = fw_cfg_reset,
};
