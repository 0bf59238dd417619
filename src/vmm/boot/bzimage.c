/*
 * Linux bzImage, entered at its 64-bit entry point (boot protocol 2.12+
 * with XLF_KERNEL_64): the protected-mode kernel at 1 MiB, a zero page with
 * the image's setup header, command line, e820 map and initrd, and the CPU
 * in long mode with the boot GDT the protocol asks for.
 */
#include <stdio.h>

#include "../../dev/devices.h"
#include "bzimage.h"
#include "loader.h"

#define PROTO(maj, min)          ((maj) << 8 | (min))
#define INITRD_ADDR_MAX_DEFAULT  0x37ffffffULL  /* before protocol 2.03 */
#define BZIMAGE_CODE_SEL         0x10           /* __BOOT_CS; __BOOT_DS is 0x18 */
#define BZIMAGE_ENTRY_64         0x200          /* from the protected-mode start */

/* What the loader learns from the image before touching guest memory. */
struct bzimage {
	struct setup_header hdr;        /* the image's header, zero past its end */
	uint64_t hdr_end;               /* file offset where the header ends */
	uint64_t setup_size;            /* bytes before the protected-mode code */
	uint64_t pm_size;
	uint64_t kernel_end;            /* end of memory the kernel unpacks into */
};

int bzimage_probe(const struct blob *b)
{
	return b->size >= 0x206 && rd32(b->data + 0x202) == SETUP_HDR_MAGIC;
}

static int bzimage_check_version(const struct bzimage *k, const char *path)
{
	unsigned v = k->hdr.version;
	if (v < PROTO(2, 6))
		return boot_error(path, "boot protocol %u.%02u is too old (runvm needs 2.06 or later)",
				  v >> 8, v & 0xff);
	if (v < PROTO(2, 12) || !(k->hdr.xloadflags & XLF_KERNEL_64))
		return boot_error(path, "kernel has no 64-bit entry point (xloadflags "
				  "XLF_KERNEL_64 not set; boot protocol %u.%02u)", v >> 8, v & 0xff);
	if (k->hdr_end < SETUP_HDR_OFFSET + sizeof(struct setup_header) - 8)
		return boot_error(path, "setup header is too short for boot protocol %u.%02u",
				  v >> 8, v & 0xff);
	return 0;
}

static int bzimage_parse(struct bzimage *k, const struct blob *b)
{
	memset(k, 0, sizeof(*k));
	if (!bzimage_probe(b))
		return boot_error(b->path, "not a bzImage (no \"HdrS\" at 0x202)");
	if (b->size < 0x208)
		return boot_error(b->path, "setup header truncated");
	k->hdr_end = 0x202 + (uint64_t)b->data[0x201];
	if (k->hdr_end > b->size)
		return boot_error(b->path, "setup header truncated");
	uint64_t n = k->hdr_end - SETUP_HDR_OFFSET;
	memcpy(&k->hdr, b->data + SETUP_HDR_OFFSET, n < sizeof(k->hdr) ? n : sizeof(k->hdr));
	if (bzimage_check_version(k, b->path) != 0)
		return -1;
	unsigned sects = k->hdr.setup_sects ? k->hdr.setup_sects : 4;
	k->setup_size = (sects + 1ULL) * SETUP_SECT_SIZE;
	if (k->setup_size < k->hdr_end)
		return boot_error(b->path, "setup header runs past the setup code");
	if (k->setup_size >= b->size)
		return boot_error(b->path, "truncated: no kernel after the setup code");
	k->pm_size = b->size - k->setup_size;
	/* syssize is rounded up to 16 bytes: a shorter kernel was cut off. */
	if ((uint64_t)k->hdr.syssize * 16 > k->pm_size + 15)
		return boot_error(b->path, "truncated: the setup header says %llu bytes of kernel, "
				  "the file has %llu", (unsigned long long)k->hdr.syssize * 16,
				  (unsigned long long)k->pm_size);
	return 0;
}

/*
 * Where the 64-bit entry unpacks the kernel: the load address rounded up to
 * kernel_alignment for a relocatable kernel, but never below pref_address
 * (the kernel's LOAD_PHYSICAL_ADDR). It uses init_size bytes from there.
 */
static uint64_t bzimage_run_start(const struct setup_header *h)
{
	uint64_t start = BOOT_KERNEL_ADDR, a = h->kernel_alignment;
	if (h->relocatable_kernel && a && !(a & (a - 1)))
		start = align_up(start, a);
	return h->pref_address > start ? h->pref_address : start;
}

static int bzimage_fit(struct bzimage *k, const struct vm *vm, const char *path)
{
	uint64_t top = guest_low_top(&vm->mem);
	uint64_t run = bzimage_run_start(&k->hdr);
	if (run >= top || k->hdr.init_size > top - run || k->pm_size > top - BOOT_KERNEL_ADDR)
		return boot_error(path, "kernel does not fit in RAM: it needs 0x%llx bytes from 0x%llx, "
				  "RAM below 4 GiB ends at 0x%llx (give more --mem)",
				  (unsigned long long)k->hdr.init_size, (unsigned long long)run,
				  (unsigned long long)top);
	k->kernel_end = run + k->hdr.init_size;
	if (k->kernel_end < BOOT_KERNEL_ADDR + k->pm_size)
		k->kernel_end = BOOT_KERNEL_ADDR + k->pm_size;
	return 0;
}

static int bzimage_check_cmdline(const struct bzimage *k, const char *path, const char *cmdline)
{
	size_t len = strlen(cmdline);
	if (len > k->hdr.cmdline_size)
		return boot_error(path, "command line is too long (%zu bytes; this kernel takes at most %u)",
				  len, k->hdr.cmdline_size);
	if (len + 1 > BOOT_CMDLINE_MAX)
		return boot_error(path, "command line is too long (%zu bytes)", len);
	return 0;
}

/* The end of the low memory the initrd may use: the kernel's limit or RAM's. */
static uint64_t bzimage_initrd_top(const struct bzimage *k, const struct vm *vm)
{
	uint64_t max = k->hdr.initrd_addr_max ? k->hdr.initrd_addr_max : INITRD_ADDR_MAX_DEFAULT;
	uint64_t top = guest_low_top(&vm->mem);
	return max + 1 < top ? max + 1 : top;
}

/*
 * Places the initrds as high as possible below that end and above the
 * kernel, else above 4 GiB if the kernel allows it. Sets *addr (0 when
 * there are none); -1 when they do not fit.
 */
static int bzimage_initrd_place(const struct bzimage *k, const struct vm *vm,
				const struct initrds *rd, uint64_t *addr)
{
	*addr = 0;
	if (rd->n == 0)
		return 0;
	uint64_t top = bzimage_initrd_top(k, vm);
	*addr = place_top(rd->total, k->kernel_end, top);
	if (!*addr && (k->hdr.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) && vm->mem.high_size)
		*addr = place_top(rd->total, MEM_HOLE_END, MEM_HOLE_END + vm->mem.high_size);
	if (!*addr)
		return boot_error(rd->b[0].path, "initrd does not fit: %llu bytes, between the kernel's "
				  "end 0x%llx and 0x%llx (give more --mem)",
				  (unsigned long long)rd->total, (unsigned long long)k->kernel_end,
				  (unsigned long long)top);
	return 0;
}

static void zero_page_fill(struct boot_params *bp, const struct bzimage *k,
			   const struct blob *b, const struct guest_mem *mem,
			   uint64_t initrd, uint64_t initrd_size)
{
	uint64_t end = k->hdr_end < 0x2d0 ? k->hdr_end : 0x2d0;
	memcpy((uint8_t *)bp + SETUP_HDR_OFFSET, b->data + SETUP_HDR_OFFSET, end - SETUP_HDR_OFFSET);
	bp->hdr.type_of_loader = LOADER_TYPE_OTHER;
	bp->hdr.cmd_line_ptr = (uint32_t)BOOT_CMDLINE_ADDR;
	bp->ext_cmd_line_ptr = (uint32_t)(BOOT_CMDLINE_ADDR >> 32);
	bp->hdr.setup_data = 0;
	bp->hdr.ramdisk_image = (uint32_t)initrd;
	bp->ext_ramdisk_image = (uint32_t)(initrd >> 32);
	bp->hdr.ramdisk_size = (uint32_t)initrd_size;
	bp->ext_ramdisk_size = (uint32_t)(initrd_size >> 32);
	if (k->hdr.version >= PROTO(2, 14))
		bp->acpi_rsdp_addr = ACPI_TABLES_ADDR;
	struct e820_map map;
	guest_mem_e820(mem, &map);
	for (int i = 0; i < map.n && i < BOOT_E820_MAX; i++)
		bp->e820_table[i] = map.e[i];
	bp->e820_entries = (uint8_t)map.n;
}

static int bzimage_write(struct vm *vm, const struct bzimage *k, const struct blob *b,
			 const struct initrds *rd, uint64_t initrd, const char *cmdline)
{
	struct boot_params bp;
	memset(&bp, 0, sizeof(bp));
	zero_page_fill(&bp, k, b, &vm->mem, initrd, rd->total);
	if (cpu_state_long(vm, BZIMAGE_CODE_SEL) != 0 ||
	    guest_write(&vm->mem, BOOT_KERNEL_ADDR, b->data + k->setup_size, k->pm_size) != 0 ||
	    cmdline_write(vm, b->path, cmdline) != 0 ||
	    (rd->n && initrds_copy(vm, rd, initrd) != 0) ||
	    guest_write(&vm->mem, BOOT_ZERO_PAGE, &bp, sizeof(bp)) != 0)
		return -1;
	vm->boot.regs.rip = BOOT_KERNEL_ADDR + BZIMAGE_ENTRY_64;
	vm->boot.regs.rsi = BOOT_ZERO_PAGE;
	return 0;
}

int boot_bzimage(struct vm *vm, const struct blob *kernel)
{
	const char *cmdline = vm->cfg->append ? vm->cfg->append : "";
	struct bzimage k;
	if (bzimage_parse(&k, kernel) != 0 || bzimage_fit(&k, vm, kernel->path) != 0 ||
	    bzimage_check_cmdline(&k, kernel->path, cmdline) != 0)
		return -1;
	struct initrds rd;
	uint64_t initrd;
	if (initrds_load(&rd, vm->cfg) != 0)
		return -1;
	int r = bzimage_initrd_place(&k, vm, &rd, &initrd);
	if (r == 0)
		r = bzimage_write(vm, &k, kernel, &rd, initrd, cmdline);
	initrds_free(&rd);
	return r;
}
