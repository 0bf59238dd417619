/*
 * Helpers shared by the loaders in this folder: messages, little-endian
 * reads from a file image, address ranges, the CPU entry states, ELF
 * program headers and initrd placement.
 */
#ifndef RUNVM_BOOT_LOADER_H
#define RUNVM_BOOT_LOADER_H

#include <stdint.h>
#include <string.h>

#include "boot.h"

#define PAGE_SIZE 4096ULL

/* Prints "runvm: <path>: <message>" and returns -1. */
int boot_error(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* True when [off, off+len) lies inside a buffer of size bytes. */
static inline int in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static inline uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static inline uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

/* A guest-physical range [start, end) that a loader keeps for itself. */
struct range {
	uint64_t start, end;
	const char *what;
};
/* The first of n ranges that [addr, addr+len) overlaps, or NULL. */
const struct range *range_conflict(const struct range *r, int n, uint64_t addr, uint64_t len);

/* True when [addr, addr+len) is RAM below the 32-bit MMIO hole. */
int ram_below_4g(const struct guest_mem *m, uint64_t addr, uint64_t len);

/*
 * Entry states (cpu_state.c). Each resets vm->boot, writes what the mode
 * needs (GDT, TSS, page tables) and sets segments and control registers;
 * the caller sets RIP and the registers its protocol passes.
 */
void cpu_state_real(struct vm *vm);
int cpu_state_protected(struct vm *vm);
/* code_sel: 64-bit code selector; data is code_sel + 8, TSS code_sel + 16. */
int cpu_state_long(struct vm *vm, uint16_t code_sel);

/* ELF program headers of either class, decoded (elf.c). */
#define PT_LOAD 1
#define PT_NOTE 4

struct elf_file {
	const struct blob *b;
	int is64;
	uint64_t entry;
	uint64_t phoff;
	unsigned phnum, phentsize;
};

struct elf_seg {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

/* True when b starts with an ELF header of the class (1: 32-bit, 2: 64-bit). */
int elf_is(const struct blob *b, int elf_class);
/* Checks the header (class, x86 machine, program header table in file). */
int elf_open(struct elf_file *e, const struct blob *b, int want64);
/* The same check without a message: 1 when usable. */
int elf_probe(struct elf_file *e, const struct blob *b, int want64);
/* The i-th program header; its file range is checked by elf_seg_check. */
void elf_seg(const struct elf_file *e, unsigned i, struct elf_seg *s);
int elf_seg_check(const struct elf_file *e, unsigned i, const struct elf_seg *s);
/*
 * Checks every PT_LOAD for loading at its physical address: each must be RAM
 * below 4 GiB and avoid the reserved ranges and the other segments. Returns
 * 0 with [*lo, *hi) the span they cover, or -1.
 */
int elf_check(struct vm *vm, const struct elf_file *e,
	      const struct range *reserved, int nreserved, uint64_t *lo, uint64_t *hi);
/* Copies the checked PT_LOADs, zeroing p_memsz beyond p_filesz. */
void elf_copy(struct vm *vm, const struct elf_file *e);
/* The physical address of virtual address v in a PT_LOAD, or v itself. */
uint64_t elf_virt_to_phys(const struct elf_file *e, uint64_t v);
/* True when [addr, addr+1) lies in a PT_LOAD's physical memory range. */
int elf_phys_loaded(const struct elf_file *e, uint64_t addr);

/* The --initrd files, read whole (initrd.c). */
struct initrds {
	int n;
	struct blob b[CONFIG_MAX_INITRD];
	uint64_t total;         /* concatenated size, each file padded to 4 bytes */
};
int initrds_load(struct initrds *r, const struct config *cfg);
void initrds_free(struct initrds *r);
/* Copies all files, concatenated, to guest address addr. */
int initrds_copy(struct vm *vm, const struct initrds *r, uint64_t addr);
/*
 * The highest page-aligned address a with lo <= a and a + size <= hi, or
 * 0 when there is none (nothing is ever placed at address 0).
 */
uint64_t place_top(uint64_t size, uint64_t lo, uint64_t hi);

/* Writes the NUL-terminated command line at BOOT_CMDLINE_ADDR. */
int cmdline_write(struct vm *vm, const char *path, const char *cmdline);

/* Format probes, for boot_load(). */
int bzimage_probe(const struct blob *b);
int pvh_probe(const struct blob *b);
int multiboot_probe(const struct blob *b);

#endif
