/*
 * Raw binaries for test guests: the file is copied to one address and
 * entered there in real, 32-bit protected or 64-bit long mode (the exact
 * entry states are in boot.h).
 */
#include "loader.h"

#define REAL_MODE_END 0x10000ULL        /* CS = 0 reaches 64 KiB */

static const char *const raw_mode_names[] = {
	[RAW_REAL] = "real-mode", [RAW_PROTECTED] = "protected-mode", [RAW_LONG] = "long-mode",
};

static const struct range raw_reserved[] = {
	{ BOOT_GDT_ADDR, BOOT_GDT_AREA_END, "boot GDT" },
	{ BOOT_PML4_ADDR, BOOT_PT_END, "boot page tables" },
};

/* How many of raw_reserved each mode writes. */
static const int raw_nreserved[] = { [RAW_REAL] = 0, [RAW_PROTECTED] = 1, [RAW_LONG] = 2 };

static int raw_check(const struct vm *vm, const struct blob *b, enum raw_mode mode, uint64_t addr)
{
	const char *name = raw_mode_names[mode];
	if (mode == RAW_REAL && (addr >= REAL_MODE_END || b->size > REAL_MODE_END - addr))
		return boot_error(b->path, "%s image at 0x%llx (%zu bytes) must end below 0x10000",
				  name, (unsigned long long)addr, b->size);
	if (!ram_below_4g(&vm->mem, addr, b->size))
		return boot_error(b->path, "image at 0x%llx (%zu bytes) does not fit in guest RAM "
				  "below 0x%llx", (unsigned long long)addr, b->size,
				  (unsigned long long)guest_low_top(&vm->mem));
	const struct range *c = range_conflict(raw_reserved, raw_nreserved[mode], addr, b->size);
	if (c)
		return boot_error(b->path, "%s image at 0x%llx overlaps the %s at 0x%llx-0x%llx",
				  name, (unsigned long long)addr, c->what,
				  (unsigned long long)c->start, (unsigned long long)c->end);
	return 0;
}

static int raw_cpu_state(struct vm *vm, enum raw_mode mode)
{
	switch (mode) {
	case RAW_REAL:
		cpu_state_real(vm);
		return 0;
	case RAW_PROTECTED:
		return cpu_state_protected(vm);
	case RAW_LONG:
		return cpu_state_long(vm, 0x08);
	}
	return -1;
}

int boot_raw(struct vm *vm, const struct blob *image)
{
	enum raw_mode mode = vm->cfg->raw_mode;
	if ((unsigned)mode > RAW_LONG)
		return boot_error(image->path, "unknown raw CPU mode %d", (int)mode);
	uint64_t addr = vm->cfg->raw_addr;
	if (addr == 0)
		addr = mode == RAW_REAL ? BOOT_RAW_REAL_ADDR : BOOT_RAW_HIGH_ADDR;
	if (raw_check(vm, image, mode, addr) != 0 || raw_cpu_state(vm, mode) != 0 ||
	    guest_write(&vm->mem, addr, image->data, image->size) != 0)
		return -1;
	vm->boot.regs.rip = addr;
	vm->boot.regs.rsp = addr;
	return 0;
}
