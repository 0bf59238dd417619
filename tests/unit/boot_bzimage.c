/* The bzImage loader: zero page, initrd placement, long-mode state, bad images. */
#include <sys/stat.h>

#include "boot_fixture.h"
#include "dev/devices.h"

#define ZP BOOT_ZERO_PAGE
#define MIB (1ULL << 20)

struct bz_opts {
	uint16_t version;
	uint16_t xloadflags;
	uint8_t setup_sects;
	uint8_t jump;                   /* header ends at 0x202 + jump */
	uint32_t init_size;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	uint64_t pref_address;
	size_t pm_size;
};

static struct bz_opts bz_defaults(void)
{
	return (struct bz_opts){
		.version = 0x020f, .xloadflags = 0x3, .setup_sects = 4, .jump = 0x6a,
		.init_size = 0x800000, .initrd_addr_max = 0x7fffffff,
		.cmdline_size = 2047, .pref_address = 0x1000000, .pm_size = 8192,
	};
}

#define KERNEL_END 0x1800000ULL         /* pref_address + init_size */

static uint8_t *make_bzimage(const struct bz_opts *o, size_t *len)
{
	size_t setup = ((o->setup_sects ? o->setup_sects : 4) + 1) * 512;
	*len = setup + o->pm_size;
	uint8_t *d = calloc(1, *len);
	d[0x1f1] = o->setup_sects;
	put32(d + 0x1f4, (uint32_t)((o->pm_size + 15) / 16));
	put16(d + 0x1fa, 0xffff);
	put16(d + 0x1fe, 0xaa55);
	d[0x200] = 0xeb;
	d[0x201] = o->jump;
	memcpy(d + 0x202, "HdrS", 4);
	put16(d + 0x206, o->version);
	d[0x211] = 1;                   /* LOADED_HIGH */
	put32(d + 0x22c, o->initrd_addr_max);
	put32(d + 0x230, 0x200000);
	d[0x234] = 1;
	put16(d + 0x236, o->xloadflags);
	put32(d + 0x238, o->cmdline_size);
	put64(d + 0x258, o->pref_address);
	put32(d + 0x260, o->init_size);
	for (size_t i = 0; i < o->pm_size; i++)
		d[setup + i] = (uint8_t)(i * 7 + 3);
	return d;
}

/* Loads a bzImage built from o with boot_bzimage(); returns its result. */
static int load_bz(const struct bz_opts *o)
{
	size_t len;
	uint8_t *d = make_bzimage(o, &len);
	struct blob b = { .path = "test-bzImage", .data = d, .size = len };
	int r = boot_bzimage(&fx.vm, &b);
	free(d);
	return r;
}

static void check_e820(void)
{
	struct e820_map m = fx_e820();
	CHECK_EQ(*gmem(ZP + 0x1e8, 1), m.n);
	for (int i = 0; i < m.n; i++) {
		const uint8_t *e = gmem(ZP + 0x2d0 + 20 * i, 20);
		CHECK_EQ(get64(e), m.e[i].addr);
		CHECK_EQ(get64(e + 8), m.e[i].size);
		CHECK_EQ(get32(e + 16), m.e[i].type);
	}
	CHECK(gmem_is_zero(ZP + 0x2d0 + 20 * m.n, 20));
}

static void check_long_state(void)
{
	const struct boot_state *bs = &fx.vm.boot;
	CHECK(bs->has_sregs);
	CHECK_EQ(bs->regs.rip, 0x100200);
	CHECK_EQ(bs->regs.rsi, ZP);
	CHECK_EQ(bs->regs.rflags, 2);
	check_flat_seg(&bs->sregs.cs, 0x10, 11, 1, 0);
	check_flat_seg(&bs->sregs.ds, 0x18, 3, 0, 1);
	check_flat_seg(&bs->sregs.es, 0x18, 3, 0, 1);
	check_flat_seg(&bs->sregs.ss, 0x18, 3, 0, 1);
	CHECK_EQ(bs->sregs.tr.selector, 0x20);
	CHECK_EQ(bs->sregs.tr.type, 11);
	CHECK_EQ(bs->sregs.tr.present, 1);
	CHECK_EQ(bs->sregs.tr.s, 0);
	CHECK_EQ(bs->sregs.tr.base, BOOT_TSS_ADDR);
	CHECK_EQ(bs->sregs.tr.limit, 0x67);
	CHECK_EQ(bs->sregs.cr0, 0x80000031);
	CHECK_EQ(bs->sregs.cr4, 0x20);
	CHECK_EQ(bs->sregs.efer, 0x500);
	CHECK_EQ(bs->sregs.cr3, BOOT_PML4_ADDR);
	CHECK_EQ(bs->sregs.gdt.base, 0x500);
	CHECK_EQ(bs->sregs.gdt.limit, 0x2f);
	/* The GDT the selectors come from. */
	CHECK_EQ(g64(0x500), 0);
	CHECK_EQ(g64(0x510), 0x00af9b000000ffffULL);
	CHECK_EQ(g64(0x518), 0x00cf93000000ffffULL);
	CHECK_EQ(g64(0x520), 0x00008b0005800067ULL);
	CHECK_EQ(g64(0x528), 0);
	/* Identity map of 4 GiB in 2 MiB pages. */
	CHECK_EQ(g64(0x9000), 0xa003);
	CHECK_EQ(g64(0x9008), 0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(g64(0xa000 + 8 * i), 0xb003 + 0x1000 * i);
	CHECK_EQ(g64(0xa020), 0);
	CHECK_EQ(g64(0xb000), 0x83);
	CHECK_EQ(g64(0xb008), 0x200083);
	CHECK_EQ(g64(0xeff8), 0xffe00083ULL);
}

static void zero_page(void)
{
	fx_init(64 * MIB);
	struct bz_opts o = bz_defaults();
	size_t len;
	uint8_t *d = make_bzimage(&o, &len);
	fx.cfg.kernel = fx_file("bzImage", d, len);
	fx.cfg.append = "console=ttyS0 quiet";
	EXPECT_OK(boot_load(&fx.vm));

	CHECK(gmem_has_pattern(0x100000, o.pm_size, 7, 3));
	CHECK_EQ(*gmem(ZP + 0x210, 1), 0xff);                   /* type_of_loader */
	CHECK_EQ(g32(ZP + 0x228), BOOT_CMDLINE_ADDR);           /* cmd_line_ptr */
	CHECK_EQ(g32(ZP + 0xc8), 0);                            /* ext_cmd_line_ptr */
	CHECK(strcmp((char *)gmem(BOOT_CMDLINE_ADDR, 20), "console=ttyS0 quiet") == 0);
	CHECK_EQ(g64(ZP + 0x70), ACPI_TABLES_ADDR);             /* acpi_rsdp_addr */
	CHECK_EQ(g32(ZP + 0x218), 0);                           /* no initrd */
	CHECK_EQ(g32(ZP + 0x21c), 0);
	/* The setup header is the image's, 0x1f1 up to 0x202 + jump. */
	CHECK(memcmp(gmem(ZP + 0x1f1, 0x1f), d + 0x1f1, 0x1f) == 0);
	CHECK_EQ(get16(gmem(ZP + 0x206, 2)), 0x020f);
	CHECK_EQ(g32(ZP + 0x260), o.init_size);
	CHECK_EQ(g64(ZP + 0x258), o.pref_address);
	CHECK(gmem_is_zero(ZP + 0x26c, 0x2d0 - 0x26c));
	CHECK(gmem_is_zero(ZP, 0x70));                          /* screen_info etc. */
	check_e820();
	check_long_state();
	free(d);
	fx_free();
}

static void initrds_concatenated(void)
{
	fx_init(64 * MIB);
	struct bz_opts o = bz_defaults();
	fx.cfg.initrd[0] = fx_pattern_file("a.cpio", 1001, 1, 0);
	fx.cfg.initrd[1] = fx_pattern_file("b.cpio", 3000, 3, 1);
	fx.cfg.n_initrd = 2;
	EXPECT_OK(load_bz(&o));
	uint64_t image = g32(ZP + 0x218), size = g32(ZP + 0x21c);
	CHECK_EQ(size, 1004 + 3000);
	CHECK_EQ(g32(ZP + 0xc0), 0);
	CHECK_EQ(g32(ZP + 0xc4), 0);
	CHECK_EQ(image % 4096, 0);
	CHECK(image >= KERNEL_END);
	CHECK(image + size <= 64 * MIB);
	CHECK(image + size > 64 * MIB - 4096);                  /* as high as possible */
	CHECK(gmem_has_pattern(image, 1001, 1, 0));
	CHECK(gmem_is_zero(image + 1001, 3));
	CHECK(gmem_has_pattern(image + 1004, 3000, 3, 1));
	fx_free();
}

static void initrd_addr_max(void)
{
	fx_init(64 * MIB);
	struct bz_opts o = bz_defaults();
	o.initrd_addr_max = 0x01ffffff;
	fx.cfg.initrd[0] = fx_pattern_file("a.cpio", 5 * MIB, 1, 0);
	fx.cfg.n_initrd = 1;
	EXPECT_OK(load_bz(&o));
	uint64_t image = g32(ZP + 0x218), size = g32(ZP + 0x21c);
	CHECK_EQ(size, 5 * MIB);
	CHECK(image >= KERNEL_END);
	CHECK(image + size - 1 <= 0x01ffffff);
	fx_free();

	/* 9 MiB does not fit between the kernel's end (24 MiB) and the limit (32 MiB). */
	fx_init(64 * MIB);
	fx.cfg.initrd[0] = fx_pattern_file("big.cpio", 9 * MIB, 1, 0);
	fx.cfg.n_initrd = 1;
	EXPECT_ERR(load_bz(&o), "initrd does not fit");
	fx_free();
}

static void initrd_above_4g(void)
{
	fx_init(3 * 1024 * MIB + 64 * MIB);
	CHECK_EQ(fx.vm.mem.high_size, 64 * MIB);
	struct bz_opts o = bz_defaults();
	o.initrd_addr_max = 0x01ffffff;
	fx.cfg.initrd[0] = fx_pattern_file("big.cpio", 12 * MIB, 5, 2);
	fx.cfg.n_initrd = 1;
	EXPECT_OK(load_bz(&o));
	uint64_t image = g32(ZP + 0x218) | (uint64_t)g32(ZP + 0xc0) << 32;
	CHECK_EQ(g32(ZP + 0xc0), 1);
	CHECK_EQ(g32(ZP + 0x21c), 12 * MIB);
	CHECK(image >= MEM_HOLE_END && image + 12 * MIB <= MEM_HOLE_END + 64 * MIB);
	CHECK(gmem_has_pattern(image, 12 * MIB, 5, 2));
	/* Without XLF_CAN_BE_LOADED_ABOVE_4G it has nowhere to go. */
	o.xloadflags = 0x1;
	EXPECT_ERR(load_bz(&o), "initrd does not fit");
	fx_free();
}

static void initrd_too_large(void)
{
	fx_init(32 * MIB);
	struct bz_opts o = bz_defaults();
	fx.cfg.initrd[0] = fx_pattern_file("exact.cpio", 8 * MIB, 1, 0);
	fx.cfg.n_initrd = 1;
	EXPECT_OK(load_bz(&o));
	CHECK_EQ(g32(ZP + 0x218), KERNEL_END);
	fx.cfg.initrd[0] = fx_pattern_file("over.cpio", 8 * MIB + 1, 1, 0);
	EXPECT_ERR(load_bz(&o), "initrd does not fit");
	fx_free();
}

static void old_protocol_fields(void)
{
	fx_init(64 * MIB);
	struct bz_opts o = bz_defaults();
	o.version = 0x020c;             /* before acpi_rsdp_addr */
	o.setup_sects = 0;              /* means 4 */
	EXPECT_OK(load_bz(&o));
	CHECK_EQ(g64(ZP + 0x70), 0);
	CHECK_EQ(*gmem(BOOT_CMDLINE_ADDR, 1), 0);       /* no --append: empty */
	CHECK(gmem_has_pattern(0x100000, o.pm_size, 7, 3));
	fx_free();
}

static void bad_versions(void)
{
	fx_init(64 * MIB);
	struct bz_opts o = bz_defaults();
	o.version = 0x0205;
	EXPECT_ERR(load_bz(&o), "too old");
	o.version = 0x0200;
	EXPECT_ERR(load_bz(&o), "2.00 is too old");
	o = bz_defaults();
	o.xloadflags = 0x2;
	EXPECT_ERR(load_bz(&o), "no 64-bit entry point");
	o = bz_defaults();
	o.version = 0x020b;             /* xloadflags did not exist */
	EXPECT_ERR(load_bz(&o), "no 64-bit entry point");
	o = bz_defaults();
	o.jump = 0x50;                  /* header stops before init_size */
	EXPECT_ERR(load_bz(&o), "setup header is too short");
	fx_free();
}

static void kernel_too_large(void)
{
	fx_init(16 * MIB);
	struct bz_opts o = bz_defaults();
	EXPECT_ERR(load_bz(&o), "kernel does not fit in RAM");
	fx_free();

	fx_init(64 * MIB);
	o.init_size = 0xffffffff;
	EXPECT_ERR(load_bz(&o), "kernel does not fit in RAM");
	o = bz_defaults();
	o.pref_address = 0xfffffffffffff000ULL;
	EXPECT_ERR(load_bz(&o), "kernel does not fit in RAM");
	fx_free();

	fx_init(2 * MIB);               /* the image itself is larger than RAM above 1 MiB */
	o = bz_defaults();
	o.pref_address = 0;
	o.init_size = 0x1000;
	o.pm_size = MIB + 16;
	EXPECT_ERR(load_bz(&o), "kernel does not fit in RAM");
	fx_free();
}

static void cmdline_limit(void)
{
	fx_init(64 * MIB);
	struct bz_opts o = bz_defaults();
	o.cmdline_size = 16;
	fx.cfg.append = "0123456789abcdef";
	EXPECT_OK(load_bz(&o));
	CHECK(strcmp((char *)gmem(BOOT_CMDLINE_ADDR, 17), "0123456789abcdef") == 0);
	fx.cfg.append = "0123456789abcdefX";
	EXPECT_ERR(load_bz(&o), "command line is too long");
	fx_free();
}

/* Every cut of the file that loses data must be refused, without a crash. */
static void truncated(void)
{
	fx_init(64 * MIB);
	struct bz_opts o = bz_defaults();
	size_t len;
	uint8_t *d = make_bzimage(&o, &len);
	int bad = 0;
	for (size_t cut = 0; cut + 16 <= len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);   /* exact size: ASan sees over-reads */
		memcpy(copy, d, cut);
		struct blob b = { .path = "cut", .data = copy, .size = cut };
		capture_begin();
		int r = boot_bzimage(&fx.vm, &b);
		capture_end();
		if (r != -1 || strncmp(fx_msg, "runvm: cut: ", 12) != 0) {
			if (!bad++)
				fprintf(stderr, "cut at %zu: r=%d msg=%s\n", cut, r, fx_msg);
		}
		free(copy);
	}
	CHECK_EQ(bad, 0);
	free(d);
	fx_free();
}

static void garbage_header(void)
{
	fx_init(64 * MIB);
	struct bz_opts o = bz_defaults();
	size_t len;
	uint8_t *d = make_bzimage(&o, &len);
	struct blob b = { .path = "bad", .data = d, .size = len };
	d[0x1f1] = 200;                 /* setup larger than the file */
	EXPECT_ERR(boot_bzimage(&fx.vm, &b), "truncated");
	d[0x1f1] = 4;
	put32(d + 0x1f4, 0xffffffff);   /* syssize */
	EXPECT_ERR(boot_bzimage(&fx.vm, &b), "truncated");
	put32(d + 0x1f4, 8192 / 16);
	memcpy(d + 0x202, "HdrT", 4);
	EXPECT_ERR(boot_bzimage(&fx.vm, &b), "not a bzImage");
	free(d);
	fx_free();
}

/* The Debian cloud kernel of the guest kit, when it has been built. */
static void real_kernel(void)
{
	struct stat st;
	fx_init(512 * MIB);
	fx.cfg.kernel = "kit/bzImage";
	fx.cfg.append = "console=ttyS0";
	if (stat("kit/initramfs.cpio.gz", &st) == 0) {
		fx.cfg.initrd[0] = "kit/initramfs.cpio.gz";
		fx.cfg.n_initrd = 1;
	}
	EXPECT_OK(boot_load(&fx.vm));
	uint16_t version = get16(gmem(ZP + 0x206, 2));
	CHECK(version >= 0x020c);
	CHECK_EQ(*gmem(ZP + 0x210, 1), 0xff);
	CHECK_EQ(g32(ZP + 0x228), BOOT_CMDLINE_ADDR);
	CHECK(strcmp((char *)gmem(BOOT_CMDLINE_ADDR, 14), "console=ttyS0") == 0);
	if (version >= 0x020e)
		CHECK_EQ(g64(ZP + 0x70), ACPI_TABLES_ADDR);
	uint64_t pref = g64(ZP + 0x258), init_size = g32(ZP + 0x260);
	uint64_t max = g32(ZP + 0x22c);
	if (fx.cfg.n_initrd) {
		uint64_t image = g32(ZP + 0x218), size = g32(ZP + 0x21c);
		CHECK_EQ(size, (uint64_t)st.st_size);
		CHECK(image >= pref + init_size);
		CHECK(image + size - 1 <= max);
		CHECK_EQ(image % 4096, 0);
	}
	check_e820();
	check_long_state();
	fx_free();
}

int main(void)
{
	RUN(zero_page);
	RUN(initrds_concatenated);
	RUN(initrd_addr_max);
	RUN(initrd_above_4g);
	RUN(initrd_too_large);
	RUN(old_protocol_fields);
	RUN(bad_versions);
	RUN(kernel_too_large);
	RUN(cmdline_limit);
	RUN(truncated);
	RUN(garbage_header);
	if (access("kit/bzImage", R_OK) == 0)
		RUN(real_kernel);
	else
		printf("SKIP unit/%s/real_kernel (kit/bzImage not built)\n", TEST_FILE);
	TEST_EXIT();
}
