/*
 * Linux (or any) ELF64 kernel with the Xen PVH entry point: the
 * XEN_ELFNOTE_PHYS32_ENTRY note gives a 32-bit physical entry, entered in
 * flat protected mode with paging off and EBX pointing at a struct
 * hvm_start_info (Xen's public arch-x86/hvm/start_info.h, version 1).
 */
#include "../../dev/devices.h"
#include "loader.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC          0x336ec578
#define NOTE_HDR_SIZE            12

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;          /* version 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info size");

/* The start info, its module list and memory map share one page. */
#define PVH_MODLIST_ADDR (BOOT_PVH_INFO_ADDR + 0x40)
#define PVH_MEMMAP_ADDR  (BOOT_PVH_INFO_ADDR + 0x80)
_Static_assert(0x80 + E820_MAX * sizeof(struct hvm_memmap_table_entry) <= PAGE_SIZE, "PVH page");

/*
 * Looks for the PHYS32_ENTRY note in the note segment s. Returns 1 and
 * sets *entry when found, 0 when absent, -1 on a malformed note.
 */
static int pvh_note_scan(const struct blob *b, const struct elf_seg *s, uint64_t *entry)
{
	const uint8_t *p = b->data + s->offset;
	uint64_t off = 0, size = s->filesz;
	while (size - off >= NOTE_HDR_SIZE) {
		uint64_t namesz = rd32(p + off), descsz = rd32(p + off + 4);
		uint32_t type = rd32(p + off + 8);
		uint64_t name = off + NOTE_HDR_SIZE, desc = name + align_up(namesz, 4);
		if (!in_bounds(name, align_up(namesz, 4), size) || !in_bounds(desc, descsz, size))
			return -1;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && memcmp(p + name, "Xen", 4) == 0) {
			if (descsz != 4 && descsz != 8)
				return -1;
			*entry = descsz == 4 ? rd32(p + desc) : rd64(p + desc);
			return 1;
		}
		off = desc + align_up(descsz, 4);
		if (off > size)
			break;
	}
	return 0;
}

/* The entry from the first PT_NOTE that has it; same returns as above. */
static int pvh_find_entry(const struct elf_file *e, uint64_t *entry)
{
	struct elf_seg s;
	for (unsigned i = 0; i < e->phnum; i++) {
		elf_seg(e, i, &s);
		if (s.type != PT_NOTE)
			continue;
		if (!in_bounds(s.offset, s.filesz, e->b->size))
			return -1;
		int r = pvh_note_scan(e->b, &s, entry);
		if (r != 0)
			return r;
	}
	return 0;
}

int pvh_probe(const struct blob *b)
{
	struct elf_file e;
	uint64_t entry;
	return elf_probe(&e, b, 1) && pvh_find_entry(&e, &entry) == 1;
}

static int pvh_entry(const struct elf_file *e, uint64_t *entry)
{
	const char *path = e->b->path;
	int r = pvh_find_entry(e, entry);
	if (r < 0)
		return boot_error(path, "malformed ELF note segment (truncated?)");
	if (r == 0)
		return boot_error(path, "ELF file has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	if (!elf_phys_loaded(e, *entry))
		return boot_error(path, "PVH entry point 0x%llx is outside the loaded segments",
				  (unsigned long long)*entry);
	return 0;
}

static int pvh_start_info_write(struct vm *vm, uint64_t initrd, uint64_t initrd_size)
{
	struct e820_map map;
	guest_mem_e820(&vm->mem, &map);
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = 1,
		.nr_modules = initrd_size ? 1 : 0,
		.modlist_paddr = initrd_size ? PVH_MODLIST_ADDR : 0,
		.cmdline_paddr = BOOT_CMDLINE_ADDR,
		.rsdp_paddr = ACPI_TABLES_ADDR,
		.memmap_paddr = PVH_MEMMAP_ADDR,
		.memmap_entries = (uint32_t)map.n,
	};
	struct hvm_modlist_entry mod = { .paddr = initrd, .size = initrd_size };
	struct hvm_memmap_table_entry mm[E820_MAX];
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < map.n; i++)
		mm[i] = (struct hvm_memmap_table_entry){
			.addr = map.e[i].addr, .size = map.e[i].size, .type = map.e[i].type,
		};
	if (guest_write(&vm->mem, BOOT_PVH_INFO_ADDR, &si, sizeof(si)) != 0 ||
	    guest_write(&vm->mem, PVH_MODLIST_ADDR, &mod, sizeof(mod)) != 0 ||
	    guest_write(&vm->mem, PVH_MEMMAP_ADDR, mm, map.n * sizeof(mm[0])) != 0)
		return -1;
	return 0;
}

/* The initrd goes as high as possible in low RAM, above the kernel. */
static int pvh_initrd_place(const struct vm *vm, const struct initrds *rd,
			    uint64_t kernel_end, uint64_t *addr)
{
	*addr = 0;
	if (rd->n == 0)
		return 0;
	*addr = place_top(rd->total, align_up(kernel_end, PAGE_SIZE), guest_low_top(&vm->mem));
	if (!*addr)
		return boot_error(rd->b[0].path, "initrd does not fit: %llu bytes above the kernel's "
				  "end 0x%llx (give more --mem)", (unsigned long long)rd->total,
				  (unsigned long long)kernel_end);
	return 0;
}

static int pvh_write(struct vm *vm, const struct elf_file *e, uint64_t entry,
		     const struct initrds *rd, uint64_t initrd, const char *cmdline)
{
	elf_copy(vm, e);
	if (cmdline_write(vm, e->b->path, cmdline) != 0 ||
	    (rd->n && initrds_copy(vm, rd, initrd) != 0) ||
	    pvh_start_info_write(vm, initrd, rd->total) != 0 ||
	    cpu_state_protected(vm) != 0)
		return -1;
	vm->boot.regs.rip = entry;
	vm->boot.regs.rbx = BOOT_PVH_INFO_ADDR;
	return 0;
}

int boot_pvh(struct vm *vm, const struct blob *kernel)
{
	const char *cmdline = vm->cfg->append ? vm->cfg->append : "";
	size_t len = strlen(cmdline);
	if (len + 1 > BOOT_CMDLINE_MAX)
		return boot_error(kernel->path, "command line is too long (%zu bytes)", len);
	const struct range reserved[] = {
		{ BOOT_GDT_ADDR, BOOT_GDT_AREA_END, "boot GDT" },
		{ BOOT_PVH_INFO_ADDR, BOOT_PVH_INFO_ADDR + PAGE_SIZE, "PVH start info" },
		{ BOOT_CMDLINE_ADDR, BOOT_CMDLINE_ADDR + len + 1, "command line" },
		{ ACPI_TABLES_ADDR, ACPI_TABLES_ADDR + ACPI_TABLES_SIZE, "ACPI tables" },
	};
	struct elf_file e;
	uint64_t entry, lo, hi;
	if (elf_open(&e, kernel, 1) != 0 || pvh_entry(&e, &entry) != 0 ||
	    elf_check(vm, &e, reserved, 4, &lo, &hi) != 0)
		return -1;
	struct initrds rd;
	uint64_t initrd;
	if (initrds_load(&rd, vm->cfg) != 0)
		return -1;
	int r = pvh_initrd_place(vm, &rd, hi, &initrd);
	if (r == 0)
		r = pvh_write(vm, &e, entry, &rd, initrd, cmdline);
	initrds_free(&rd);
	return r;
}
