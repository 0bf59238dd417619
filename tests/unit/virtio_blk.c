/*
 * virtio-blk against a temporary image: read/write/flush round trips,
 * GET_ID, discard and write-zeroes, a read-only disk, requests with bad
 * headers, sectors and lengths, direction mix-ups, malformed chains, many
 * requests in flight, and a reset while I/O is under way.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "virtio_fixture.h"
#include "vmm/config.h"

#define T_IN            0
#define T_OUT           1
#define T_FLUSH         4
#define T_GET_ID        8
#define T_DISCARD       11
#define T_WRITE_ZEROES  13
#define S_OK            0
#define S_IOERR         1
#define S_UNSUPP        2
#define F_RO            5
#define F_FLUSH         9
#define F_DISCARD       13
#define F_WRITE_ZEROES  14

#define DISK_SIZE       (4ULL << 20)
#define SECTORS         (DISK_SIZE / 512)

static char path[64];

/* Byte i of the image as created: a pattern that differs per sector. */
static uint8_t image_byte(uint64_t i)
{
	return (uint8_t)(i * 7 + i / 512);
}

static void make_image(const char *p, uint64_t size)
{
	int fd = open(p, O_WRONLY | O_TRUNC);
	uint8_t *buf = malloc(size);
	for (uint64_t i = 0; i < size; i++)
		buf[i] = image_byte(i);
	CHECK(fd >= 0 && write(fd, buf, size) == (ssize_t)size);
	close(fd);
	free(buf);
}

static void host_read(uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, buf, len, (off_t)off) == (ssize_t)len);
	close(fd);
}

static void setup_disk(int readonly, uint64_t want_features)
{
	vx_vm_setup(64ULL << 20);
	snprintf(path, sizeof(path), "/tmp/runvm-vblk-XXXXXX");
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	make_image(path, DISK_SIZE);
	struct config_disk d = { .readonly = readonly };
	snprintf(d.path, sizeof(d.path), "%s", path);
	vx_attach(virtio_blk_create(&vm, &d, 0));
	CHECK(vx_driver_init(want_features) & VIRTIO_STATUS_DRIVER_OK);
}

static void teardown(void)
{
	vx_detach();
	unlink(path);
	vx_vm_teardown();
}

struct blk_header {
	uint32_t type, reserved;
	uint64_t sector;
};

/* Posts header, data (readable or writable, may be absent) and a status byte. */
static uint64_t post_req(uint32_t type, uint64_t sector, uint64_t data, uint32_t len, uint16_t dir)
{
	uint64_t h = vx_alloc(16), st = vx_alloc(1);
	struct blk_header hdr = { .type = type, .sector = sector };
	memcpy(vx_mem(h, 16), &hdr, 16);
	*(uint8_t *)vx_mem(st, 1) = 0xee;
	struct vx_buf b[3] = { { h, 16, VX_R } };
	int n = 1;
	if (len)
		b[n++] = (struct vx_buf){ data, len, dir };
	b[n++] = (struct vx_buf){ st, 1, VX_W };
	vx_post(0, b, n);
	return st;
}

/* One request, waited for: its status byte, and its used length in *used_len. */
static uint8_t do_req(uint32_t type, uint64_t sector, uint64_t data, uint32_t len, uint16_t dir,
		      uint32_t *used_len)
{
	uint64_t st = post_req(type, sector, data, len, dir);
	vx_kick(0);
	CHECK(vx_wait_used(0, drv.q[0].avail_idx));
	uint32_t id, ulen;
	CHECK_EQ(vx_take_used(0, &id, &ulen), 0);
	if (used_len)
		*used_len = ulen;
	return *(uint8_t *)vx_mem(st, 1);
}

static uint64_t config64(unsigned off)
{
	return virtio_mmio_read(drv.t, VIRTIO_MMIO_CONFIG + off, 4) |
	       virtio_mmio_read(drv.t, VIRTIO_MMIO_CONFIG + off + 4, 4) << 32;
}

static void test_config(void)
{
	setup_disk(0, VX_ALL_FEATURES);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	CHECK_EQ(config64(0), SECTORS);
	CHECK_EQ(virtio_mmio_read(drv.t, VIRTIO_MMIO_CONFIG + 12, 4), VIRTQ_SEG_MAX - 2);
	CHECK_EQ(virtio_mmio_read(drv.t, VIRTIO_MMIO_CONFIG + 20, 4), 512);
	CHECK_EQ(virtio_mmio_read(drv.t, VIRTIO_MMIO_CONFIG + 40, 4), 32);
	/* Byte-wide reads of the capacity, as a driver may do. */
	CHECK_EQ(virtio_mmio_read(drv.t, VIRTIO_MMIO_CONFIG + 1, 1), SECTORS >> 8);
	uint64_t f = vx_device_features();
	CHECK(f & (1ULL << F_FLUSH));
	CHECK(f & (1ULL << F_DISCARD));
	CHECK(f & (1ULL << F_WRITE_ZEROES));
	CHECK(!(f & (1ULL << F_RO)));
	teardown();

	setup_disk(1, VX_ALL_FEATURES);
	f = vx_device_features();
	CHECK(f & (1ULL << F_RO));
	CHECK(!(f & (1ULL << F_DISCARD)));
	CHECK(!(f & (1ULL << F_WRITE_ZEROES)));
	teardown();
}

static void test_write_read_round_trip(void)
{
	setup_disk(0, VX_ALL_FEATURES);
	/* Write 8 KiB at sector 3 from two buffers of a four-descriptor chain. */
	uint64_t h = vx_alloc(16), a = vx_alloc(3000), b = vx_alloc(8192 - 3000), st = vx_alloc(1);
	struct blk_header hdr = { .type = T_OUT, .sector = 3 };
	memcpy(vx_mem(h, 16), &hdr, 16);
	for (int i = 0; i < 3000; i++)
		((uint8_t *)vx_mem(a, 3000))[i] = (uint8_t)(i ^ 0x5a);
	for (int i = 0; i < 8192 - 3000; i++)
		((uint8_t *)vx_mem(b, 8192 - 3000))[i] = (uint8_t)((i + 3000) ^ 0x5a);
	struct vx_buf w[4] = { { h, 16, VX_R }, { a, 3000, VX_R }, { b, 8192 - 3000, VX_R }, { st, 1, VX_W } };
	vx_post(0, w, 4);
	vx_kick(0);
	CHECK(vx_wait_used(0, 1));
	uint32_t id, len;
	CHECK_EQ(vx_take_used(0, &id, &len), 0);
	CHECK_EQ(len, 1);
	CHECK_EQ(*(uint8_t *)vx_mem(st, 1), S_OK);

	uint8_t host[8192 + 1024];
	host_read(2 * 512, host, sizeof(host));
	CHECK_EQ(host[511], image_byte(3 * 512 - 1));           /* sector 2 untouched */
	int same = 1;
	for (int i = 0; i < 8192; i++)
		same &= host[512 + i] == (uint8_t)(i ^ 0x5a);
	CHECK(same);
	CHECK_EQ(host[512 + 8192], image_byte(19 * 512));       /* sector 19 untouched */

	/* Flush, then read it back into one buffer. */
	CHECK_EQ(do_req(T_FLUSH, 0, 0, 0, VX_R, &len), S_OK);
	CHECK_EQ(len, 1);
	uint64_t r = vx_alloc(8192);
	CHECK_EQ(do_req(T_IN, 3, r, 8192, VX_W, &len), S_OK);
	CHECK_EQ(len, 8193);
	CHECK(memcmp(vx_mem(r, 8192), host + 512, 8192) == 0);

	/* The last sector of the disk, read and written. */
	CHECK_EQ(do_req(T_IN, SECTORS - 1, r, 512, VX_W, NULL), S_OK);
	CHECK_EQ(((uint8_t *)vx_mem(r, 512))[0], image_byte(DISK_SIZE - 512));
	CHECK_EQ(do_req(T_OUT, SECTORS - 1, r, 512, VX_R, NULL), S_OK);
	teardown();
}

static void test_indirect_request(void)
{
	setup_disk(0, VX_ALL_FEATURES);
	uint64_t table = vx_alloc(3 * 16), h = vx_alloc(16), d = vx_alloc(1024), st = vx_alloc(1);
	struct blk_header hdr = { .type = T_IN, .sector = 10 };
	memcpy(vx_mem(h, 16), &hdr, 16);
	vx_set_table_desc(table, 0, h, 16, VIRTQ_DESC_F_NEXT, 1);
	vx_set_table_desc(table, 1, d, 1024, VIRTQ_DESC_F_NEXT | VX_W, 2);
	vx_set_table_desc(table, 2, st, 1, VX_W, 0);
	struct vx_buf b = { table, 48, VIRTQ_DESC_F_INDIRECT };
	vx_post(0, &b, 1);
	vx_kick(0);
	CHECK(vx_wait_used(0, 1));
	CHECK_EQ(*(uint8_t *)vx_mem(st, 1), S_OK);
	CHECK_EQ(((uint8_t *)vx_mem(d, 1024))[1000], image_byte(10 * 512 + 1000));
	teardown();
}

static void test_read_only(void)
{
	setup_disk(1, VX_ALL_FEATURES);
	CHECK(drv.dev->guest_features & (1ULL << F_RO));
	uint64_t buf = vx_alloc(4096);
	memset(vx_mem(buf, 4096), 0xab, 4096);
	CHECK_EQ(do_req(T_OUT, 0, buf, 4096, VX_R, NULL), S_IOERR);
	uint8_t host[4096];
	host_read(0, host, sizeof(host));
	CHECK_EQ(host[100], image_byte(100));
	/* Reads and flushes work; discard was not offered. */
	CHECK_EQ(do_req(T_IN, 0, buf, 4096, VX_W, NULL), S_OK);
	CHECK(memcmp(vx_mem(buf, 4096), host, 4096) == 0);
	CHECK_EQ(do_req(T_FLUSH, 0, 0, 0, VX_R, NULL), S_OK);
	uint64_t seg = vx_alloc(16);
	struct { uint64_t sector; uint32_t n, flags; } range = { 0, 8, 0 };
	memcpy(vx_mem(seg, 16), &range, 16);
	CHECK_EQ(do_req(T_DISCARD, 0, seg, 16, VX_R, NULL), S_UNSUPP);
	CHECK_EQ(do_req(T_WRITE_ZEROES, 0, seg, 16, VX_R, NULL), S_UNSUPP);
	teardown();
}

static void test_get_id(void)
{
	setup_disk(0, VX_ALL_FEATURES);
	uint64_t id = vx_alloc(20);
	uint32_t len;
	CHECK_EQ(do_req(T_GET_ID, 0, id, 20, VX_W, &len), S_OK);
	CHECK_EQ(len, 21);
	const char *base = strrchr(path, '/') + 1;
	CHECK(strncmp(vx_mem(id, 20), base, 20) == 0);
	/* A short buffer gets a prefix. */
	uint64_t small = vx_alloc(8);
	CHECK_EQ(do_req(T_GET_ID, 0, small, 8, VX_W, &len), S_OK);
	CHECK_EQ(len, 9);
	CHECK(memcmp(vx_mem(small, 8), base, 8) == 0);
	teardown();
}

static void test_bad_requests(void)
{
	setup_disk(0, VX_ALL_FEATURES);
	uint64_t buf = vx_alloc(8192);
	CHECK_EQ(do_req(99, 0, buf, 512, VX_W, NULL), S_UNSUPP);
	CHECK_EQ(do_req(0x80000000u, 0, buf, 512, VX_W, NULL), S_UNSUPP);
	CHECK_EQ(do_req(T_IN, SECTORS, buf, 512, VX_W, NULL), S_IOERR);
	CHECK_EQ(do_req(T_IN, SECTORS - 1, buf, 1024, VX_W, NULL), S_IOERR);
	CHECK_EQ(do_req(T_OUT, SECTORS - 1, buf, 1024, VX_R, NULL), S_IOERR);
	CHECK_EQ(do_req(T_IN, 1ULL << 62, buf, 512, VX_W, NULL), S_IOERR);
	CHECK_EQ(do_req(T_IN, 1ULL << 56, buf, 512, VX_W, NULL), S_IOERR);     /* bytes overflow */
	CHECK_EQ(do_req(T_IN, ~0ULL, buf, 512, VX_W, NULL), S_IOERR);
	CHECK_EQ(do_req(T_IN, 0, buf, 100, VX_W, NULL), S_IOERR);              /* not whole sectors */
	CHECK_EQ(do_req(T_OUT, 0, buf, 513, VX_R, NULL), S_IOERR);
	/* Zero-length transfers at the end of the disk are fine. */
	CHECK_EQ(do_req(T_IN, SECTORS, 0, 0, VX_W, NULL), S_OK);

	/* Direction mix-ups: a write whose data is device-writable writes nothing. */
	memset(vx_mem(buf, 512), 0xcd, 512);
	CHECK_EQ(do_req(T_OUT, 0, buf, 512, VX_W, NULL), S_OK);
	uint8_t host[512];
	host_read(0, host, sizeof(host));
	CHECK_EQ(host[0], image_byte(0));
	/* A read whose data is device-readable reads nothing into it. */
	CHECK_EQ(do_req(T_IN, 0, buf, 512, VX_R, NULL), S_OK);
	CHECK_EQ(((uint8_t *)vx_mem(buf, 512))[0], 0xcd);
	/* The device is still fine. */
	CHECK_EQ(vx_status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	CHECK_EQ(do_req(T_IN, 1, buf, 512, VX_W, NULL), S_OK);
	teardown();
}

static void test_malformed_chains(void)
{
	/* A header shorter than 16 bytes: the driver is broken. */
	setup_disk(0, VX_ALL_FEATURES);
	vx_ack();
	uint64_t h = vx_alloc(16), st = vx_alloc(1);
	struct vx_buf b[2] = { { h, 8, VX_R }, { st, 1, VX_W } };
	vx_post(0, b, 2);
	vx_quiet_begin();
	vx_kick(0);
	CHECK(vx_quiet_end("header or status"));
	CHECK(vx_status() & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_CONFIG);
	teardown();

	/* No device-writable byte for the status. */
	setup_disk(0, VX_ALL_FEATURES);
	struct vx_buf c[2] = { { h, 16, VX_R }, { st, 1, VX_R } };
	vx_post(0, c, 2);
	vx_quiet_begin();
	vx_kick(0);
	CHECK(vx_quiet_end("header or status"));
	CHECK(vx_status() & VIRTIO_STATUS_NEEDS_RESET);
	/* A reset brings it back. */
	CHECK(vx_driver_init(VX_ALL_FEATURES) & VIRTIO_STATUS_DRIVER_OK);
	uint64_t buf = vx_alloc(512);
	CHECK_EQ(do_req(T_IN, 0, buf, 512, VX_W, NULL), S_OK);
	teardown();

	/* A data buffer in the MMIO hole. */
	setup_disk(0, VX_ALL_FEATURES);
	post_req(T_IN, 0, MEM_HOLE_START, 512, VX_W);
	vx_quiet_begin();
	vx_kick(0);
	CHECK(vx_quiet_end("not RAM"));
	CHECK(vx_status() & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(vx_used_idx(0), 0);
	teardown();
}

struct range {
	uint64_t sector;
	uint32_t num_sectors, flags;
};

static uint64_t post_ranges(const struct range *r, int n)
{
	uint64_t seg = vx_alloc(16 * (uint64_t)n);
	memcpy(vx_mem(seg, 16 * (uint64_t)n), r, 16 * (size_t)n);
	return seg;
}

static blkcnt_t host_blocks(void)
{
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	return st.st_blocks;
}

static int host_is_zero(uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);
	host_read(off, buf, len);
	int zero = 1;
	for (size_t i = 0; i < len; i++)
		zero &= buf[i] == 0;
	free(buf);
	return zero;
}

static void test_discard_and_write_zeroes(void)
{
	setup_disk(0, VX_ALL_FEATURES);
	blkcnt_t before = host_blocks();
	struct range d = { 0, 2048, 0 };                        /* the first MiB */
	CHECK_EQ(do_req(T_DISCARD, 0, post_ranges(&d, 1), 16, VX_R, NULL), S_OK);
	CHECK(host_is_zero(0, 1 << 20));
	/* On a file system with holes the space is given back. */
	CHECK(host_blocks() <= before);

	struct range z[2] = { { 4096, 8, 0 }, { 4200, 16, 1 /* unmap */ } };
	CHECK_EQ(do_req(T_WRITE_ZEROES, 0, post_ranges(z, 2), 32, VX_R, NULL), S_OK);
	CHECK(host_is_zero(4096 * 512, 8 * 512));
	CHECK(host_is_zero(4200 * 512, 16 * 512));
	uint8_t host[1];
	host_read(4104 * 512, host, 1);
	CHECK_EQ(host[0], image_byte(4104 * 512));

	/* Flags a discard may not carry, ranges off the disk, too many or no ranges. */
	struct range bad = { 0, 8, 1 };
	CHECK_EQ(do_req(T_DISCARD, 0, post_ranges(&bad, 1), 16, VX_R, NULL), S_UNSUPP);
	bad = (struct range){ 0, 8, 2 };
	CHECK_EQ(do_req(T_WRITE_ZEROES, 0, post_ranges(&bad, 1), 16, VX_R, NULL), S_UNSUPP);
	bad = (struct range){ SECTORS - 4, 8, 0 };
	CHECK_EQ(do_req(T_DISCARD, 0, post_ranges(&bad, 1), 16, VX_R, NULL), S_IOERR);
	bad = (struct range){ ~0ULL - 2, 8, 0 };
	CHECK_EQ(do_req(T_DISCARD, 0, post_ranges(&bad, 1), 16, VX_R, NULL), S_IOERR);
	bad = (struct range){ 0, 0xffffffffu, 0 };
	CHECK_EQ(do_req(T_DISCARD, 0, post_ranges(&bad, 1), 16, VX_R, NULL), S_IOERR);
	struct range many[33] = { { 0, 0, 0 } };
	CHECK_EQ(do_req(T_DISCARD, 0, post_ranges(many, 33), 33 * 16, VX_R, NULL), S_UNSUPP);
	CHECK_EQ(do_req(T_DISCARD, 0, 0, 0, VX_R, NULL), S_UNSUPP);
	CHECK_EQ(do_req(T_DISCARD, 0, post_ranges(many, 1), 12, VX_R, NULL), S_UNSUPP);
	teardown();
}

static void test_without_flush_feature(void)
{
	/* A driver that does not take FLUSH gets write-through and no FLUSH requests. */
	setup_disk(0, VX_ALL_FEATURES & ~(1ULL << F_FLUSH));
	uint64_t buf = vx_alloc(512);
	memset(vx_mem(buf, 512), 0x77, 512);
	CHECK_EQ(do_req(T_OUT, 5, buf, 512, VX_R, NULL), S_OK);
	CHECK_EQ(do_req(T_FLUSH, 0, 0, 0, VX_R, NULL), S_UNSUPP);
	uint8_t host[1];
	host_read(5 * 512, host, 1);
	CHECK_EQ(host[0], 0x77);
	teardown();
}

static void test_many_in_flight(void)
{
	setup_disk(0, VX_ALL_FEATURES);
	/* 80 requests of 3 descriptors: most of the ring, all in flight at once. */
	enum { N = 80 };
	uint64_t st[N], data[N];
	uint16_t heads[N];
	for (int i = 0; i < N; i++) {
		data[i] = vx_alloc(4096);
		heads[i] = drv.q[0].next_desc;
		/* Alternate reads of sector 8i with writes of sector 4000 + 8i. */
		if (i % 2) {
			memset(vx_mem(data[i], 4096), i, 4096);
			st[i] = post_req(T_OUT, 4000 + 8 * (uint64_t)i, data[i], 4096, VX_R);
		} else {
			st[i] = post_req(T_IN, 8 * (uint64_t)i, data[i], 4096, VX_W);
		}
	}
	vx_kick(0);
	CHECK(vx_wait_used(0, N));
	int ok = 1;
	for (int i = 0; i < N; i++) {
		ok &= *(uint8_t *)vx_mem(st[i], 1) == S_OK;
		if (i % 2 == 0)
			ok &= ((uint8_t *)vx_mem(data[i], 4096))[4095] == image_byte(8 * 512 * (uint64_t)i + 4095);
	}
	CHECK(ok);
	uint8_t host[1];
	host_read((4000 + 8 * (N - 1)) * 512ULL, host, 1);
	CHECK_EQ(host[0], N - 1);
	/* Every head came back exactly once, with its length. */
	uint32_t id, len;
	int seen[256] = { 0 };
	while (vx_take_used(0, &id, &len) == 0)
		if (id < 256)
			seen[id]++;
	int once = 1;
	for (int i = 0; i < N; i++)
		once &= seen[heads[i]] == 1;
	CHECK(once);
	teardown();
}

static void test_duplicate_heads(void)
{
	setup_disk(0, VX_ALL_FEATURES);
	/* One chain listed in every avail entry: 256 requests on the same buffers. */
	uint64_t buf = vx_alloc(512);
	post_req(T_IN, 0, buf, 512, VX_W);
	uint16_t head = (uint16_t)vx_get16(VX_AVAIL(0) + 4);
	for (uint16_t i = 0; i < 256; i++)
		vx_set_avail_entry(0, 256, i, head);
	vx_set_avail_idx(0, 256);
	drv.q[0].avail_idx = 256;
	vx_kick(0);
	CHECK(vx_wait_used(0, 256));
	CHECK_EQ(vx_status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	teardown();
}

static void test_reset_during_io(void)
{
	for (int round = 0; round < 5; round++) {
		setup_disk(0, VX_ALL_FEATURES);
		for (int i = 0; i < 80; i++)
			post_req(i % 2 ? T_OUT : T_IN, 8 * (uint64_t)i, vx_alloc(65536), 65536, i % 2 ? VX_R : VX_W);
		post_req(T_FLUSH, 0, 0, 0, VX_R);
		vx_kick(0);
		/* Reset at once: it returns only when no request touches guest memory. */
		vx_wr(VIRTIO_MMIO_STATUS, 0);
		uint16_t used = vx_used_idx(0);
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
		CHECK_EQ(vx_used_idx(0), used);
		CHECK_EQ(virtio_mmio_irq_level(drv.t), 0);
		/* And the disk works after a new initialization. */
		CHECK(vx_driver_init(VX_ALL_FEATURES) & VIRTIO_STATUS_DRIVER_OK);
		uint64_t buf = vx_alloc(512);
		CHECK_EQ(do_req(T_IN, 2, buf, 512, VX_W, NULL), S_OK);
		teardown();
	}
}

static void test_bad_files(void)
{
	vx_vm_setup(64ULL << 20);
	struct config_disk d = { .readonly = 0 };
	snprintf(d.path, sizeof(d.path), "/nonexistent/runvm-disk");
	vx_quiet_begin();
	CHECK(virtio_blk_create(&vm, &d, 0) == NULL);
	CHECK(vx_quiet_end("--disk /nonexistent/runvm-disk: No such file"));

	snprintf(d.path, sizeof(d.path), "/tmp");
	vx_quiet_begin();
	CHECK(virtio_blk_create(&vm, &d, 0) == NULL);
	CHECK(vx_quiet_end("--disk /tmp:"));

	/* One image given twice for writing: the second is refused. */
	snprintf(path, sizeof(path), "/tmp/runvm-vblk-XXXXXX");
	int fd = mkstemp(path);
	CHECK(fd >= 0 && ftruncate(fd, 4096) == 0);
	close(fd);
	snprintf(d.path, sizeof(d.path), "%s", path);
	struct virtio_dev *a = virtio_blk_create(&vm, &d, 0);
	CHECK(a != NULL);
	vx_quiet_begin();
	CHECK(virtio_blk_create(&vm, &d, 1) == NULL);
	CHECK(vx_quiet_end("in use"));
	if (a)
		a->ops->destroy(a);
	/* Read-only twice is fine. */
	d.readonly = 1;
	a = virtio_blk_create(&vm, &d, 0);
	struct virtio_dev *b = virtio_blk_create(&vm, &d, 1);
	CHECK(a && b);
	if (a)
		a->ops->destroy(a);
	if (b)
		b->ops->destroy(b);
	/* A size that is not whole sectors: a warning, and the tail is unused. */
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && ftruncate(fd, 4096 + 100) == 0);
	close(fd);
	vx_quiet_begin();
	a = virtio_blk_create(&vm, &d, 0);
	CHECK(vx_quiet_end("not a whole sector"));
	CHECK(a != NULL);
	if (a) {
		CHECK_EQ(buf_read(a->config, a->config_len, 0, 8), 8);
		a->ops->destroy(a);
	}
	unlink(path);
	vx_vm_teardown();
}

int main(void)
{
	RUN(test_config);
	RUN(test_write_read_round_trip);
	RUN(test_indirect_request);
	RUN(test_read_only);
	RUN(test_get_id);
	RUN(test_bad_requests);
	RUN(test_malformed_chains);
	RUN(test_discard_and_write_zeroes);
	RUN(test_without_flush_feature);
	RUN(test_many_in_flight);
	RUN(test_duplicate_heads);
	RUN(test_reset_during_io);
	RUN(test_bad_files);
	TEST_EXIT();
}
