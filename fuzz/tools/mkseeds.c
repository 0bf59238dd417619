/*
 * Writes the hand-made seeds of the fuzz corpora (fuzz/corpus/NAME/seed-*):
 * small valid inputs of each format, built the way the unit tests build
 * their synthetic images, from which the fuzzers mutate. The rest of each
 * corpus is what fuzzing found, minimized with libFuzzer's -merge=1.
 *
 *   make fuzz-seeds
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *root = "fuzz/corpus";

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void seed(const char *target, const char *name, const void *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0777) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/seed-%s", root, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Options byte of the loader harnesses (fuzz/boot.h): initrd, append, memory size. */
static uint8_t opts(int initrd, int append, int mem)
{
	return (uint8_t)((initrd ? 1 : 0) | (append ? 2 : 0) | (mem << 2));
}

/* An image behind its options byte. */
static void seed_image(const char *target, const char *name, uint8_t o, const uint8_t *img, size_t len)
{
	uint8_t *d = malloc(len + 1);
	d[0] = o;
	memcpy(d + 1, img, len);
	seed(target, name, d, len + 1);
	free(d);
}

/* ---- bzImage (as tests/unit/boot_bzimage.c) ---- */
static uint8_t *bzimage(uint16_t version, uint8_t setup_sects, size_t pm_size, uint32_t initrd_max, size_t *len)
{
	size_t setup = ((setup_sects ? setup_sects : 4) + 1) * 512;
	*len = setup + pm_size;
	uint8_t *d = calloc(1, *len);
	d[0x1f1] = setup_sects;
	put32(d + 0x1f4, (uint32_t)((pm_size + 15) / 16));
	put16(d + 0x1fa, 0xffff);
	put16(d + 0x1fe, 0xaa55);
	d[0x200] = 0xeb;
	d[0x201] = 0x6a;
	memcpy(d + 0x202, "HdrS", 4);
	put16(d + 0x206, version);
	d[0x211] = 1;
	put32(d + 0x22c, initrd_max);
	put32(d + 0x230, 0x200000);
	d[0x234] = 1;
	put16(d + 0x236, 0x3);
	put32(d + 0x238, 2047);
	put64(d + 0x258, 0x1000000);
	put32(d + 0x260, 0x800000);
	for (size_t i = 0; i < pm_size; i++)
		d[setup + i] = (uint8_t)(i * 7 + 3);
	return d;
}

static void seeds_bzimage(void)
{
	size_t len;
	uint8_t *d = bzimage(0x020f, 4, 1024, 0x7fffffff, &len);
	seed_image("boot_bzimage", "plain", opts(0, 0, 1), d, len);
	seed_image("boot_bzimage", "initrd-append", opts(1, 1, 1), d, len);
	seed_image("boot_bzimage", "tiny-ram", opts(1, 1, 0), d, len);
	seed_image("boot_bzimage", "high-ram", opts(1, 0, 3), d, len);
	free(d);
	d = bzimage(0x0206, 0, 512, 0x01ffffff, &len);
	seed_image("boot_bzimage", "v2.06-low-initrd", opts(1, 1, 2), d, len);
	free(d);
}

/* ---- PVH ELF64 (as tests/unit/boot_pvh.c) ---- */
static void phdr64(uint8_t *p, uint32_t type, uint64_t off, uint64_t vaddr, uint64_t paddr,
		   uint64_t filesz, uint64_t memsz)
{
	put32(p, type);
	put32(p + 4, 5);
	put64(p + 8, off);
	put64(p + 16, vaddr);
	put64(p + 24, paddr);
	put64(p + 32, filesz);
	put64(p + 40, memsz);
	put64(p + 48, 0x1000);
}

static uint8_t *pvh(int descsz, size_t *len)
{
	enum { SIZE = 0x600, NOTES = 0x100, SEG0 = 0x200, SEG1 = 0x400 };
	uint8_t *d = calloc(1, SIZE);
	*len = SIZE;
	memcpy(d, "\x7f" "ELF\x02\x01\x01", 7);
	put16(d + 16, 2);
	put16(d + 18, 62);
	put32(d + 20, 1);
	put64(d + 24, 0xffffffff81000000ULL);
	put64(d + 32, 0x40);
	put16(d + 52, 64);
	put16(d + 54, 56);
	put16(d + 56, 3);
	phdr64(d + 0x40, 1, SEG0, 0xffffffff81000000ULL, 0x1000000, 0x200, 0x3000);
	phdr64(d + 0x40 + 56, 1, SEG1, 0xffffffff81200000ULL, 0x1200000, 0x200, 0x200);
	size_t notes = 20 + 12 + 4 + (size_t)descsz;
	phdr64(d + 0x40 + 112, 4, NOTES, 0, 0, notes, notes);
	uint8_t *n = d + NOTES;
	put32(n, 4); put32(n + 4, 4); put32(n + 8, 3); memcpy(n + 12, "GNU", 4);
	put32(n + 16, 0x12345678);
	n += 20;
	put32(n, 4); put32(n + 4, (uint32_t)descsz); put32(n + 8, 18); memcpy(n + 12, "Xen", 4);
	if (descsz == 8)
		put64(n + 16, 0x1000100);
	else
		put32(n + 16, 0x1000100);
	for (size_t i = SEG0; i < SIZE; i++)
		d[i] = (uint8_t)(i * 13 + 1);
	return d;
}

static void seeds_pvh(void)
{
	size_t len;
	uint8_t *d = pvh(4, &len);
	seed_image("boot_pvh", "note4", opts(0, 0, 1), d, len);
	seed_image("boot_pvh", "note4-initrd", opts(1, 1, 2), d, len);
	free(d);
	d = pvh(8, &len);
	seed_image("boot_pvh", "note8", opts(1, 0, 1), d, len);
	seed_image("boot_pvh", "note8-tiny", opts(0, 1, 0), d, len);
	free(d);
}

/* ---- multiboot (as tests/unit/boot_multiboot.c) ---- */
static void mb_header(uint8_t *p, uint32_t flags)
{
	put32(p, 0x1badb002);
	put32(p + 4, flags);
	put32(p + 8, 0u - 0x1badb002u - flags);
}

static void phdr32(uint8_t *p, uint32_t off, uint32_t vaddr, uint32_t paddr, uint32_t filesz, uint32_t memsz)
{
	put32(p, 1);
	put32(p + 4, off);
	put32(p + 8, vaddr);
	put32(p + 12, paddr);
	put32(p + 16, filesz);
	put32(p + 20, memsz);
	put32(p + 24, 7);
	put32(p + 28, 0x1000);
}

static void seeds_multiboot(void)
{
	enum { ESIZE = 0x500 };
	uint8_t *d = calloc(1, ESIZE);
	memcpy(d, "\x7f" "ELF\x01\x01\x01", 7);
	put16(d + 16, 2);
	put16(d + 18, 3);
	put32(d + 20, 1);
	put32(d + 24, 0xc0100020);
	put32(d + 28, 52);
	put16(d + 40, 52);
	put16(d + 42, 32);
	put16(d + 44, 2);
	phdr32(d + 52, 0x100, 0xc0100000, 0x100000, 0x300, 0x3000);
	phdr32(d + 84, 0x400, 0xc0200000, 0x200000, 0x100, 0x100);
	mb_header(d + 0x100, 0x3);
	for (size_t i = 0x10c; i < ESIZE; i++)
		d[i] = (uint8_t)(i * 11 + 5);
	seed_image("boot_multiboot", "elf32", opts(0, 0, 1), d, ESIZE);
	seed_image("boot_multiboot", "elf32-module", opts(1, 1, 1), d, ESIZE);
	free(d);

	enum { ASIZE = 0x400, HDR = 0x40 };
	d = calloc(1, ASIZE);
	for (size_t i = 0; i < ASIZE; i++)
		d[i] = (uint8_t)(i * 11 + 5);
	uint8_t *h = d + HDR;
	mb_header(h, 0x10003);
	put32(h + 12, 0x100000 + HDR);
	put32(h + 16, 0x100000);
	put32(h + 20, 0x100000 + ASIZE);
	put32(h + 24, 0x104000);
	put32(h + 28, 0x100080);
	seed_image("boot_multiboot", "aout-kludge", opts(1, 1, 2), d, ASIZE);
	seed_image("boot_multiboot", "aout-tiny", opts(0, 0, 0), d, ASIZE);
	free(d);
}

/* ---- raw: options, mode, address, image ---- */
static void seeds_raw(void)
{
	static const struct { const char *name; uint8_t mode; uint64_t addr; } r[] = {
		{ "real-default", 0, 0 }, { "real-7c00", 0, 0x7c00 }, { "protected", 1, 0x100000 },
		{ "long", 2, 0 }, { "long-high", 2, 0x1000000 }, { "real-too-high", 0, 0xff00 },
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		uint8_t d[10 + 64];
		d[0] = opts(0, 0, 1);
		d[1] = r[i].mode;
		put64(d + 2, r[i].addr);
		for (int j = 0; j < 64; j++)
			d[10 + j] = (uint8_t)(0x90 + j);
		seed("boot_raw", r[i].name, d, sizeof(d));
	}
}

/* ---- instructions: code size selector, then code ---- */
static void seeds_decode(void)
{
	static const struct { const char *name; uint8_t size; const char *hex; } c[] = {
		{ "real-mix", 0, "b80010 8ed8 31c0 e61f ec cd10 ea00007c0000 f3a4 66b878563412 678b04 0f20c0 cf" },
		{ "prot-mix", 1, "b878563412 8b4424 04 0f22c0 8d8c8800010000 f00fc10b 0fb6c1 e8fbffffff c3 0f0b f4" },
		{ "long-mix", 2, "48b8efcdab8967452301 4c8b0424 488d0501000000 f0480fb10a 0f05 48cf 66480f6ec0 c4e27958c0 0fae10 f390" },
		{ "long-prefixes", 2, "2e3e266436658b00 f2f0ff00 4040404048ffc0 6766678b00 f30fb8c1 0f01d0 0f31 0fa2" },
		{ "long-groups", 2, "f6c101 f7d8 ffc8 ff20 ff30 c7c001000000 80fd7f d1e0 c0c803 0fbae305 0fc7f0" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint8_t d[256];
		size_t n = 0;
		d[n++] = c[i].size;
		for (const char *p = c[i].hex; *p && n < sizeof(d);) {
			if (*p == ' ') {
				p++;
				continue;
			}
			unsigned v;
			sscanf(p, "%2x", &v);
			d[n++] = (uint8_t)v;
			p += 2;
		}
		seed("cpu_decode", c[i].name, d, n);
	}
}

/* ---- page tables: mode, CR3 page, queries, then RAM from address 0 ---- */
static void mmu_seed(const char *name, uint8_t mode, uint8_t cr3_page, const uint64_t *lins, int nq,
		     const uint8_t *ram, size_t ram_len)
{
	uint8_t d[3 + 32 * 10 + 0x6000];
	size_t n = 0;
	d[n++] = mode;
	d[n++] = cr3_page;
	d[n++] = (uint8_t)nq;
	for (int i = 0; i < nq; i++) {
		put16(d + n, (uint16_t)(i * 5));        /* kinds and sizes in turn */
		put64(d + n + 2, lins[i]);
		n += 10;
	}
	memcpy(d + n, ram, ram_len);
	seed("cpu_mmu", name, d, n + ram_len);
}

static void seeds_mmu(void)
{
	static uint8_t ram[0x6000];
	static const uint64_t lins[] = {
		0x1000, 0x2ff8, 0x3ffe, 0x5000, 0x200000, 0x7ffffffff000ULL, 0xffff800000001000ULL,
		0x40001000, 0x1ffffc, 0x4000, 0xc0000000,
	};
	int nq = (int)(sizeof(lins) / sizeof(lins[0]));
	/* 4-level: PML4 at 0x1000, PDPT 0x2000, PD 0x3000 (2 MiB page 0), PT 0x4000 for 2-4 MiB. */
	memset(ram, 0, sizeof(ram));
	put64(ram + 0x1000, 0x2000 | 7);
	put64(ram + 0x1000 + 511 * 8, 0x2000 | 3);
	put64(ram + 0x2000, 0x3000 | 7);
	put64(ram + 0x2000 + 8, 0x40000000 | 0x83);     /* 1 GiB page */
	put64(ram + 0x3000, 0x0 | 0x87);                /* 2 MiB page */
	put64(ram + 0x3008, 0x4000 | 7);
	for (int i = 0; i < 512; i++)
		put64(ram + 0x4000 + 8 * i, ((uint64_t)i << 12) | (i & 1 ? 0x8000000000000003ULL : 0x5));
	mmu_seed("long-4level", 1 | 16 | 32, 1, lins, nq, ram, sizeof(ram));
	mmu_seed("long-user-wp", 1 | 2 | 16 | 32 | 64, 1, lins, nq, ram, sizeof(ram));
	/* PAE: PDPT at 0x1000 (32-byte aligned), PD 0x2000. */
	memset(ram, 0, sizeof(ram));
	put64(ram + 0x1000, 0x2000 | 1);
	put64(ram + 0x2000, 0x0 | 0x83);
	put64(ram + 0x2008, 0x3000 | 7);
	for (int i = 0; i < 512; i++)
		put64(ram + 0x3000 + 8 * i, ((uint64_t)i << 12) | 7);
	mmu_seed("pae", 1 | 4 | 32, 1, lins, nq, ram, sizeof(ram));
	/* 2-level: PD at 0x1000, a 4 MiB page and a page table at 0x2000. */
	memset(ram, 0, sizeof(ram));
	put32(ram + 0x1000, 0x0 | 0x87);
	put32(ram + 0x1004, 0x2000 | 7);
	for (int i = 0; i < 1024; i++)
		put32(ram + 0x2000 + 4 * i, ((uint32_t)i << 12) | 7);
	mmu_seed("2level-pse", 1 | 8, 1, lins, nq, ram, sizeof(ram));
	mmu_seed("2level-user", 1 | 2 | 64, 1, lins, nq, ram, sizeof(ram));
	mmu_seed("no-paging", 0, 0, lins, nq, ram, 0);
}

/* ---- device accesses (fuzz/devices.c): kind, range or address, value ---- */
struct dev_op { uint8_t kind; uint16_t port; uint32_t value; };

static void dev_seed(const char *name, const struct dev_op *ops, int n)
{
	uint8_t d[1024];
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		uint8_t k = ops[i].kind | 16;           /* raw address */
		unsigned size = 1u << ((k >> 2) & 3);
		if (!(k & 1) && size == 8)
			size = 4;
		d[len++] = k;
		unsigned abytes = k & 1 ? 4 : 2;
		for (unsigned b = 0; b < abytes; b++)
			d[len++] = (uint8_t)(ops[i].port >> (8 * b));
		if (k & 2)
			for (unsigned b = 0; b < size; b++)
				d[len++] = (uint8_t)(ops[i].value >> (8 * b));
	}
	seed("devices", name, d, len);
}

#define OUTB(p, v) { 2, p, v }
#define INB(p) { 0, p, 0 }
#define OUTL(p, v) { 2 | 8, p, v }
#define INL(p) { 8, p, 0 }
#define OUTW(p, v) { 2 | 4, p, v }

static void seeds_devices(void)
{
	static const struct dev_op serial[] = {
		OUTB(0x3fb, 0x80), OUTB(0x3f8, 1), OUTB(0x3f9, 0), OUTB(0x3fb, 3), OUTB(0x3fa, 0xc7),
		OUTB(0x3fc, 0x0b), OUTB(0x3f9, 0x0f), OUTB(0x3f8, 'A'), INB(0x3fd), INB(0x3fa),
		OUTB(0x3fc, 0x1b), OUTB(0x3f8, 'B'), INB(0x3f8), INB(0x3fe), OUTB(0x3ff, 0x55), INB(0x3ff),
	};
	static const struct dev_op fwcfg[] = {
		OUTW(0x510, 0), INB(0x511), INB(0x511), INB(0x511), INB(0x511), OUTW(0x510, 5), INL(0x511),
		OUTW(0x510, 0x19), INB(0x511), INB(0x511), INB(0x511), INB(0x511), OUTW(0x510, 0x20), INL(0x511),
	};
	static const struct dev_op cmos[] = {
		OUTB(0x70, 0x0a), INB(0x71), OUTB(0x70, 0x0b), OUTB(0x71, 0x46), OUTB(0x70, 0x0c), INB(0x71),
		OUTB(0x70, 0x00), INB(0x71), OUTB(0x70, 0x34), INB(0x71), OUTB(0x70, 0x5f), INB(0x71),
	};
	static const struct dev_op pm[] = {
		INL(0x608), INL(0x608), INL(0x600), OUTL(0x600, 0xffffffff), OUTW(0x604, 0x0001), INB(0x64),
		OUTB(0x64, 0x20), INB(0x60), OUTB(0x64, 0xaa), INB(0x60), OUTB(0x61, 0x03), INB(0x61),
		OUTB(0x80, 0x42), OUTL(0xe0, 0x12345678), INL(0xe0), INB(0xe8), OUTB(0x2004, 1), OUTL(0xe4, 0x1000),
	};
	dev_seed("serial", serial, (int)(sizeof(serial) / sizeof(serial[0])));
	dev_seed("fw_cfg", fwcfg, (int)(sizeof(fwcfg) / sizeof(fwcfg[0])));
	dev_seed("cmos", cmos, (int)(sizeof(cmos) / sizeof(cmos[0])));
	dev_seed("pm-i8042-testdev", pm, (int)(sizeof(pm) / sizeof(pm[0])));
}

/* ---- the irqchip (fuzz/irqchip.c): header, then operations ---- */
static void seeds_irqchip(void)
{
	uint8_t d[512];
	size_t n = 0;
	d[n++] = 1 | 4 | 8;                             /* 2 vCPUs, a PIT with port 0x61 */
#define LAPIC_W(cpu, off, v) do { d[n++] = 0; d[n++] = (uint8_t)((cpu) + 1); put16(d + n, off); n += 2; \
	d[n++] = 2; put32(d + n, v); n += 4; } while (0)
#define IOAPIC_W(off, v) do { d[n++] = 2; d[n++] = off; d[n++] = 2; put32(d + n, v); n += 4; } while (0)
#define PORT_W(idx, v) do { d[n++] = 4; d[n++] = (uint8_t)(0x80 | ((idx) << 2)); d[n++] = v; } while (0)
#define TICK(t) do { d[n++] = 8; d[n++] = (uint8_t)(t); d[n++] = (uint8_t)((t) >> 8); d[n++] = (uint8_t)((t) >> 16); } while (0)
	LAPIC_W(0, 0xf0, 0x1ff);
	LAPIC_W(1, 0xf0, 0x1ff);
	LAPIC_W(0, 0x3e0, 0xb);
	LAPIC_W(0, 0x320, 0x20040);
	LAPIC_W(0, 0x380, 10000);
	TICK(50000);
	d[n++] = 11; d[n++] = 0; d[n++] = 0;            /* ack on vCPU 0 */
	LAPIC_W(0, 0xb0, 0);
	IOAPIC_W(0x00, 0x10);
	IOAPIC_W(0x10, 0x50);
	d[n++] = 6; d[n++] = 0; d[n++] = 1;             /* GSI 0 high */
	PORT_W(9, 0x34);                                /* PIT mode 2 */
	PORT_W(6, 0x10);
	PORT_W(6, 0x00);
	TICK(0x200000);
	PORT_W(0, 0x11);                                /* PIC ICW1 .. */
	PORT_W(1, 0x20);
	PORT_W(1, 0x04);
	PORT_W(1, 0x01);
	LAPIC_W(0, 0x310, 1u << 24);
	LAPIC_W(0, 0x300, 0x4500);                      /* INIT to vCPU 1 */
	LAPIC_W(0, 0x300, 0x4610);                      /* SIPI */
	d[n++] = 11; d[n++] = 1; d[n++] = 2;            /* accept events on vCPU 1 */
	d[n++] = 7; put16(d + n, 0x1000); n += 2; d[n++] = 0; put16(d + n, 0x4041); n += 2; /* MSI */
	seed("irqchip", "timers-ipis-pit-pic", d, n);
}

/* ---- a virtqueue (fuzz/virtq.c): size, features, ring addresses, operations, RAM ---- */
static void desc(uint8_t *ram, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = ram + 0x1000 + 16 * i;
	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, flags);
	put16(d + 14, next);
}

static void seeds_virtq(void)
{
	static uint8_t ram[0x8000];
	uint8_t d[64 + sizeof(ram)];
	size_t n = 0;
	d[n++] = 3;                                     /* 8 entries */
	d[n++] = 3;                                     /* indirect, EVENT_IDX */
	d[n++] = 0x00; d[n++] = 0x10; d[n++] = 0x00;    /* descriptors at 0x1000 */
	d[n++] = 0x00; d[n++] = 0x20; d[n++] = 0x00;    /* avail at 0x2000 */
	d[n++] = 0x00; d[n++] = 0x30; d[n++] = 0x00;    /* used at 0x3000 */
	static const uint8_t ops[] = { 1, 3, 1, 3, 0, 2, 1, 1, 3 };
	d[n++] = sizeof(ops);
	memcpy(d + n, ops, sizeof(ops));
	n += sizeof(ops);
	memset(ram, 0, sizeof(ram));
	desc(ram, 0, 0x5000, 16, 1, 1);                 /* out, next 1 */
	desc(ram, 1, 0x5100, 512, 1 | 2, 2);            /* in, next 2 */
	desc(ram, 2, 0x5400, 1, 2, 0);                  /* in, end */
	desc(ram, 3, 0x4000, 3 * 16, 4, 0);             /* an indirect table of 3 */
	uint8_t *t = ram + 0x4000;
	put64(t, 0x6000); put32(t + 8, 64); put16(t + 12, 1); put16(t + 14, 1);
	put64(t + 16, 0x6100); put32(t + 24, 64); put16(t + 28, 3); put16(t + 30, 2);
	put64(t + 32, 0x6200); put32(t + 40, 8); put16(t + 44, 2); put16(t + 46, 0);
	desc(ram, 4, 0x7000, 100, 0, 0);                /* one readable segment */
	put16(ram + 0x2000 + 4, 0);                     /* avail ring: heads 0, 3, 4 */
	put16(ram + 0x2000 + 6, 3);
	put16(ram + 0x2000 + 8, 4);
	put16(ram + 0x2000 + 2, 3);                     /* avail idx */
	put16(ram + 0x2000 + 4 + 2 * 8, 1);             /* used_event */
	memcpy(d + n, ram, sizeof(ram));
	seed("virtq", "chains-indirect", d, n + sizeof(ram));
	d[1] = 0;                                       /* no indirect: the table is an error */
	seed("virtq", "no-indirect", d, n + sizeof(ram));
	d[0] = 8;                                       /* 256 entries: rings overlap */
	seed("virtq", "big-ring", d, n + sizeof(ram));
}

int main(int argc, char **argv)
{
	if (argc > 1)
		root = argv[1];
	seeds_bzimage();
	seeds_pvh();
	seeds_multiboot();
	seeds_raw();
	seeds_decode();
	seeds_mmu();
	seeds_devices();
	seeds_irqchip();
	seeds_virtq();
	return 0;
}
