/*
 * ELF program headers of 32- and 64-bit images (the System V ABI's ELF
 * format), decoded into one form, and loaded at their physical addresses.
 */
#include "loader.h"

#define EI_CLASS    4
#define EI_DATA     5
#define ELFDATA2LSB 1
#define EM_386      3
#define EM_X86_64   62
#define PN_XNUM     0xffff

#define EHDR32_SIZE 52
#define EHDR64_SIZE 64
#define PHDR32_SIZE 32
#define PHDR64_SIZE 56

int elf_is(const struct blob *b, int elf_class)
{
	return b->size >= 16 && memcmp(b->data, "\x7f" "ELF", 4) == 0 &&
	       b->data[EI_CLASS] == elf_class;
}

/* Checks the header; NULL when it is usable, else what is wrong. */
static const char *elf_parse(struct elf_file *e, const struct blob *b, int want64)
{
	const uint8_t *d = b->data;
	memset(e, 0, sizeof(*e));
	e->b = b;
	e->is64 = want64;
	if (!elf_is(b, want64 ? 2 : 1))
		return want64 ? "not a 64-bit ELF file" : "not a 32-bit ELF file";
	if (b->size < (want64 ? EHDR64_SIZE : EHDR32_SIZE))
		return "ELF header truncated";
	if (d[EI_DATA] != ELFDATA2LSB)
		return "ELF file is not little-endian";
	if (rd16(d + 18) != (want64 ? EM_X86_64 : EM_386))
		return want64 ? "ELF file is not for x86-64" : "ELF file is not for i386";
	if (want64) {
		e->entry = rd64(d + 24);
		e->phoff = rd64(d + 32);
		e->phentsize = rd16(d + 54);
		e->phnum = rd16(d + 56);
	} else {
		e->entry = rd32(d + 24);
		e->phoff = rd32(d + 28);
		e->phentsize = rd16(d + 42);
		e->phnum = rd16(d + 44);
	}
	if (e->phentsize != (want64 ? PHDR64_SIZE : PHDR32_SIZE))
		return "ELF program header size is wrong";
	if (e->phnum == 0)
		return "ELF file has no program headers";
	if (e->phnum == PN_XNUM)
		return "ELF file has too many program headers";
	if (!in_bounds(e->phoff, (uint64_t)e->phnum * e->phentsize, b->size))
		return "ELF program headers lie outside the file (truncated?)";
	return NULL;
}

int elf_open(struct elf_file *e, const struct blob *b, int want64)
{
	const char *why = elf_parse(e, b, want64);
	return why ? boot_error(b->path, "%s", why) : 0;
}

int elf_probe(struct elf_file *e, const struct blob *b, int want64)
{
	return elf_parse(e, b, want64) == NULL;
}

void elf_seg(const struct elf_file *e, unsigned i, struct elf_seg *s)
{
	const uint8_t *p = e->b->data + e->phoff + (uint64_t)i * e->phentsize;
	s->type = rd32(p);
	if (e->is64) {
		s->offset = rd64(p + 8);
		s->vaddr = rd64(p + 16);
		s->paddr = rd64(p + 24);
		s->filesz = rd64(p + 32);
		s->memsz = rd64(p + 40);
	} else {
		s->offset = rd32(p + 4);
		s->vaddr = rd32(p + 8);
		s->paddr = rd32(p + 12);
		s->filesz = rd32(p + 16);
		s->memsz = rd32(p + 20);
	}
}

int elf_seg_check(const struct elf_file *e, unsigned i, const struct elf_seg *s)
{
	if (!in_bounds(s->offset, s->filesz, e->b->size))
		return boot_error(e->b->path, "ELF segment %u lies outside the file (truncated?)", i);
	if (s->filesz > s->memsz)
		return boot_error(e->b->path, "ELF segment %u: file size 0x%llx exceeds memory size 0x%llx",
				  i, (unsigned long long)s->filesz, (unsigned long long)s->memsz);
	return 0;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Checks segment i against RAM, the reserved ranges and segments before it. */
static int elf_seg_place_check(struct vm *vm, const struct elf_file *e, unsigned i,
			       const struct elf_seg *s, const struct range *res, int nres)
{
	const char *path = e->b->path;
	if (elf_seg_check(e, i, s) != 0)
		return -1;
	if (!ram_below_4g(&vm->mem, s->paddr, s->memsz))
		return boot_error(path, "ELF segment %u at 0x%llx (0x%llx bytes) is outside guest RAM",
				  i, (unsigned long long)s->paddr, (unsigned long long)s->memsz);
	const struct range *c = range_conflict(res, nres, s->paddr, s->memsz);
	if (c)
		return boot_error(path, "ELF segment %u at 0x%llx overlaps the %s at 0x%llx",
				  i, (unsigned long long)s->paddr, c->what,
				  (unsigned long long)c->start);
	for (unsigned j = 0; j < i; j++) {
		struct elf_seg o;
		elf_seg(e, j, &o);
		if (o.type == PT_LOAD && overlaps(s->paddr, s->memsz, o.paddr, o.memsz))
			return boot_error(path, "ELF segments %u and %u overlap", j, i);
	}
	return 0;
}

int elf_check(struct vm *vm, const struct elf_file *e,
	      const struct range *reserved, int nreserved, uint64_t *lo, uint64_t *hi)
{
	struct elf_seg s;
	uint64_t l = UINT64_MAX, h = 0;
	for (unsigned i = 0; i < e->phnum; i++) {
		elf_seg(e, i, &s);
		if (s.type != PT_LOAD || s.memsz == 0)
			continue;
		if (elf_seg_place_check(vm, e, i, &s, reserved, nreserved) != 0)
			return -1;
		l = s.paddr < l ? s.paddr : l;
		h = s.paddr + s.memsz > h ? s.paddr + s.memsz : h;
	}
	if (h == 0)
		return boot_error(e->b->path, "ELF file has no loadable segment");
	*lo = l;
	*hi = h;
	return 0;
}

void elf_copy(struct vm *vm, const struct elf_file *e)
{
	struct elf_seg s;
	for (unsigned i = 0; i < e->phnum; i++) {
		elf_seg(e, i, &s);
		if (s.type != PT_LOAD || s.memsz == 0)
			continue;
		uint8_t *dst = guest_ptr(&vm->mem, s.paddr, s.memsz);
		memcpy(dst, e->b->data + s.offset, s.filesz);
		memset(dst + s.filesz, 0, s.memsz - s.filesz);
	}
}

uint64_t elf_virt_to_phys(const struct elf_file *e, uint64_t v)
{
	struct elf_seg s;
	for (unsigned i = 0; i < e->phnum; i++) {
		elf_seg(e, i, &s);
		if (s.type == PT_LOAD && v >= s.vaddr && v - s.vaddr < s.memsz)
			return s.paddr + (v - s.vaddr);
	}
	return v;
}

int elf_phys_loaded(const struct elf_file *e, uint64_t addr)
{
	struct elf_seg s;
	for (unsigned i = 0; i < e->phnum; i++) {
		elf_seg(e, i, &s);
		if (s.type == PT_LOAD && addr >= s.paddr && addr - s.paddr < s.memsz)
			return 1;
	}
	return 0;
}
