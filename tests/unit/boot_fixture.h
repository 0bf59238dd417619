/*
 * Shared by the loader tests: a struct vm that has only memory and a
 * configuration, temporary input files, capture of the loaders' messages,
 * and little-endian accessors for building images and reading guest RAM.
 */
#ifndef RUNVM_TEST_BOOT_FIXTURE_H
#define RUNVM_TEST_BOOT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "vmm/boot/boot.h"

#define FX_MAX_FILES 16

struct fx {
	struct config cfg;
	struct vm vm;
	char dir[256];
	char paths[FX_MAX_FILES][300];
	int nfiles;
};

static struct fx fx;            /* struct vm is large: keep it static */
static char fx_msg[8192];       /* what the last captured call printed */
static FILE *fx_saved_stderr;
static char *fx_buf;
static size_t fx_len;

static inline void fx_init(uint64_t mem)
{
	memset(&fx, 0, sizeof(fx));
	fx.cfg.mem = mem;
	fx.cfg.cpus = 1;
	fx.vm.cfg = &fx.cfg;
	fx.vm.ncpus = 1;
	if (guest_mem_init(&fx.vm.mem, mem) != 0)
		abort();
	const char *tmp = getenv("TMPDIR");
	snprintf(fx.dir, sizeof(fx.dir), "%s/runvm-boot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fx.dir))
		abort();
}

static inline void fx_free(void)
{
	for (int i = 0; i < fx.nfiles; i++)
		unlink(fx.paths[i]);
	rmdir(fx.dir);
	guest_mem_free(&fx.vm.mem);
}

/* Writes a temporary file and returns its path. */
static inline const char *fx_file(const char *name, const void *data, size_t len)
{
	if (fx.nfiles >= FX_MAX_FILES)
		abort();
	char *p = fx.paths[fx.nfiles++];
	snprintf(p, sizeof(fx.paths[0]), "%s/%s", fx.dir, name);
	FILE *f = fopen(p, "wb");
	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
		abort();
	return p;
}

/* A file of len bytes, byte i = i * mul + seed. */
static inline const char *fx_pattern_file(const char *name, size_t len, unsigned mul, unsigned seed)
{
	uint8_t *d = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		d[i] = (uint8_t)(i * mul + seed);
	const char *p = fx_file(name, d, len);
	free(d);
	return p;
}

static inline void capture_begin(void)
{
	fflush(stderr);
	fx_saved_stderr = stderr;
	stderr = open_memstream(&fx_buf, &fx_len);
	if (!stderr)
		abort();
}

static inline void capture_end(void)
{
	fclose(stderr);
	stderr = fx_saved_stderr;
	snprintf(fx_msg, sizeof(fx_msg), "%s", fx_buf ? fx_buf : "");
	free(fx_buf);
	fx_buf = NULL;
}

/* call must fail with a "runvm: " message containing substr. */
#define EXPECT_ERR(call, substr) do { \
	capture_begin(); \
	int _r = (call); \
	capture_end(); \
	CHECK_EQ(_r, -1); \
	if (strncmp(fx_msg, "runvm: ", 7) != 0 || !strstr(fx_msg, substr)) { \
		fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", \
			__FILE__, __LINE__, fx_msg, substr); \
		test_failed_now = 1; \
	} \
} while (0)

/* call must succeed without a message. */
#define EXPECT_OK(call) do { \
	capture_begin(); \
	int _r = (call); \
	capture_end(); \
	if (_r != 0 || fx_msg[0]) { \
		fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call, _r, fx_msg); \
		test_failed_now = 1; \
	} \
} while (0)

static inline void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Guest RAM at gpa (len bytes must be RAM). */
static inline uint8_t *gmem(uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_ptr(&fx.vm.mem, gpa, len);
	if (!p) {
		fprintf(stderr, "guest address 0x%llx+0x%llx is not RAM\n",
			(unsigned long long)gpa, (unsigned long long)len);
		abort();
	}
	return p;
}
static inline uint32_t g32(uint64_t gpa) { return get32(gmem(gpa, 4)); }
static inline uint64_t g64(uint64_t gpa) { return get64(gmem(gpa, 8)); }

/* True when guest [gpa, gpa+len) equals file bytes i * mul + seed. */
static inline int gmem_has_pattern(uint64_t gpa, size_t len, unsigned mul, unsigned seed)
{
	const uint8_t *p = gmem(gpa, len);
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)(i * mul + seed))
			return 0;
	return 1;
}

static inline int gmem_is_zero(uint64_t gpa, size_t len)
{
	const uint8_t *p = gmem(gpa, len);
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Checks a segment register against what a flat GDT descriptor gives. */
static inline void check_flat_seg(const struct kvm_segment *s, uint16_t sel, uint8_t type,
			   int l, int db)
{
	CHECK_EQ(s->selector, sel);
	CHECK_EQ(s->base, 0);
	CHECK_EQ(s->limit, 0xffffffffu);
	CHECK_EQ(s->type, type);
	CHECK_EQ(s->present, 1);
	CHECK_EQ(s->s, 1);
	CHECK_EQ(s->dpl, 0);
	CHECK_EQ(s->g, 1);
	CHECK_EQ(s->l, l);
	CHECK_EQ(s->db, db);
}

/* The e820 map the loaders must report, for comparison. */
static inline struct e820_map fx_e820(void)
{
	struct e820_map m;
	guest_mem_e820(&fx.vm.mem, &m);
	return m;
}

#endif
