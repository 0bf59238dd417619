/*
 * virtio-console: output and input through a stream socket pair, output to
 * a reader that does not keep up (the notifying thread must never block,
 * nothing may be lost), a reader that goes away, the --console2
 * backends: a unix socket that clients connect to, and a file, and the
 * transmit interrupts: none for chains a driver reclaimed by polling, as
 * Linux's console does, one for a driver that waits for it.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "virtio_fixture.h"

#define RX 0
#define TX 1

static int peer = -1;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void start(struct virtio_dev *d)
{
	vx_attach(d);
	CHECK(vx_driver_init(VX_ALL_FEATURES) & VIRTIO_STATUS_DRIVER_OK);
}

static void setup_pair(int small_buffers)
{
	vx_vm_setup(64ULL << 20);
	int sv[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	if (small_buffers) {
		int small = 4096;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	peer = sv[1];
	start(virtio_console_create_fds(&vm, sv[0], sv[0]));
}

static void teardown(void)
{
	vx_detach();
	if (peer >= 0)
		close(peer);
	peer = -1;
	vx_vm_teardown();
}

static uint16_t post_tx(const char *s)
{
	size_t n = strlen(s);
	uint64_t b = vx_alloc(n);
	memcpy(vx_mem(b, n), s, n);
	struct vx_buf buf = { b, (uint32_t)n, VX_R };
	return vx_post(TX, &buf, 1);
}

/* Reads exactly len bytes from fd within 5 s; returns how many came. */
static size_t read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	double end = now() + 5;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (got < len && now() < end) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);
		if (n > 0) {
			got += (size_t)n;
		} else {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	return got;
}

static void test_output_and_input(void)
{
	setup_pair(0);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	post_tx("hello ");
	post_tx("world\n");
	vx_kick(TX);
	char got[32] = { 0 };
	CHECK_EQ(read_all(peer, got, 12), 12);
	CHECK(strcmp(got, "hello world\n") == 0);
	CHECK(vx_wait_used(TX, 2));

	uint64_t in = vx_alloc(64);
	struct vx_buf b = { in, 64, VX_W };
	vx_post(RX, &b, 1);
	vx_kick(RX);
	CHECK_EQ(write(peer, "abc", 3), 3);
	CHECK(vx_wait_used(RX, 1));
	uint32_t id, len;
	CHECK_EQ(vx_take_used(RX, &id, &len), 0);
	CHECK_EQ(len, 3);
	CHECK(memcmp(vx_mem(in, 3), "abc", 3) == 0);
	teardown();
}

static void test_slow_reader_loses_nothing(void)
{
	setup_pair(1);
	enum { CHAINS = 8, SIZE = 60000 };
	for (int c = 0; c < CHAINS; c++) {
		uint64_t b = vx_alloc(SIZE);
		uint8_t *p = vx_mem(b, SIZE);
		for (int i = 0; i < SIZE; i++)
			p[i] = (uint8_t)(c * 31 + i / 7);
		struct vx_buf buf = { b, SIZE, VX_R };
		vx_post(TX, &buf, 1);
	}
	/* The device does not wait for a reader that does not read. */
	vx_kick(TX);
	vx_settle();
	CHECK(vx_used_idx(TX) < CHAINS);
	/* Its lock is free meanwhile: registers answer at once. */
	double t0 = now();
	CHECK_EQ(vx_rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK(now() - t0 < 0.5);
	uint8_t *got = malloc((size_t)CHAINS * SIZE);
	CHECK_EQ(read_all(peer, got, (size_t)CHAINS * SIZE), (size_t)CHAINS * SIZE);
	int same = 1;
	for (int c = 0; c < CHAINS; c++)
		for (int i = 0; i < SIZE; i++)
			same &= got[(size_t)c * SIZE + i] == (uint8_t)(c * 31 + i / 7);
	CHECK(same);
	free(got);
	CHECK(vx_wait_used(TX, CHAINS));
	teardown();
}

static void test_reader_goes_away(void)
{
	setup_pair(0);
	close(peer);
	peer = -1;
	for (int i = 0; i < 10; i++)
		post_tx("into the void\n");
	vx_kick(TX);
	CHECK(vx_wait_used(TX, 10));
	CHECK_EQ(vx_status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	teardown();
}

static int connect_to(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_socket_backend(void)
{
	vx_vm_setup(64ULL << 20);
	char sock[64], spec[80];
	snprintf(sock, sizeof(sock), "/tmp/runvm-con-%d.sock", (int)getpid());
	snprintf(spec, sizeof(spec), "socket:%s", sock);
	start(virtio_console_create(&vm, spec));
	/* Output before anyone connects is dropped. */
	post_tx("lost\n");
	CHECK(vx_kick_wait(TX));

	int c1 = connect_to(sock);
	CHECK(c1 >= 0);
	uint64_t in = vx_alloc(64);
	struct vx_buf b = { in, 64, VX_W };
	vx_post(RX, &b, 1);
	vx_kick(RX);
	CHECK_EQ(write(c1, "ping", 4), 4);
	CHECK(vx_wait_used(RX, 1));
	CHECK(memcmp(vx_mem(in, 4), "ping", 4) == 0);
	post_tx("pong\n");
	vx_kick(TX);
	char got[8] = { 0 };
	CHECK_EQ(read_all(c1, got, 5), 5);
	CHECK(strcmp(got, "pong\n") == 0);

	/* A second client takes over. */
	int c2 = connect_to(sock);
	CHECK(c2 >= 0);
	struct timespec ts = { 0, 50 * 1000000 };
	nanosleep(&ts, NULL);
	post_tx("two\n");
	vx_kick(TX);
	memset(got, 0, sizeof(got));
	CHECK_EQ(read_all(c2, got, 4), 4);
	CHECK(strcmp(got, "two\n") == 0);
	close(c1);
	close(c2);
	vx_detach();
	/* The socket file goes away with the device. */
	struct stat st;
	CHECK(stat(sock, &st) < 0);
	vx_vm_teardown();
}

static void test_file_backend(void)
{
	vx_vm_setup(64ULL << 20);
	char path[64];
	snprintf(path, sizeof(path), "/tmp/runvm-con-%d.txt", (int)getpid());
	start(virtio_console_create(&vm, path));
	post_tx("line one\n");
	post_tx("line two\n");
	CHECK(vx_kick_wait(TX));
	vx_detach();
	char got[64] = { 0 };
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && read(fd, got, sizeof(got) - 1) == 18);
	close(fd);
	CHECK(strcmp(got, "line one\nline two\n") == 0);
	unlink(path);
	vx_vm_teardown();
}

/* The driver's used_event (EVENT_IDX): notify when the used index passes idx. */
static void set_used_event(unsigned q, uint16_t idx)
{
	__atomic_store_n((uint16_t *)vx_mem(VX_AVAIL(q) + 4 + 2ULL * drv.q[q].num, 2), idx,
			 __ATOMIC_SEQ_CST);
}

/* Spins until every chain posted on q is used, as a driver with interrupts off does. */
static int spin_used(unsigned q)
{
	double end = now() + 5;
	while (vx_used_idx(q) != drv.q[q].avail_idx)
		if (now() > end)
			return 0;
	return 1;
}

/*
 * Linux's hvc console: post a chain, kick, spin until it is used, reclaim
 * it and move used_event past it; its interrupt handler runs later and
 * finds nothing to do. Interrupts decided when the chains were used came
 * once per chain, every one of them unhandled (a kernel disables such a
 * line after 100,000); now the device sees the reclaim first.
 */
static void test_polled_transmit_no_interrupts(void)
{
	setup_pair(0);
	enum { CHAINS = 200 };
	int irqs = 0;
	char got[8];
	for (int i = 0; i < CHAINS; i++) {
		post_tx("x");
		vx_kick(TX);
		CHECK(spin_used(TX));
		uint32_t id, len;
		CHECK_EQ(vx_take_used(TX, &id, &len), 0);
		set_used_event(TX, drv.q[TX].used_seen);
		irqs += (vx_ack() & VIRTIO_ISR_VRING) != 0;
		CHECK_EQ(read_all(peer, got, 1), 1);
	}
	vx_settle();
	irqs += (vx_ack() & VIRTIO_ISR_VRING) != 0;
	/* The device's first decision always interrupts; a preempted test thread may add a few. */
	CHECK(irqs < CHAINS / 10);
	teardown();
}

/* A driver that waits for the transmit interrupt still gets it. */
static void test_waiting_driver_gets_transmit_interrupt(void)
{
	setup_pair(0);
	post_tx("one");
	CHECK(vx_kick_wait(TX));
	uint32_t id, len;
	CHECK_EQ(vx_take_used(TX, &id, &len), 0);
	vx_settle();
	vx_ack();
	set_used_event(TX, drv.q[TX].used_seen);
	post_tx("two");
	vx_kick(TX);
	double end = now() + 5;
	while (!virtio_mmio_irq_level(drv.t) && now() < end)
		vx_sleep_ms(1);
	CHECK_EQ(virtio_mmio_irq_level(drv.t), 1);
	CHECK(vx_ack() & VIRTIO_ISR_VRING);
	CHECK_EQ(vx_take_used(TX, &id, &len), 0);
	char got[8] = { 0 };
	CHECK_EQ(read_all(peer, got, 6), 6);
	CHECK(strcmp(got, "onetwo") == 0);
	teardown();
}

static void test_bad_backends(void)
{
	vx_vm_setup(64ULL << 20);
	vx_quiet_begin();
	CHECK(virtio_console_create(&vm, "socket:/nonexistent/dir/x.sock") == NULL);
	CHECK(vx_quiet_end("socket:/nonexistent/dir/x.sock"));
	vx_quiet_begin();
	CHECK(virtio_console_create(&vm, "/tmp") == NULL);
	CHECK(vx_quiet_end("not a file"));
	vx_quiet_begin();
	CHECK(virtio_console_create(&vm, "socket:/tmp") == NULL);
	CHECK(vx_quiet_end("not a socket"));
	vx_vm_teardown();
}

int main(void)
{
	RUN(test_output_and_input);
	RUN(test_slow_reader_loses_nothing);
	RUN(test_reader_goes_away);
	RUN(test_socket_backend);
	RUN(test_file_backend);
	RUN(test_polled_transmit_no_interrupts);
	RUN(test_waiting_driver_gets_transmit_interrupt);
	RUN(test_bad_backends);
	TEST_EXIT();
}
