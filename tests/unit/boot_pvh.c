/* The PVH loader: ELF64 segments, the entry note, hvm_start_info, bad ELF files. */
#include <sys/stat.h>

#include "boot_fixture.h"
#include "dev/devices.h"

#define MIB (1ULL << 20)
#define INFO BOOT_PVH_INFO_ADDR

/* The test image: two PT_LOADs and a PT_NOTE holding a GNU and a Xen note. */
#define PH(i)        (0x40 + 56 * (i))
#define NOTES_OFF    0x100
#define XEN_NOTE_OFF (NOTES_OFF + 20)
#define SEG0_OFF     0x200
#define SEG1_OFF     0x1200
#define IMAGE_SIZE   0x1a00
#define SEG0_ADDR    0x1000000ULL
#define SEG1_ADDR    0x1200000ULL
#define ENTRY        0x1000100ULL

static void put_phdr(uint8_t *p, uint32_t type, uint64_t off, uint64_t vaddr, uint64_t paddr,
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

/* descsz 4 or 8: the form of the entry note. */
static uint8_t *make_pvh(int descsz, size_t *len)
{
	uint8_t *d = calloc(1, IMAGE_SIZE);
	*len = IMAGE_SIZE;
	memcpy(d, "\x7f" "ELF\x02\x01\x01", 7);
	put16(d + 16, 2);               /* ET_EXEC */
	put16(d + 18, 62);              /* x86-64 */
	put32(d + 20, 1);
	put64(d + 24, 0xffffffff81000000ULL);
	put64(d + 32, 0x40);            /* e_phoff */
	put16(d + 52, 64);
	put16(d + 54, 56);
	put16(d + 56, 3);
	put_phdr(d + PH(0), 1, SEG0_OFF, 0xffffffff81000000ULL, SEG0_ADDR, 0x1000, 0x3000);
	put_phdr(d + PH(1), 1, SEG1_OFF, 0xffffffff81200000ULL, SEG1_ADDR, 0x800, 0x800);
	size_t notes = 20 + 12 + 4 + (size_t)descsz;
	put_phdr(d + PH(2), 4, NOTES_OFF, 0, 0, notes, notes);
	uint8_t *n = d + NOTES_OFF;
	put32(n, 4); put32(n + 4, 4); put32(n + 8, 3); memcpy(n + 12, "GNU", 4);
	put32(n + 16, 0x12345678);
	n = d + XEN_NOTE_OFF;
	put32(n, 4); put32(n + 4, (uint32_t)descsz); put32(n + 8, 18); memcpy(n + 12, "Xen", 4);
	if (descsz == 8)
		put64(n + 16, ENTRY);
	else
		put32(n + 16, (uint32_t)ENTRY);
	for (size_t i = SEG0_OFF; i < IMAGE_SIZE; i++)
		d[i] = (uint8_t)(i * 13 + 1);
	return d;
}

static int load_pvh(const uint8_t *d, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);   /* exact size, for ASan */
	memcpy(copy, d, len);
	struct blob b = { .path = "vmlinux", .data = copy, .size = len };
	int r = boot_pvh(&fx.vm, &b);
	free(copy);
	return r;
}

static int file_pattern_at(uint64_t gpa, size_t off, size_t len)
{
	const uint8_t *p = gmem(gpa, len);
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)((off + i) * 13 + 1))
			return 0;
	return 1;
}

static void check_memmap(uint64_t memmap, uint32_t n)
{
	struct e820_map m = fx_e820();
	CHECK_EQ(n, m.n);
	for (int i = 0; i < m.n && (uint32_t)i < n; i++) {
		CHECK_EQ(g64(memmap + 24 * i), m.e[i].addr);
		CHECK_EQ(g64(memmap + 24 * i + 8), m.e[i].size);
		CHECK_EQ(g32(memmap + 24 * i + 16), m.e[i].type);
		CHECK_EQ(g32(memmap + 24 * i + 20), 0);
	}
}

static void check_protected_state(uint64_t entry)
{
	const struct boot_state *bs = &fx.vm.boot;
	CHECK(bs->has_sregs);
	CHECK_EQ(bs->regs.rip, entry);
	CHECK_EQ(bs->regs.rbx, INFO);
	CHECK_EQ(bs->regs.rflags, 2);
	check_flat_seg(&bs->sregs.cs, 0x08, 11, 0, 1);
	check_flat_seg(&bs->sregs.ds, 0x10, 3, 0, 1);
	check_flat_seg(&bs->sregs.ss, 0x10, 3, 0, 1);
	CHECK_EQ(bs->sregs.tr.selector, 0x18);
	CHECK_EQ(bs->sregs.tr.type, 11);
	CHECK_EQ(bs->sregs.tr.present, 1);
	CHECK_EQ(bs->sregs.cr0, 0x11);
	CHECK_EQ(bs->sregs.cr4, 0);
	CHECK_EQ(bs->sregs.efer, 0);
	CHECK_EQ(g64(0x508), 0x00cf9b000000ffffULL);
	CHECK_EQ(g64(0x510), 0x00cf93000000ffffULL);
	CHECK_EQ(bs->sregs.gdt.base, 0x500);
	CHECK_EQ(bs->sregs.gdt.limit, 0x1f);
}

static void start_info(void)
{
	fx_init(64 * MIB);
	size_t len;
	uint8_t *d = make_pvh(8, &len);
	fx.cfg.kernel = fx_file("vmlinux", d, len);
	fx.cfg.append = "console=hvc0 root=/dev/vda";
	fx.cfg.initrd[0] = fx_pattern_file("a.cpio", 999, 1, 0);
	fx.cfg.initrd[1] = fx_pattern_file("b.cpio", 100, 2, 0);
	fx.cfg.n_initrd = 2;
	memset(gmem(SEG0_ADDR, 0x3000), 0xaa, 0x3000);          /* bss must be cleared */
	EXPECT_OK(boot_load(&fx.vm));

	CHECK(file_pattern_at(SEG0_ADDR, SEG0_OFF, 0x1000));
	CHECK(gmem_is_zero(SEG0_ADDR + 0x1000, 0x2000));
	CHECK(file_pattern_at(SEG1_ADDR, SEG1_OFF, 0x800));
	CHECK_EQ(g32(INFO), 0x336ec578);
	CHECK_EQ(g32(INFO + 4), 1);                             /* version */
	CHECK_EQ(g32(INFO + 8), 0);                             /* flags */
	CHECK_EQ(g32(INFO + 12), 1);                            /* nr_modules */
	uint64_t mods = g64(INFO + 16);
	CHECK_EQ(g64(INFO + 24), BOOT_CMDLINE_ADDR);
	CHECK(strcmp((char *)gmem(BOOT_CMDLINE_ADDR, 27), "console=hvc0 root=/dev/vda") == 0);
	CHECK_EQ(g64(INFO + 32), ACPI_TABLES_ADDR);             /* rsdp_paddr */
	check_memmap(g64(INFO + 40), g32(INFO + 48));
	CHECK_EQ(g32(INFO + 52), 0);
	uint64_t image = g64(mods), size = g64(mods + 8);
	CHECK_EQ(size, 1000 + 100);
	CHECK_EQ(image % 4096, 0);
	CHECK(image >= SEG1_ADDR + 0x800);
	CHECK(image + size <= 64 * MIB);
	CHECK(gmem_has_pattern(image, 999, 1, 0));
	CHECK(gmem_is_zero(image + 999, 1));
	CHECK(gmem_has_pattern(image + 1000, 100, 2, 0));
	check_protected_state(ENTRY);
	free(d);
	fx_free();
}

static void short_note_no_initrd(void)
{
	fx_init(64 * MIB);
	size_t len;
	uint8_t *d = make_pvh(4, &len);
	EXPECT_OK(load_pvh(d, len));
	CHECK_EQ(g32(INFO + 12), 0);
	CHECK_EQ(g64(INFO + 16), 0);
	CHECK_EQ(*gmem(BOOT_CMDLINE_ADDR, 1), 0);
	check_protected_state(ENTRY);
	free(d);
	fx_free();
}

static void no_entry_note(void)
{
	fx_init(64 * MIB);
	size_t len;
	uint8_t *d = make_pvh(8, &len);
	put32(d + XEN_NOTE_OFF + 8, 17);
	EXPECT_ERR(load_pvh(d, len), "no PVH entry note");
	/* boot_load still sends an ELF64 to the PVH loader, to say what is missing. */
	fx.cfg.kernel = fx_file("vmlinux", d, len);
	EXPECT_ERR(boot_load(&fx.vm), "no PVH entry note");
	put32(d + XEN_NOTE_OFF + 8, 18);
	put32(d + XEN_NOTE_OFF + 4, 0x7fffffff);                /* descsz past the segment */
	EXPECT_ERR(load_pvh(d, len), "malformed ELF note");
	put32(d + XEN_NOTE_OFF + 4, 8);
	put32(d + NOTES_OFF, 0xfffffffd);                       /* namesz wraps when aligned */
	EXPECT_ERR(load_pvh(d, len), "malformed ELF note");
	put32(d + NOTES_OFF, 4);
	put32(d + XEN_NOTE_OFF + 4, 2);                         /* neither 4 nor 8 */
	EXPECT_ERR(load_pvh(d, len), "malformed ELF note");
	free(d);
	fx_free();
}

static void bad_segments(void)
{
	fx_init(64 * MIB);
	size_t len;
	uint8_t *d = make_pvh(8, &len);
	uint8_t *s1 = d + PH(1);
	struct { int field; uint64_t value; const char *msg; } cases[] = {
		{ 24, 0x7fff0000, "outside guest RAM" },
		{ 24, 0xfffffffffffff000ULL, "outside guest RAM" },
		{ 24, 0x100000000ULL, "outside guest RAM" },
		{ 24, 0x20000, "overlaps the command line" },
		{ 24, 0xe0000, "overlaps the ACPI tables" },
		{ 24, 0x500, "overlaps the boot GDT" },
		{ 24, 0x6000, "overlaps the PVH start info" },
		{ 24, 0x1002000, "segments 0 and 1 overlap" },
		{ 40, 0x7ff, "exceeds memory size" },
		{ 40, 0xffffffffffffffffULL, "outside guest RAM" },
		{ 8, 0xffffffffffffff00ULL, "outside the file" },
		{ 8, IMAGE_SIZE - 0x7ff, "outside the file" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *d2 = malloc(len);
		memcpy(d2, d, len);
		put64(d2 + (s1 - d) + cases[i].field, cases[i].value);
		EXPECT_ERR(load_pvh(d2, len), cases[i].msg);
		free(d2);
	}
	free(d);
	fx_free();
}

static void bad_headers(void)
{
	fx_init(64 * MIB);
	size_t len;
	uint8_t *d = make_pvh(8, &len);
	put64(d + 32, 0xfffffffffffffff0ULL);                   /* e_phoff */
	EXPECT_ERR(load_pvh(d, len), "program headers lie outside");
	put64(d + 32, 0x40);
	put16(d + 56, 0xffff);
	EXPECT_ERR(load_pvh(d, len), "too many program headers");
	put16(d + 56, 0);
	EXPECT_ERR(load_pvh(d, len), "no program headers");
	put16(d + 56, 3);
	put16(d + 54, 32);
	EXPECT_ERR(load_pvh(d, len), "program header size");
	put16(d + 54, 56);
	put16(d + 18, 3);
	EXPECT_ERR(load_pvh(d, len), "not for x86-64");
	put16(d + 18, 62);
	d[5] = 2;
	EXPECT_ERR(load_pvh(d, len), "not little-endian");
	d[5] = 1;
	d[4] = 1;
	EXPECT_ERR(load_pvh(d, len), "not a 64-bit ELF");
	d[4] = 2;
	put32(d + XEN_NOTE_OFF + 16, 0x5000000);                /* entry */
	EXPECT_ERR(load_pvh(d, len), "outside the loaded segments");
	free(d);
	fx_free();
}

static void initrd_too_large(void)
{
	fx_init(20 * MIB);
	size_t len;
	uint8_t *d = make_pvh(8, &len);
	fx.cfg.initrd[0] = fx_pattern_file("a.cpio", 2 * MIB, 1, 0);
	fx.cfg.n_initrd = 1;
	EXPECT_ERR(load_pvh(d, len), "initrd does not fit");
	fx.cfg.initrd[0] = fx_pattern_file("b.cpio", 2 * MIB - 0x1000, 1, 0);
	EXPECT_OK(load_pvh(d, len));
	CHECK_EQ(g64(g64(INFO + 16)), SEG1_ADDR + 0x1000);
	fx.cfg.initrd[0] = fx.dir;
	EXPECT_ERR(load_pvh(d, len), "is a directory");
	free(d);
	fx_free();
}

static void truncated(void)
{
	fx_init(64 * MIB);
	size_t len;
	uint8_t *d = make_pvh(8, &len);
	int bad = 0;
	for (size_t cut = 0; cut < len; cut++) {
		capture_begin();
		int r = load_pvh(d, cut);
		capture_end();
		if ((r != -1 || strncmp(fx_msg, "runvm: vmlinux: ", 16) != 0) && !bad++)
			fprintf(stderr, "cut at %zu: r=%d msg=%s\n", cut, r, fx_msg);
	}
	CHECK_EQ(bad, 0);
	free(d);
	fx_free();
}

/* The guest kit's vmlinux, when it has been built. */
static void real_vmlinux(void)
{
	struct stat st;
	fx_init(256 * MIB);
	fx.cfg.kernel = "kit/vmlinux";
	fx.cfg.append = "console=ttyS0";
	if (stat("kit/initramfs.cpio.gz", &st) == 0) {
		fx.cfg.initrd[0] = "kit/initramfs.cpio.gz";
		fx.cfg.n_initrd = 1;
	}
	EXPECT_OK(boot_load(&fx.vm));
	uint64_t entry = fx.vm.boot.regs.rip;
	CHECK(entry >= 0x1000000 && entry < 0x2000000);
	check_protected_state(entry);
	CHECK_EQ(g32(INFO), 0x336ec578);
	CHECK_EQ(g32(INFO + 12), (uint32_t)fx.cfg.n_initrd);
	if (fx.cfg.n_initrd)
		CHECK_EQ(g64(g64(INFO + 16) + 8), (uint64_t)st.st_size);
	check_memmap(g64(INFO + 40), g32(INFO + 48));
	fx_free();
}

int main(void)
{
	RUN(start_info);
	RUN(short_note_no_initrd);
	RUN(no_entry_note);
	RUN(bad_segments);
	RUN(bad_headers);
	RUN(initrd_too_large);
	RUN(truncated);
	if (access("kit/vmlinux", R_OK) == 0)
		RUN(real_vmlinux);
	else
		printf("SKIP unit/%s/real_vmlinux (kit/vmlinux not built)\n", TEST_FILE);
	TEST_EXIT();
}
