/*
 * Choosing a loader by the kernel file's content, and the small helpers
 * every loader shares.
 */
#include <stdio.h>

#include "loader.h"

/* Recognised in this order; the first whose probe matches loads the file. */
static const struct kernel_format {
	int (*probe)(const struct blob *b);
	int (*load)(struct vm *vm, const struct blob *b);
} kernel_formats[] = {
	{ bzimage_probe, boot_bzimage },
	{ pvh_probe, boot_pvh },
	{ multiboot_probe, boot_multiboot },
};

static int is_elf64(const struct blob *b) { return elf_is(b, 2); }

static int boot_kernel(struct vm *vm, const struct blob *b)
{
	for (size_t i = 0; i < sizeof(kernel_formats) / sizeof(kernel_formats[0]); i++)
		if (kernel_formats[i].probe(b))
			return kernel_formats[i].load(vm, b);
	/* A broken vmlinux: let the PVH loader say what is wrong with it. */
	if (is_elf64(b))
		return boot_pvh(vm, b);
	return boot_error(b->path, "not a bzImage, PVH ELF or multiboot kernel");
}

int boot_load(struct vm *vm)
{
	const struct config *cfg = vm->cfg;
	memset(&vm->boot, 0, sizeof(vm->boot));
	if (cfg->raw && cfg->kernel) {
		fprintf(stderr, "runvm: --raw and --kernel cannot be used together\n");
		return -1;
	}
	if (!cfg->raw && !cfg->kernel) {
		fprintf(stderr, "runvm: nothing to boot: give --kernel or --raw\n");
		return -1;
	}
	struct blob b;
	if (blob_load(&b, cfg->raw ? cfg->raw : cfg->kernel) != 0)
		return -1;
	int r = cfg->raw ? boot_raw(vm, &b) : boot_kernel(vm, &b);
	blob_free(&b);
	return r;
}

const struct range *range_conflict(const struct range *r, int n, uint64_t addr, uint64_t len)
{
	for (int i = 0; i < n; i++)
		if (addr < r[i].end && r[i].start < addr + len)
			return &r[i];
	return NULL;
}

int ram_below_4g(const struct guest_mem *m, uint64_t addr, uint64_t len)
{
	return addr <= m->low_size && len <= m->low_size - addr;
}

int cmdline_write(struct vm *vm, const char *path, const char *cmdline)
{
	size_t len = strlen(cmdline);
	if (len + 1 > BOOT_CMDLINE_MAX)
		return boot_error(path, "command line is too long (%zu bytes; at most %llu)",
				  len, BOOT_CMDLINE_MAX - 1);
	return guest_write(&vm->mem, BOOT_CMDLINE_ADDR, cmdline, len + 1);
}
