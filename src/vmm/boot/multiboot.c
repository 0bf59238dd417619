/*
 * Multiboot v1 kernels (Multiboot Specification 0.6.96), loaded the way
 * QEMU's -kernel loads them: an ELF32 image at its physical addresses, or
 * the flat image the header's a.out-kludge addresses describe (flag 16).
 * The kernel starts in flat 32-bit protected mode, paging off, with
 * EAX = 0x2BADB002 and EBX pointing at the information block; that block,
 * its strings and the modules (one per --initrd) follow the kernel.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../dev/devices.h"
#include "loader.h"

#define MB_HEADER_MAGIC  0x1badb002u
#define MB_BOOT_MAGIC    0x2badb002u
#define MB_SEARCH        8192
#define MB_HEADER_SIZE   12
#define MB_AOUT_SIZE     32             /* header with the five address fields */

/* Header flags 0-15 are requirements a loader must meet or refuse. */
#define MB_FLAG_PAGE_ALIGN  (1u << 0)   /* modules page-aligned: always so */
#define MB_FLAG_MEMORY_INFO (1u << 1)   /* mem_* and mmap: always given */
#define MB_FLAG_VIDEO       (1u << 2)   /* a preferred mode: there is no display */
#define MB_FLAG_AOUT_KLUDGE (1u << 16)
#define MB_FLAGS_MET        (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO | MB_FLAG_VIDEO)

#define MBI_MEM          (1u << 0)
#define MBI_CMDLINE      (1u << 2)
#define MBI_MODS         (1u << 3)
#define MBI_MMAP         (1u << 6)
#define MBI_LOADER_NAME  (1u << 9)

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;  /* KiB below 640 KiB / above 1 MiB */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe_control_info, vbe_mode_info;
	uint16_t vbe_mode, vbe_interface_seg, vbe_interface_off, vbe_interface_len;
};
_Static_assert(sizeof(struct mb_info) == 88, "multiboot info size");

struct mb_module {
	uint32_t mod_start, mod_end;
	uint32_t string;
	uint32_t reserved;
};

struct mb_mmap_entry {
	uint32_t size;                  /* of the rest: 20 */
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

/* Where the kernel goes, decided before anything is written. */
struct mb_kernel {
	struct elf_file elf;
	int is_elf;
	uint64_t file_off, load_addr, load_size;        /* a.out kludge */
	uint64_t start, end, entry;                     /* guest span and entry */
};

/* Finds a valid header in the first 8 KiB; 1 and *off when found. */
static int mb_find(const struct blob *b, uint64_t *off)
{
	uint64_t end = b->size < MB_SEARCH ? b->size : MB_SEARCH;
	for (uint64_t o = 0; o + MB_HEADER_SIZE <= end; o += 4) {
		const uint8_t *p = b->data + o;
		if (rd32(p) == MB_HEADER_MAGIC && (uint32_t)(rd32(p) + rd32(p + 4) + rd32(p + 8)) == 0) {
			*off = o;
			return 1;
		}
	}
	return 0;
}

int multiboot_probe(const struct blob *b)
{
	uint64_t off;
	return mb_find(b, &off);
}

/* Checks the kernel's span against RAM and the loader's own ranges. */
static int mb_check_span(struct vm *vm, const char *path, const struct range *res, int nres,
			 uint64_t start, uint64_t end)
{
	if (!ram_below_4g(&vm->mem, start, end - start))
		return boot_error(path, "kernel at 0x%llx-0x%llx is outside guest RAM below 4 GiB",
				  (unsigned long long)start, (unsigned long long)end);
	const struct range *c = range_conflict(res, nres, start, end - start);
	if (c)
		return boot_error(path, "kernel at 0x%llx overlaps the %s at 0x%llx",
				  (unsigned long long)start, c->what, (unsigned long long)c->start);
	return 0;
}

/* The a.out kludge: header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr. */
static int mb_plan_aout(struct mb_kernel *k, struct vm *vm, const struct blob *b, uint64_t off,
			const struct range *res, int nres)
{
	if (off + MB_AOUT_SIZE > b->size || off + MB_AOUT_SIZE > MB_SEARCH)
		return boot_error(b->path, "multiboot header's address fields are truncated");
	const uint8_t *p = b->data + off;
	uint64_t header = rd32(p + 12), load = rd32(p + 16), load_end = rd32(p + 20);
	uint64_t bss_end = rd32(p + 24);
	k->entry = rd32(p + 28);
	if (header < load || header - load > off)
		return boot_error(b->path, "multiboot load_addr 0x%llx does not fit header_addr 0x%llx "
				  "at file offset 0x%llx", (unsigned long long)load,
				  (unsigned long long)header, (unsigned long long)off);
	k->file_off = off - (header - load);
	k->load_addr = load;
	if (load_end == 0)
		k->load_size = b->size - k->file_off;
	else if (load_end < load)
		return boot_error(b->path, "multiboot load_end_addr is below load_addr");
	else
		k->load_size = load_end - load;
	if (!in_bounds(k->file_off, k->load_size, b->size))
		return boot_error(b->path, "truncated: the multiboot header loads 0x%llx bytes from "
				  "file offset 0x%llx", (unsigned long long)k->load_size,
				  (unsigned long long)k->file_off);
	k->start = load;
	k->end = load + k->load_size;
	if (bss_end && bss_end < k->end)
		return boot_error(b->path, "multiboot bss_end_addr is below load_end_addr");
	if (bss_end)
		k->end = bss_end;
	return mb_check_span(vm, b->path, res, nres, k->start, k->end);
}

static int mb_plan_elf(struct mb_kernel *k, struct vm *vm, const struct blob *b,
		       const struct range *res, int nres)
{
	if (elf_is(b, 2))
		return boot_error(b->path, "64-bit ELF multiboot kernels cannot be loaded: build a "
				  "32-bit ELF, or give load addresses in the header (flag 16)");
	if (!elf_is(b, 1))
		return boot_error(b->path, "multiboot header has no load addresses (flag 16) and "
				  "the file is not ELF");
	k->is_elf = 1;
	if (elf_open(&k->elf, b, 0) != 0 || elf_check(vm, &k->elf, res, nres, &k->start, &k->end) != 0)
		return -1;
	/* The entry may be given as a virtual address; use where it is loaded. */
	k->entry = elf_virt_to_phys(&k->elf, k->elf.entry);
	return 0;
}

static int mb_plan(struct mb_kernel *k, struct vm *vm, const struct blob *b)
{
	static const struct range reserved[] = {
		{ BOOT_GDT_ADDR, BOOT_GDT_AREA_END, "boot GDT" },
		{ ACPI_TABLES_ADDR, ACPI_TABLES_ADDR + ACPI_TABLES_SIZE, "ACPI tables" },
	};
	uint64_t off;
	memset(k, 0, sizeof(*k));
	if (!mb_find(b, &off))
		return boot_error(b->path, "no multiboot header in the first 8 KiB");
	uint32_t flags = rd32(b->data + off + 4);
	if (flags & 0xffff & ~MB_FLAGS_MET)
		return boot_error(b->path, "multiboot header requires features runvm lacks (flags 0x%x)",
				  flags & 0xffff & ~MB_FLAGS_MET);
	int r = (flags & MB_FLAG_AOUT_KLUDGE) ? mb_plan_aout(k, vm, b, off, reserved, 2)
					      : mb_plan_elf(k, vm, b, reserved, 2);
	if (r != 0)
		return -1;
	if (k->entry < k->start || k->entry >= k->end)
		return boot_error(b->path, "multiboot entry point 0x%llx is outside the loaded kernel",
				  (unsigned long long)k->entry);
	return 0;
}

static void mb_copy_kernel(struct vm *vm, const struct mb_kernel *k, const struct blob *b)
{
	if (k->is_elf) {
		elf_copy(vm, &k->elf);
		return;
	}
	uint8_t *dst = guest_ptr(&vm->mem, k->start, k->end - k->start);
	memcpy(dst, b->data + k->file_off, k->load_size);
	memset(dst + k->load_size, 0, k->end - k->start - k->load_size);
}

/* A bump allocator over guest memory, from after the kernel to low RAM's top. */
struct mb_space {
	uint64_t next, top;
};

static uint64_t mb_alloc(struct mb_space *s, uint64_t size, uint64_t align)
{
	uint64_t a = align_up(s->next, align);
	if (a < s->next || a > s->top || size > s->top - a)
		return 0;
	s->next = a + size;
	return a;
}

/* The multiboot info block and all it points to. */
struct mb_layout {
	uint64_t info, mmap, name, cmdline, mods;
	uint64_t mod_string[CONFIG_MAX_INITRD], mod[CONFIG_MAX_INITRD];
};

static int mb_layout(struct mb_layout *l, struct mb_space *s, const struct initrds *rd,
		     size_t cmdline_len, int n_mmap, const char *path)
{
	l->info = mb_alloc(s, sizeof(struct mb_info), 8);
	l->mmap = mb_alloc(s, (uint64_t)n_mmap * sizeof(struct mb_mmap_entry), 8);
	l->mods = mb_alloc(s, (uint64_t)rd->n * sizeof(struct mb_module), 8);
	l->name = mb_alloc(s, sizeof("runvm"), 1);
	l->cmdline = mb_alloc(s, cmdline_len + 1, 1);
	int ok = l->info && l->mmap && l->mods && l->name && l->cmdline;
	for (int i = 0; i < rd->n; i++) {
		l->mod_string[i] = mb_alloc(s, strlen(rd->b[i].path) + 1, 1);
		ok = ok && l->mod_string[i];
	}
	if (!ok)
		return boot_error(path, "multiboot information does not fit in RAM after the kernel");
	for (int i = 0; i < rd->n; i++) {
		l->mod[i] = mb_alloc(s, rd->b[i].size, PAGE_SIZE);
		if (!l->mod[i])
			return boot_error(rd->b[i].path, "initrd does not fit: module of %zu bytes after "
					  "the kernel and earlier modules (give more --mem)", rd->b[i].size);
	}
	return 0;
}

static void mb_write_info(struct vm *vm, const struct mb_layout *l, const struct initrds *rd,
			  const char *cmdline, const struct e820_map *map)
{
	const struct guest_mem *m = &vm->mem;
	struct mb_info info = {
		.flags = MBI_MEM | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME,
		.mem_lower = (uint32_t)(MEM_LOW_END >> 10),
		.mem_upper = (uint32_t)((guest_low_top(m) - MEM_HIGH_START) >> 10),
		.cmdline = (uint32_t)l->cmdline,
		.mods_count = (uint32_t)rd->n,
		.mods_addr = (uint32_t)l->mods,
		.mmap_length = (uint32_t)(map->n * sizeof(struct mb_mmap_entry)),
		.mmap_addr = (uint32_t)l->mmap,
		.boot_loader_name = (uint32_t)l->name,
	};
	guest_write(m, l->info, &info, sizeof(info));
	for (int i = 0; i < map->n; i++) {
		struct mb_mmap_entry e = {
			.size = sizeof(e) - 4, .addr = map->e[i].addr,
			.len = map->e[i].size, .type = map->e[i].type,
		};
		guest_write(m, l->mmap + i * sizeof(e), &e, sizeof(e));
	}
	for (int i = 0; i < rd->n; i++) {
		struct mb_module mod = {
			.mod_start = (uint32_t)l->mod[i],
			.mod_end = (uint32_t)(l->mod[i] + rd->b[i].size),
			.string = (uint32_t)l->mod_string[i],
		};
		guest_write(m, l->mods + i * sizeof(mod), &mod, sizeof(mod));
		guest_write(m, l->mod_string[i], rd->b[i].path, strlen(rd->b[i].path) + 1);
		guest_write(m, l->mod[i], rd->b[i].data, rd->b[i].size);
	}
	guest_write(m, l->name, "runvm", sizeof("runvm"));
	guest_write(m, l->cmdline, cmdline, strlen(cmdline) + 1);
}

/* As QEMU does: the kernel's file name, then a space and --append if given. */
static char *mb_cmdline(const struct config *cfg, const char *path)
{
	char *s = NULL;
	int n = cfg->append ? asprintf(&s, "%s %s", path, cfg->append) : asprintf(&s, "%s", path);
	return n < 0 ? NULL : s;
}

static int mb_boot(struct vm *vm, const struct blob *b, const struct mb_kernel *k,
		   const struct initrds *rd, const char *cmdline)
{
	struct e820_map map;
	guest_mem_e820(&vm->mem, &map);
	uint64_t after = k->end > MEM_HIGH_START ? k->end : MEM_HIGH_START;
	struct mb_space s = { .next = align_up(after, PAGE_SIZE), .top = guest_low_top(&vm->mem) };
	struct mb_layout l;
	memset(&l, 0, sizeof(l));
	if (mb_layout(&l, &s, rd, strlen(cmdline), map.n, b->path) != 0)
		return -1;
	mb_copy_kernel(vm, k, b);
	mb_write_info(vm, &l, rd, cmdline, &map);
	if (cpu_state_protected(vm) != 0)
		return -1;
	vm->boot.regs.rax = MB_BOOT_MAGIC;
	vm->boot.regs.rbx = l.info;
	vm->boot.regs.rip = k->entry;
	return 0;
}

int boot_multiboot(struct vm *vm, const struct blob *kernel)
{
	struct mb_kernel k;
	if (mb_plan(&k, vm, kernel) != 0)
		return -1;
	char *cmdline = mb_cmdline(vm->cfg, kernel->path);
	if (!cmdline)
		return boot_error(kernel->path, "out of memory");
	struct initrds rd;
	int r = initrds_load(&rd, vm->cfg);
	if (r == 0) {
		r = mb_boot(vm, kernel, &k, &rd, cmdline);
		initrds_free(&rd);
	}
	free(cmdline);
	return r;
}
