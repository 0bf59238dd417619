/*
 * The Linux x86 boot protocol structures (Documentation/arch/x86/boot.rst
 * and zero-page.rst): the setup header inside a bzImage and the zero page
 * (struct boot_params) a boot loader hands to the kernel.
 */
#ifndef RUNVM_BOOT_BZIMAGE_H
#define RUNVM_BOOT_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../mem.h"

#define SETUP_HDR_OFFSET   0x1f1
#define SETUP_HDR_MAGIC    0x53726448      /* "HdrS" at 0x202 */
#define SETUP_SECT_SIZE    512
#define LOADER_TYPE_OTHER  0xff

#define XLF_KERNEL_64              (1u << 0)
#define XLF_CAN_BE_LOADED_ABOVE_4G (1u << 1)

struct setup_header {
	uint8_t  setup_sects;           /* 0x1f1 */
	uint16_t root_flags;
	uint32_t syssize;               /* protected-mode code, 16-byte units */
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;             /* 0xaa55 */
	uint8_t  jump[2];               /* 0x200: jmp short; the header ends at 0x202 + jump[1] */
	uint32_t header;                /* 0x202: "HdrS" */
	uint16_t version;               /* 0x206 */
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t  type_of_loader;        /* 0x210 */
	uint8_t  loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;         /* 0x218 */
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t  ext_loader_ver;
	uint8_t  ext_loader_type;
	uint32_t cmd_line_ptr;          /* 0x228 */
	uint32_t initrd_addr_max;       /* 2.03+: highest byte the initrd may use */
	uint32_t kernel_alignment;      /* 2.05+ */
	uint8_t  relocatable_kernel;
	uint8_t  min_alignment;
	uint16_t xloadflags;            /* 0x236, 2.12+ */
	uint32_t cmdline_size;          /* 2.06+: longest command line, without NUL */
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;            /* 0x250 */
	uint64_t pref_address;          /* 0x258, 2.10+ */
	uint32_t init_size;             /* 0x260, 2.10+: memory the kernel needs */
	uint32_t handover_offset;
	uint32_t kernel_info_offset;    /* 0x268, 2.15+ */
} __attribute__((packed));

#define BOOT_E820_MAX 128

struct boot_params {
	uint8_t  screen_info[0x40];             /* 0x000 */
	uint8_t  _pad0[0x70 - 0x40];
	uint64_t acpi_rsdp_addr;                /* 0x070, 2.14+ */
	uint8_t  _pad1[0xc0 - 0x78];
	uint32_t ext_ramdisk_image;             /* 0x0c0 */
	uint32_t ext_ramdisk_size;
	uint32_t ext_cmd_line_ptr;
	uint8_t  _pad2[0x1e8 - 0xcc];
	uint8_t  e820_entries;                  /* 0x1e8 */
	uint8_t  _pad3[SETUP_HDR_OFFSET - 0x1e9];
	struct setup_header hdr;                /* 0x1f1 */
	uint8_t  _pad4[0x2d0 - SETUP_HDR_OFFSET - sizeof(struct setup_header)];
	struct e820_entry e820_table[BOOT_E820_MAX];    /* 0x2d0 */
	uint8_t  _pad5[0x1000 - 0x2d0 - BOOT_E820_MAX * 20];
} __attribute__((packed));

_Static_assert(offsetof(struct boot_params, hdr) + offsetof(struct setup_header, header) == 0x202, "HdrS offset");
_Static_assert(offsetof(struct boot_params, hdr) + offsetof(struct setup_header, xloadflags) == 0x236, "xloadflags offset");
_Static_assert(offsetof(struct boot_params, hdr) + offsetof(struct setup_header, init_size) == 0x260, "init_size offset");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820 table offset");
_Static_assert(sizeof(struct setup_header) == 0x26c - SETUP_HDR_OFFSET, "setup header size");
_Static_assert(sizeof(struct boot_params) == 4096, "zero page size");

#endif
