/* The multiboot loader: ELF32 and a.out-kludge kernels, the info block, bad images. */
#include "boot_fixture.h"
#include "dev/devices.h"

#define MIB (1ULL << 20)
#define MB_MAGIC 0x1badb002u

/* ELF32 test kernel: header in the first segment, entry given virtually. */
#define E_PH(i)     (52 + 32 * (i))
#define E_SEG0_OFF  0x1000
#define E_SEG1_OFF  0x2000
#define E_SIZE      0x2100
/* a.out-kludge test kernel: a flat image with the header at 0x40. */
#define A_HDR       0x40
#define A_SIZE      0x3000

static void put_mb_header(uint8_t *p, uint32_t flags)
{
	put32(p, MB_MAGIC);
	put32(p + 4, flags);
	put32(p + 8, 0u - MB_MAGIC - flags);
}

static void fill_pattern(uint8_t *d, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		d[i] = (uint8_t)(i * 11 + 5);
}

static int has_file_pattern(uint64_t gpa, size_t off, size_t len)
{
	const uint8_t *p = gmem(gpa, len);
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)((off + i) * 11 + 5))
			return 0;
	return 1;
}

static void put_phdr32(uint8_t *p, uint32_t off, uint32_t vaddr, uint32_t paddr,
		       uint32_t filesz, uint32_t memsz)
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

static uint8_t *make_elf32(size_t *len)
{
	uint8_t *d = calloc(1, E_SIZE);
	*len = E_SIZE;
	fill_pattern(d, E_SEG0_OFF, E_SIZE);
	memcpy(d, "\x7f" "ELF\x01\x01\x01", 7);
	put16(d + 16, 2);
	put16(d + 18, 3);
	put32(d + 20, 1);
	put32(d + 24, 0xc0100020);      /* e_entry, virtual */
	put32(d + 28, 52);              /* e_phoff */
	put16(d + 40, 52);
	put16(d + 42, 32);
	put16(d + 44, 2);
	put_phdr32(d + E_PH(0), E_SEG0_OFF, 0xc0100000, 0x100000, 0x1000, 0x3000);
	put_phdr32(d + E_PH(1), E_SEG1_OFF, 0xc0200000, 0x200000, 0x100, 0x100);
	put_mb_header(d + E_SEG0_OFF, 0x3);
	return d;
}

static uint8_t *make_aout(size_t *len, uint32_t load_end, uint32_t bss_end)
{
	uint8_t *d = calloc(1, A_SIZE);
	*len = A_SIZE;
	fill_pattern(d, 0, A_SIZE);
	uint8_t *h = d + A_HDR;
	put_mb_header(h, 0x10003);
	put32(h + 12, 0x100000 + A_HDR);        /* header_addr */
	put32(h + 16, 0x100000);                /* load_addr */
	put32(h + 20, load_end);
	put32(h + 24, bss_end);
	put32(h + 28, 0x100080);                /* entry_addr */
	return d;
}

static int load_mb(const uint8_t *d, size_t len, const char *path)
{
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, d, len);
	struct blob b = { .path = path, .data = copy, .size = len };
	int r = boot_multiboot(&fx.vm, &b);
	free(copy);
	return r;
}

/* Multiboot info fields by offset. */
enum { MBI_FLAGS = 0, MBI_MEM_LOWER = 4, MBI_MEM_UPPER = 8, MBI_CMDLINE = 16,
       MBI_MODS_COUNT = 20, MBI_MODS_ADDR = 24, MBI_MMAP_LENGTH = 44, MBI_MMAP_ADDR = 48,
       MBI_LOADER_NAME = 64 };

static const char *gstr(uint64_t gpa) { return (const char *)gmem(gpa, 1); }

static void check_info_common(uint64_t info, uint64_t kernel_end)
{
	const struct boot_state *bs = &fx.vm.boot;
	CHECK_EQ(bs->regs.rax, 0x2badb002);
	CHECK_EQ(bs->regs.rbx, info);
	CHECK(info >= kernel_end);
	CHECK_EQ(g32(info + MBI_FLAGS), 0x24d);        /* MEM CMDLINE MODS MMAP LOADER_NAME */
	CHECK_EQ(g32(info + MBI_MEM_LOWER), 639);
	CHECK_EQ(g32(info + MBI_MEM_UPPER), (fx.cfg.mem - MIB) / 1024);
	struct e820_map m = fx_e820();
	CHECK_EQ(g32(info + MBI_MMAP_LENGTH), 24 * m.n);
	uint64_t mmap = g32(info + MBI_MMAP_ADDR);
	CHECK(mmap >= kernel_end);
	for (int i = 0; i < m.n; i++) {
		CHECK_EQ(g32(mmap + 24 * i), 20);
		CHECK_EQ(g64(mmap + 24 * i + 4), m.e[i].addr);
		CHECK_EQ(g64(mmap + 24 * i + 12), m.e[i].size);
		CHECK_EQ(g32(mmap + 24 * i + 20), m.e[i].type);
	}
	CHECK(strcmp(gstr(g32(info + MBI_LOADER_NAME)), "runvm") == 0);
	check_flat_seg(&bs->sregs.cs, 0x08, 11, 0, 1);
	check_flat_seg(&bs->sregs.ds, 0x10, 3, 0, 1);
	check_flat_seg(&bs->sregs.es, 0x10, 3, 0, 1);
	check_flat_seg(&bs->sregs.fs, 0x10, 3, 0, 1);
	check_flat_seg(&bs->sregs.gs, 0x10, 3, 0, 1);
	check_flat_seg(&bs->sregs.ss, 0x10, 3, 0, 1);
	CHECK_EQ(bs->sregs.cr0 & 0x80000001u, 1);
	CHECK_EQ(bs->regs.rflags, 2);
}

static void elf_kernel(void)
{
	fx_init(64 * MIB);
	size_t len;
	uint8_t *d = make_elf32(&len);
	fx.cfg.kernel = fx_file("kernel.elf", d, len);
	fx.cfg.append = "arg1 arg2=x";
	const char *m0 = fx.cfg.initrd[0] = fx_pattern_file("mod0", 5000, 3, 1);
	const char *m1 = fx.cfg.initrd[1] = fx_pattern_file("mod1", 4096, 5, 2);
	fx.cfg.n_initrd = 2;
	memset(gmem(0x100000, 0x3000), 0xcc, 0x3000);
	EXPECT_OK(boot_load(&fx.vm));

	CHECK(has_file_pattern(0x10000c, E_SEG0_OFF + 12, 0x1000 - 12));
	CHECK(gmem_is_zero(0x101000, 0x2000));
	CHECK(has_file_pattern(0x200000, E_SEG1_OFF, 0x100));
	CHECK_EQ(fx.vm.boot.regs.rip, 0x100020);
	uint64_t info = fx.vm.boot.regs.rbx;
	check_info_common(info, 0x200100);
	char want[400];
	snprintf(want, sizeof(want), "%s arg1 arg2=x", fx.cfg.kernel);
	CHECK(strcmp(gstr(g32(info + MBI_CMDLINE)), want) == 0);
	CHECK_EQ(g32(info + MBI_MODS_COUNT), 2);
	uint64_t mods = g32(info + MBI_MODS_ADDR);
	const char *names[2] = { m0, m1 };
	size_t sizes[2] = { 5000, 4096 };
	uint64_t prev_end = 0;
	for (int i = 0; i < 2; i++) {
		uint64_t start = g32(mods + 16 * i), end = g32(mods + 16 * i + 4);
		CHECK_EQ(start % 4096, 0);
		CHECK_EQ(end - start, sizes[i]);
		CHECK(start >= 0x200100 && start > info);
		CHECK(start >= prev_end);
		CHECK(end <= 64 * MIB);
		CHECK(strcmp(gstr(g32(mods + 16 * i + 8)), names[i]) == 0);
		CHECK_EQ(g32(mods + 16 * i + 12), 0);
		prev_end = end;
	}
	CHECK(gmem_has_pattern(g32(mods), 5000, 3, 1));
	CHECK(gmem_has_pattern(g32(mods + 16), 4096, 5, 2));
	free(d);
	fx_free();
}

static void cmdline_without_append(void)
{
	fx_init(64 * MIB);
	size_t len;
	uint8_t *d = make_elf32(&len);
	EXPECT_OK(load_mb(d, len, "some/kernel"));
	uint64_t info = fx.vm.boot.regs.rbx;
	CHECK(strcmp(gstr(g32(info + MBI_CMDLINE)), "some/kernel") == 0);
	CHECK_EQ(g32(info + MBI_MODS_COUNT), 0);
	check_info_common(info, 0x200100);
	free(d);
	fx_free();
}

static void aout_kernel(void)
{
	fx_init(64 * MIB);
	size_t len;
	uint8_t *d = make_aout(&len, 0, 0x108000);
	memset(gmem(0x100000, 0x8000), 0xcc, 0x8000);
	EXPECT_OK(load_mb(d, len, "aout"));
	CHECK(has_file_pattern(0x100000, 0, A_HDR));
	CHECK(has_file_pattern(0x100000 + A_HDR + 32, A_HDR + 32, A_SIZE - A_HDR - 32));
	CHECK(gmem_is_zero(0x100000 + A_SIZE, 0x8000 - A_SIZE));
	CHECK_EQ(fx.vm.boot.regs.rip, 0x100080);
	check_info_common(fx.vm.boot.regs.rbx, 0x108000);
	free(d);

	/* An explicit load_end_addr loads only that much; no bss. */
	d = make_aout(&len, 0x101000, 0);
	memset(gmem(0x100000, 0x3000), 0xcc, 0x3000);
	EXPECT_OK(load_mb(d, len, "aout"));
	CHECK(has_file_pattern(0x100800, 0x800, 0x800));
	CHECK_EQ(fx.vm.boot.regs.rbx, 0x101000);                /* info right after it */
	check_info_common(fx.vm.boot.regs.rbx, 0x101000);
	free(d);
	fx_free();
}

static void aout_bad_addresses(void)
{
	fx_init(64 * MIB);
	struct { int field; uint32_t value; const char *msg; } cases[] = {
		{ 16, 0x100041, "does not fit header_addr" },           /* load above header */
		{ 16, 0x0fff00, "does not fit header_addr" },           /* before the file */
		{ 20, 0x0fffff, "below load_addr" },
		{ 20, 0x103001, "truncated" },
		{ 24, 0x102000, "bss_end_addr is below load_end_addr" },
		{ 28, 0x108000, "entry point 0x108000 is outside" },
		{ 28, 0x0fffff, "outside the loaded kernel" },
		{ 24, 0xffffffff, "outside guest RAM" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		uint8_t *d = make_aout(&len, 0x103000, 0x108000);
		put32(d + A_HDR + cases[i].field, cases[i].value);
		EXPECT_ERR(load_mb(d, len, "aout"), cases[i].msg);
		free(d);
	}
	/* The whole kernel moved beyond RAM, or onto the boot GDT. */
	size_t len;
	uint8_t *d = make_aout(&len, 0, 0);
	put32(d + A_HDR + 12, 0x8000040);
	put32(d + A_HDR + 16, 0x8000000);
	put32(d + A_HDR + 28, 0x8000080);
	EXPECT_ERR(load_mb(d, len, "aout"), "outside guest RAM");
	put32(d + A_HDR + 12, 0x440);
	put32(d + A_HDR + 16, 0x400);
	put32(d + A_HDR + 28, 0x480);
	EXPECT_ERR(load_mb(d, len, "aout"), "overlaps the boot GDT");
	free(d);
	fx_free();
}

static void bad_headers(void)
{
	fx_init(64 * MIB);
	size_t len;
	uint8_t *d = make_elf32(&len);
	put32(d + E_SEG0_OFF + 8, 0);                           /* checksum */
	EXPECT_ERR(load_mb(d, len, "k"), "no multiboot header");
	fx.cfg.kernel = fx_file("k", d, len);
	EXPECT_ERR(boot_load(&fx.vm), "not a bzImage, PVH ELF or multiboot kernel");
	free(d);

	/* A header past the first 8 KiB is not looked for. */
	uint8_t *big = calloc(1, 0x4000);
	put_mb_header(big + 0x2000, 0x10000);
	EXPECT_ERR(load_mb(big, 0x4000, "k"), "no multiboot header");
	/* Right at the end of the search window, without room for the addresses. */
	memset(big, 0, 0x4000);
	put_mb_header(big + 8192 - 12, 0x10000);
	EXPECT_ERR(load_mb(big, 0x4000, "k"), "address fields are truncated");
	/* A required feature runvm does not provide. */
	memset(big, 0, 0x4000);
	put_mb_header(big + 0x100, 0x10020);
	EXPECT_ERR(load_mb(big, 0x4000, "k"), "requires features");
	/* Neither ELF nor load addresses. */
	put_mb_header(big + 0x100, 0x3);
	EXPECT_ERR(load_mb(big, 0x4000, "k"), "not ELF");
	/* A 64-bit ELF without load addresses. */
	memcpy(big, "\x7f" "ELF\x02\x01\x01", 7);
	EXPECT_ERR(load_mb(big, 0x4000, "k"), "64-bit ELF multiboot");
	free(big);
	fx_free();
}

static void elf_bad_segments(void)
{
	fx_init(64 * MIB);
	size_t len;
	uint8_t *d = make_elf32(&len);
	put32(d + E_PH(1) + 12, 0xfffff000);                    /* paddr */
	EXPECT_ERR(load_mb(d, len, "k"), "outside guest RAM");
	put32(d + E_PH(1) + 12, 0x102000);
	EXPECT_ERR(load_mb(d, len, "k"), "segments 0 and 1 overlap");
	put32(d + E_PH(1) + 12, 0xe8000);
	EXPECT_ERR(load_mb(d, len, "k"), "overlaps the ACPI tables");
	put32(d + E_PH(1) + 12, 0x200000);
	put32(d + 24, 0xc0300000);                              /* entry */
	EXPECT_ERR(load_mb(d, len, "k"), "outside the loaded kernel");
	free(d);
	fx_free();
}

static void modules_too_large(void)
{
	fx_init(4 * MIB);
	size_t len;
	uint8_t *d = make_elf32(&len);
	fx.cfg.initrd[0] = fx_pattern_file("small", 100, 1, 0);
	fx.cfg.initrd[1] = fx_pattern_file("big", 2 * MIB, 1, 0);
	fx.cfg.n_initrd = 2;
	EXPECT_ERR(load_mb(d, len, "k"), "big: initrd does not fit");
	fx.cfg.initrd[1] = fx_pattern_file("fits", MIB, 1, 0);
	EXPECT_OK(load_mb(d, len, "k"));
	fx.cfg.initrd[1] = "no/such/module";
	EXPECT_ERR(load_mb(d, len, "k"), "no/such/module: cannot open");
	free(d);
	fx_free();
}

static void truncated(void)
{
	fx_init(64 * MIB);
	size_t len, alen;
	uint8_t *d = make_elf32(&len);
	uint8_t *a = make_aout(&alen, 0x100000 + A_SIZE, 0);
	int bad = 0;
	for (size_t cut = 0; cut < len || cut < alen; cut++) {
		for (int k = 0; k < 2; k++) {
			if (cut >= (k ? alen : len))
				continue;
			capture_begin();
			int r = load_mb(k ? a : d, cut, "cut");
			capture_end();
			if ((r != -1 || strncmp(fx_msg, "runvm: cut: ", 12) != 0) && !bad++)
				fprintf(stderr, "%s cut at %zu: r=%d msg=%s\n", k ? "a.out" : "elf",
					cut, r, fx_msg);
		}
	}
	CHECK_EQ(bad, 0);
	free(d);
	free(a);
	fx_free();
}

int main(void)
{
	RUN(elf_kernel);
	RUN(cmdline_without_append);
	RUN(aout_kernel);
	RUN(aout_bad_addresses);
	RUN(bad_headers);
	RUN(elf_bad_segments);
	RUN(modules_too_large);
	RUN(truncated);
	TEST_EXIT();
}
