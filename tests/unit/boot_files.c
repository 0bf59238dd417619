/* Reading input files, and boot_load() choosing (or refusing) a format. */
#include <fcntl.h>
#include <sys/stat.h>

#include "boot_fixture.h"

#define MIB (1ULL << 20)

static void blob_reads_whole_file(void)
{
	fx_init(4 * MIB);
	const char *p = fx_pattern_file("f", 100000, 3, 7);
	struct blob b;
	EXPECT_OK(blob_load(&b, p));
	CHECK_EQ(b.size, 100000);
	int same = 1;
	for (size_t i = 0; i < b.size; i++)
		same &= b.data[i] == (uint8_t)(i * 3 + 7);
	CHECK(same);
	CHECK(b.path == p);
	blob_free(&b);
	CHECK(b.data == NULL);
	fx_free();
}

static void blob_errors(void)
{
	fx_init(4 * MIB);
	struct blob b;
	char missing[400];
	snprintf(missing, sizeof(missing), "%s/missing", fx.dir);
	EXPECT_ERR(blob_load(&b, missing), "cannot open");
	EXPECT_ERR(blob_load(&b, fx_file("empty", "", 0)), "is empty");
	EXPECT_ERR(blob_load(&b, fx.dir), "is a directory");
	EXPECT_ERR(blob_load(&b, "/dev/null"), "is not a regular file");
	/* A sparse file larger than any image runvm reads. */
	const char *big = fx_file("sparse", "x", 1);
	if (truncate(big, (off_t)BOOT_BLOB_MAX + 1) == 0)
		EXPECT_ERR(blob_load(&b, big), "is too large");
	if (geteuid() != 0) {   /* root reads anything */
		const char *locked = fx_file("locked", "x", 1);
		chmod(locked, 0);
		EXPECT_ERR(blob_load(&b, locked), "cannot open");
	}
	fx_free();
}

static void dispatch_errors(void)
{
	fx_init(4 * MIB);
	EXPECT_ERR(boot_load(&fx.vm), "nothing to boot");
	fx.cfg.kernel = fx_pattern_file("junk", 20000, 1, 0);
	EXPECT_ERR(boot_load(&fx.vm), "junk: not a bzImage, PVH ELF or multiboot kernel");
	fx.cfg.kernel = fx_file("tiny", "MZ", 2);
	EXPECT_ERR(boot_load(&fx.vm), "tiny: not a bzImage, PVH ELF or multiboot kernel");
	/* A 32-bit ELF without a multiboot header is not something runvm boots. */
	uint8_t elf32[64] = { 0x7f, 'E', 'L', 'F', 1, 1, 1 };
	fx.cfg.kernel = fx_file("elf32", elf32, sizeof(elf32));
	EXPECT_ERR(boot_load(&fx.vm), "not a bzImage, PVH ELF or multiboot kernel");
	/* A truncated ELF64 is reported as such by the PVH loader. */
	uint8_t elf64[20] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	fx.cfg.kernel = fx_file("elf64", elf64, sizeof(elf64));
	EXPECT_ERR(boot_load(&fx.vm), "elf64: ELF header truncated");
	/* "HdrS" alone makes a bzImage: its loader explains what else is wrong. */
	uint8_t hdrs[0x300] = { 0 };
	memcpy(hdrs + 0x202, "HdrS", 4);
	fx.cfg.kernel = fx_file("hdrs", hdrs, sizeof(hdrs));
	EXPECT_ERR(boot_load(&fx.vm), "hdrs: boot protocol 0.00 is too old");
	fx.cfg.raw = fx.cfg.kernel;
	EXPECT_ERR(boot_load(&fx.vm), "--raw and --kernel cannot be used together");
	fx.cfg.kernel = NULL;
	fx.cfg.raw = fx.dir;
	EXPECT_ERR(boot_load(&fx.vm), "is a directory");
	fx_free();
}

int main(void)
{
	RUN(blob_reads_whole_file);
	RUN(blob_errors);
	RUN(dispatch_errors);
	TEST_EXIT();
}
