/*
 * Loaders: put a guest image in memory and describe vCPU 0's first state.
 *
 * Each loader checks its input file completely before trusting a field of
 * it; a broken file yields a message naming the file and the problem, and
 * -1. Loaders write guest memory only through guest_ptr()/guest_write(),
 * and use only vm->cfg, vm->mem and vm->boot (no hypervisor calls).
 *
 * boot_load() picks the format by content: a bzImage ("HdrS" at 0x202),
 * then an ELF64 with the Xen PVH entry note, then a multiboot v1 image;
 * --raw always uses boot_raw().
 *
 * Fixed places in low memory (all below 640 KiB):
 *
 *   0x00500  BOOT_GDT_ADDR      GDT (up to 6 descriptors)
 *   0x00580  BOOT_TSS_ADDR      a zeroed 104-byte TSS that TR points at
 *   0x06000  BOOT_PVH_INFO_ADDR PVH hvm_start_info, module list, memory map
 *   0x07000  BOOT_ZERO_PAGE     Linux struct boot_params (4 KiB)
 *   0x09000  BOOT_PML4_ADDR     long mode: PML4, then the PDPT at 0xa000 and
 *                               four page directories at 0xb000..0xefff
 *   0x20000  BOOT_CMDLINE_ADDR  kernel command line (up to 64 KiB with NUL)
 *
 * The ACPI tables sit at ACPI_TABLES_ADDR (src/dev/devices.h). A loader
 * writes only the places its format uses, and refuses an image that
 * overlaps any of them.
 *
 * The entry states (every state: interrupts off, RFLAGS = 0x2, other
 * general registers 0, CR2 = CR3 = CR4 = 0 and EFER = 0 unless given,
 * IDTR base 0, TR = a present busy TSS (type 11), LDTR type 2, A20 on;
 * RAM not written by the loader is zero):
 *
 * --raw, real mode (RAW_REAL; default address 0x7c00):
 *   CR0 = 0x10 (ET); CS = DS = ES = FS = GS = SS = selector 0, base 0,
 *   limit 0xffff; IP = SP = the load address. The image must end below
 *   0x10000. GDTR base 0 limit 0xffff, IDTR base 0 limit 0x3ff (the IVT,
 *   all zero: install handlers before enabling interrupts); TR base 0
 *   limit 0xffff. Nothing but the image is written to memory.
 *
 * --raw, 32-bit protected mode (RAW_PROTECTED; default 0x100000):
 *   CR0 = 0x11 (PE|ET), paging off. GDT at 0x500, limit 0x1f:
 *     0x00 null, 0x08 code (32-bit, base 0, limit 4 GiB, DPL 0),
 *     0x10 data (read/write, base 0, limit 4 GiB), 0x18 busy 32-bit TSS
 *     (base BOOT_TSS_ADDR, limit 0x67).
 *   CS = 0x08; DS = ES = FS = GS = SS = 0x10; TR = 0x18.
 *   EIP = ESP = the load address. IDTR limit 0.
 *
 * --raw, 64-bit long mode (RAW_LONG; default 0x100000):
 *   CR0 = 0x80000031 (PG|NE|ET|PE), CR4 = 0x20 (PAE), EFER = 0x500
 *   (LME|LMA), CR3 = 0x9000: 4-level tables identity-mapping the first
 *   4 GiB (MMIO hole included) with 2 MiB pages, entries present +
 *   writable, supervisor only, no NX (EFER.NXE is 0).
 *   GDT at 0x500, limit 0x27:
 *     0x00 null, 0x08 code (64-bit, L=1, DPL 0), 0x10 data (read/write),
 *     0x18 busy 64-bit TSS (16 bytes).
 *   CS = 0x08; DS = ES = FS = GS = SS = 0x10; TR = 0x18.
 *   RIP = RSP = the load address. IDTR limit 0.
 *
 * Kernel formats:
 *   bzImage: long mode as above but with Linux's boot selectors: GDT
 *     0x10 64-bit code, 0x18 data, 0x20 TSS; RIP = 0x100200 (the 64-bit
 *     entry), RSI = BOOT_ZERO_PAGE.
 *   PVH and multiboot: 32-bit protected mode as for --raw; PVH has
 *     EBX = BOOT_PVH_INFO_ADDR; multiboot EAX = 0x2BADB002, EBX = the
 *     info block. The info block, its strings and the modules (each
 *     starting on a page; mod_end is start + file size) follow the
 *     kernel's last byte, from 1 MiB up.
 */
#ifndef RUNVM_BOOT_H
#define RUNVM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "../vm.h"

#define BOOT_GDT_ADDR       0x500ULL
#define BOOT_TSS_ADDR       0x580ULL
#define BOOT_TSS_SIZE       0x68ULL
#define BOOT_GDT_AREA_END   0x600ULL        /* GDT and TSS end here */
#define BOOT_PVH_INFO_ADDR  0x6000ULL
#define BOOT_ZERO_PAGE      0x7000ULL
#define BOOT_PML4_ADDR      0x9000ULL
#define BOOT_PDPT_ADDR      0xa000ULL
#define BOOT_PD_ADDR        0xb000ULL
#define BOOT_PT_END         0xf000ULL       /* end of the page tables */
#define BOOT_CMDLINE_ADDR   0x20000ULL
#define BOOT_CMDLINE_MAX    0x10000ULL      /* bytes, with the NUL */

#define BOOT_KERNEL_ADDR    0x100000ULL     /* bzImage protected-mode code */
#define BOOT_RAW_REAL_ADDR  0x7c00ULL       /* --raw defaults per mode */
#define BOOT_RAW_HIGH_ADDR  0x100000ULL

#define BOOT_BLOB_MAX       (2ULL << 30)    /* largest file read whole */

/* A file read whole into memory. */
struct blob {
	const char *path;
	uint8_t *data;
	size_t size;
};
/*
 * Reads path whole. Missing, unreadable, non-regular, empty and files over
 * BOOT_BLOB_MAX get a message and -1.
 */
int blob_load(struct blob *b, const char *path);
void blob_free(struct blob *b);

/*
 * Loads whatever the configuration names (--kernel of any supported format,
 * or --raw) into vm->mem and fills vm->boot. Returns 0, or -1 after printing
 * why.
 */
int boot_load(struct vm *vm);

/* The kernel formats; each returns 0, or -1 with a message. */
int boot_bzimage(struct vm *vm, const struct blob *kernel);
int boot_pvh(struct vm *vm, const struct blob *kernel);
int boot_multiboot(struct vm *vm, const struct blob *kernel);
int boot_raw(struct vm *vm, const struct blob *image);

#endif
