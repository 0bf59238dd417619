/*
 * Guest physical memory and the PC memory map.
 *
 * RAM is one anonymous mapping. Guest-physical addresses below the 32-bit
 * MMIO hole map to its start; RAM that does not fit below the hole is
 * placed at 4 GiB, as on a real PC. Every loader and device turns a guest
 * address into a host pointer only through guest_ptr(), which checks that
 * the whole range [gpa, gpa+len) is RAM.
 */
#ifndef RUNVM_MEM_H
#define RUNVM_MEM_H

#include <stddef.h>
#include <stdint.h>

#define MEM_LOW_END        0x9fc00ULL      /* top of conventional memory (640 KiB less the EBDA) */
#define MEM_EBDA_START     0x9fc00ULL
#define MEM_BIOS_START     0xe0000ULL      /* RSDP search area and BIOS ROM */
#define MEM_HIGH_START     0x100000ULL     /* 1 MiB: where extended memory starts */
#define MEM_HOLE_START     0xc0000000ULL   /* 3 GiB: 32-bit MMIO hole up to 4 GiB */
#define MEM_HOLE_END       0x100000000ULL
#define MEM_MAX_BYTES      (64ULL << 30)

struct e820_map;

struct guest_mem {
	uint8_t *host;          /* start of the host mapping */
	uint64_t size;          /* bytes of RAM in total */
	uint64_t low_size;      /* RAM mapped at guest-physical 0 */
	uint64_t high_size;     /* RAM mapped at 4 GiB (0 when none) */
};

/* Allocates size bytes of RAM. Returns 0, or -1 with a message printed. */
int guest_mem_init(struct guest_mem *m, uint64_t size);
void guest_mem_free(struct guest_mem *m);
/* Zeroes all RAM (a reset), giving the pages back to the host. */
void guest_mem_clear(struct guest_mem *m);

/*
 * The host address of guest-physical [gpa, gpa+len), or NULL when any byte
 * of the range is not RAM (or the range wraps).
 */
void *guest_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Copies into / out of guest RAM; -1 when the range is not all RAM. */
int guest_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);
int guest_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);

/* The highest guest-physical address + 1 of RAM below the hole. */
static inline uint64_t guest_low_top(const struct guest_mem *m) { return m->low_size; }

#define E820_RAM       1
#define E820_RESERVED  2
#define E820_ACPI      3
#define E820_MAX       16

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

struct e820_map {
	int n;
	struct e820_entry e[E820_MAX];
};

/* The PC memory map as the firmware would report it (sorted, not overlapping). */
void guest_mem_e820(const struct guest_mem *m, struct e820_map *map);

#endif
