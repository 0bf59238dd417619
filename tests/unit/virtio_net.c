/*
 * virtio-net on a datagram socket pair standing in for the TAP (one
 * datagram per frame, the 12-byte vnet header in front, as a TAP with
 * IFF_VNET_HDR gives them): transmit and receive, the header the guest
 * sees and the one the host gets, frames waiting for receive buffers,
 * short and oversized chains, reset.
 */
#include <fcntl.h>
#include <sys/socket.h>

#include "virtio_fixture.h"

#define RX 0
#define TX 1
#define HDR 12

static int peer = -1;
static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };

static void setup(void)
{
	vx_vm_setup(64ULL << 20);
	int sv[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	/* Room for big frames in the pair's buffers. */
	int big = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	peer = sv[1];
	vx_attach(virtio_net_create_fd(&vm, sv[0], mac, 0));
	CHECK(vx_driver_init(VX_ALL_FEATURES) & VIRTIO_STATUS_DRIVER_OK);
}

static void teardown(void)
{
	vx_detach();
	close(peer);
	vx_vm_teardown();
}

/* Receives one datagram from the device within 2 s; its length, or -1. */
static ssize_t peer_recv(uint8_t *buf, size_t len)
{
	for (int i = 0; i < 2000; i++) {
		ssize_t n = recv(peer, buf, len, 0);
		if (n >= 0)
			return n;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* A frame from the host side: a header of junk, then len bytes of pattern seed. */
static void peer_send(size_t len, uint8_t seed)
{
	uint8_t buf[2048];
	memset(buf, 0xee, HDR);
	for (size_t i = 0; i < len; i++)
		buf[HDR + i] = (uint8_t)(seed + i);
	/* A datagram pair queues only a few: wait while the device drains it. */
	ssize_t n = -1;
	for (int i = 0; i < 2000 && n < 0; i++) {
		n = send(peer, buf, HDR + len, 0);
		if (n < 0) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	CHECK_EQ(n, (ssize_t)(HDR + len));
}

static void test_config(void)
{
	setup();
	CHECK_EQ(vx_rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	for (int i = 0; i < 6; i++)
		CHECK_EQ(virtio_mmio_read(drv.t, VIRTIO_MMIO_CONFIG + (uint64_t)i, 1), mac[i]);
	CHECK_EQ(virtio_mmio_read(drv.t, VIRTIO_MMIO_CONFIG + 6, 2), 1);        /* link up */
	uint64_t f = vx_device_features();
	CHECK(f & (1ULL << 5));                         /* MAC */
	CHECK(f & (1ULL << 16));                        /* STATUS */
	CHECK(!(f & (1ULL << 0)));                      /* no checksum offload */
	vx_wr(VIRTIO_MMIO_QUEUE_SEL, 2);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);  /* no control queue */
	teardown();
}

static void test_transmit(void)
{
	setup();
	uint64_t h = vx_alloc(HDR), a = vx_alloc(40), b = vx_alloc(60);
	memset(vx_mem(h, HDR), 0xff, HDR);              /* offload requests nobody offered */
	for (int i = 0; i < 40; i++)
		((uint8_t *)vx_mem(a, 40))[i] = (uint8_t)i;
	for (int i = 0; i < 60; i++)
		((uint8_t *)vx_mem(b, 60))[i] = (uint8_t)(40 + i);
	struct vx_buf chain[3] = { { h, HDR, VX_R }, { a, 40, VX_R }, { b, 60, VX_R } };
	uint16_t head = vx_post(TX, chain, 3);
	CHECK(vx_kick_wait(TX));
	uint8_t got[256];
	CHECK_EQ(peer_recv(got, sizeof(got)), HDR + 100);
	uint8_t zero[HDR] = { 0 };
	CHECK(memcmp(got, zero, HDR) == 0);
	int same = 1;
	for (int i = 0; i < 100; i++)
		same &= got[HDR + i] == (uint8_t)i;
	CHECK(same);
	uint32_t id, len;
	CHECK_EQ(vx_take_used(TX, &id, &len), 0);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	teardown();
}

static void test_transmit_bad_chains(void)
{
	setup();
	/* Shorter than the header, too long for any TAP, writable only: used, never sent. */
	uint64_t small = vx_alloc(8), huge = vx_alloc(70000);
	struct vx_buf s = { small, 8, VX_R };
	struct vx_buf l = { huge, 70000, VX_R };
	struct vx_buf w = { small, 8, VX_W };
	vx_post(TX, &s, 1);
	vx_post(TX, &l, 1);
	vx_post(TX, &w, 1);
	CHECK(vx_kick_wait(TX));
	uint8_t got[16];
	CHECK_EQ(recv(peer, got, sizeof(got), 0), -1);
	CHECK_EQ(vx_status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	teardown();
}

/* A receive buffer as Linux posts it without mergeable buffers: header, then room for a frame. */
static uint64_t post_rx(int split)
{
	uint64_t h = vx_alloc(HDR + 1514);
	memset(vx_mem(h, HDR + 1514), 0x33, HDR + 1514);
	if (split) {
		struct vx_buf b[2] = { { h, HDR, VX_W }, { h + HDR, 1514, VX_W } };
		vx_post(RX, b, 2);
	} else {
		struct vx_buf b = { h, HDR + 1514, VX_W };
		vx_post(RX, &b, 1);
	}
	return h;
}

static int frame_ok(uint64_t buf, size_t len, uint8_t seed)
{
	const uint8_t *p = vx_mem(buf, HDR + len);
	static const uint8_t hdr[HDR] = { [10] = 1 };   /* zeroed, num_buffers = 1 */
	if (memcmp(p, hdr, HDR) != 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (p[HDR + i] != (uint8_t)(seed + i))
			return 0;
	return 1;
}

static void test_receive(void)
{
	setup();
	uint64_t a = post_rx(1), b = post_rx(0);
	vx_kick(RX);
	peer_send(60, 1);
	peer_send(1514, 2);
	CHECK(vx_wait_used(RX, 2));
	uint32_t id, len;
	CHECK_EQ(vx_take_used(RX, &id, &len), 0);
	CHECK_EQ(len, HDR + 60);
	CHECK(frame_ok(a, 60, 1));
	CHECK_EQ(vx_take_used(RX, &id, &len), 0);
	CHECK_EQ(len, HDR + 1514);
	CHECK(frame_ok(b, 1514, 2));
	CHECK(virtio_mmio_irq_level(drv.t));
	teardown();
}

static void test_frames_wait_for_buffers(void)
{
	setup();
	for (uint8_t i = 0; i < 3; i++)
		peer_send(100, (uint8_t)(10 * i));
	struct timespec ts = { 0, 20 * 1000000 };
	nanosleep(&ts, NULL);
	CHECK_EQ(vx_used_idx(RX), 0);
	uint64_t bufs[3];
	for (int i = 0; i < 3; i++)
		bufs[i] = post_rx(i % 2);
	vx_kick(RX);
	CHECK(vx_wait_used(RX, 3));
	for (int i = 0; i < 3; i++)
		CHECK(frame_ok(bufs[i], 100, (uint8_t)(10 * i)));
	teardown();
}

static void test_receive_buffer_too_small(void)
{
	setup();
	uint64_t b = vx_alloc(8);
	struct vx_buf small = { b, 8, VX_W };
	vx_post(RX, &small, 1);
	vx_kick(RX);
	vx_quiet_begin();
	peer_send(60, 0);
	for (int i = 0; i < 2000 && !(vx_status() & VIRTIO_STATUS_NEEDS_RESET); i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	CHECK(vx_quiet_end("smaller than the header"));
	CHECK(vx_status() & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(vx_used_idx(RX), 0);
	/* A reset and new set-up bring reception back; the frame waited in the socket. */
	CHECK(vx_driver_init(VX_ALL_FEATURES) & VIRTIO_STATUS_DRIVER_OK);
	uint64_t a = post_rx(0);
	vx_kick(RX);
	CHECK(vx_wait_used(RX, 1));
	CHECK(frame_ok(a, 60, 0));
	teardown();
}

static void test_many_frames(void)
{
	setup();
	/* More frames than buffers at any time: the guest refills as it goes. */
	uint64_t bufs[64];
	for (int i = 0; i < 64; i++)
		bufs[i] = post_rx(0);
	vx_kick(RX);
	int ok = 1;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 64; i++)
			peer_send(200, (uint8_t)(round * 64 + i));
		CHECK(vx_wait_used(RX, (uint16_t)(64 * (round + 1))));
		for (int i = 0; i < 64; i++) {
			ok &= frame_ok(bufs[i], 200, (uint8_t)(round * 64 + i));
			uint32_t id, len;
			ok &= vx_take_used(RX, &id, &len) == 0 && len == HDR + 200;
		}
		/* Give the same buffers back. */
		drv.buf_next = bufs[0];
		for (int i = 0; i < 64; i++)
			bufs[i] = post_rx(0);
		vx_kick(RX);
	}
	CHECK(ok);
	teardown();
}

int main(void)
{
	RUN(test_config);
	RUN(test_transmit);
	RUN(test_transmit_bad_chains);
	RUN(test_receive);
	RUN(test_frames_wait_for_buffers);
	RUN(test_receive_buffer_too_small);
	RUN(test_many_frames);
	TEST_EXIT();
}
