/*
 * The virtio-mmio transport at register level, as the Linux driver and as
 * a careless or hostile one drive it: identification, feature negotiation,
 * queue set-up, notifications, the interrupt line and its acknowledgement,
 * reset, and DEVICE_NEEDS_RESET on a broken queue. virtio-rng is the device
 * behind it (one queue of 64 entries). Also: the device table places the
 * configured devices at their addresses.
 */
#include "virtio_fixture.h"

static void setup(void)
{
	vx_vm_setup(64ULL << 20);
	vx_attach(virtio_rng_create(&vm));
}

static void teardown(void)
{
	vx_detach();
	vx_vm_teardown();
}

static void test_identification(void)
{
	setup();
	CHECK_EQ(vx_rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	CHECK(vx_rd(VIRTIO_MMIO_VENDOR_ID) != 0);
	CHECK_EQ(vx_status(), 0);
	/* No shared memory regions: length all ones. */
	CHECK_EQ(vx_rd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffffu);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_CONFIG_GENERATION), 0);
	/* Through the bus, at the slot's address. */
	uint32_t magic = 0;
	CHECK(bus_read(&vm.mmio, VIRTIO_MMIO_BASE, &magic, 4) >= 0);
	CHECK_EQ(magic, 0x74726976);
	CHECK_EQ(virtio_mmio_gsi(drv.t), 16);
	teardown();
}

static void test_register_widths(void)
{
	setup();
	/* Registers take aligned 32-bit accesses only. */
	CHECK_EQ(virtio_mmio_read(drv.t, VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	CHECK_EQ(virtio_mmio_read(drv.t, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	CHECK_EQ(virtio_mmio_read(drv.t, VIRTIO_MMIO_MAGIC_VALUE, 8), 0);
	CHECK_EQ(virtio_mmio_read(drv.t, VIRTIO_MMIO_MAGIC_VALUE + 1, 4), 0);
	virtio_mmio_write(drv.t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	virtio_mmio_write(drv.t, VIRTIO_MMIO_STATUS + 2, VIRTIO_STATUS_ACKNOWLEDGE, 4);
	CHECK_EQ(vx_status(), 0);
	/* Unknown, write-only and read-only registers. */
	CHECK_EQ(vx_rd(0x0f0), 0);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_NOTIFY), 0);
	vx_wr(VIRTIO_MMIO_MAGIC_VALUE, 0);
	vx_wr(VIRTIO_MMIO_DEVICE_ID, 7);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	/* Beyond the configuration space: zeros. */
	CHECK_EQ(virtio_mmio_read(drv.t, VIRTIO_MMIO_SIZE - 4, 4), 0);
	virtio_mmio_write(drv.t, VIRTIO_MMIO_CONFIG, 0xffffffff, 4);
	teardown();
}

static void test_features(void)
{
	setup();
	uint64_t f = vx_device_features();
	CHECK(f & (1ULL << VIRTIO_F_VERSION_1));
	CHECK(f & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	CHECK(f & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	vx_wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);

	const uint32_t pre = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	/* A feature the device does not offer: FEATURES_OK does not stick. */
	vx_wr(VIRTIO_MMIO_STATUS, pre);
	vx_driver_features((1ULL << VIRTIO_F_VERSION_1) | (1ULL << 40));
	vx_wr(VIRTIO_MMIO_STATUS, pre | VIRTIO_STATUS_FEATURES_OK);
	CHECK_EQ(vx_status(), pre);

	/* A legacy driver (no VERSION_1) is refused too. */
	vx_wr(VIRTIO_MMIO_STATUS, 0);
	vx_wr(VIRTIO_MMIO_STATUS, pre);
	vx_driver_features(1ULL << VIRTIO_RING_F_EVENT_IDX);
	vx_wr(VIRTIO_MMIO_STATUS, pre | VIRTIO_STATUS_FEATURES_OK);
	CHECK_EQ(vx_status() & VIRTIO_STATUS_FEATURES_OK, 0);

	/* A subset with VERSION_1 is accepted, then fixed. */
	vx_wr(VIRTIO_MMIO_STATUS, 0);
	vx_wr(VIRTIO_MMIO_STATUS, pre);
	vx_driver_features(1ULL << VIRTIO_F_VERSION_1);
	vx_wr(VIRTIO_MMIO_STATUS, pre | VIRTIO_STATUS_FEATURES_OK);
	CHECK_EQ(vx_status(), pre | VIRTIO_STATUS_FEATURES_OK);
	vx_driver_features(f);
	CHECK_EQ(drv.dev->guest_features, 1ULL << VIRTIO_F_VERSION_1);
	/* The driver may not clear NEEDS_RESET or set it itself. */
	vx_wr(VIRTIO_MMIO_STATUS, pre | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(vx_status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	teardown();
}

static void test_queue_registers(void)
{
	setup();
	vx_wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_READY), 0);
	/* Queues that do not exist read as size 0 and ignore writes. */
	for (uint32_t q = 1; q < 5; q++) {
		vx_wr(VIRTIO_MMIO_QUEUE_SEL, q);
		CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
		vx_wr(VIRTIO_MMIO_QUEUE_READY, 1);
		CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_READY), 0);
	}
	vx_wr(VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	vx_wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	vx_wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_READY), 0);

	CHECK_EQ(vx_driver_init(VX_ALL_FEATURES) & VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_DRIVER_OK);
	vx_wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_READY), 1);
	struct virtq *vq = &drv.dev->vq[0];
	CHECK_EQ(vq->desc_gpa, VX_DESC(0));
	CHECK_EQ(vq->avail_gpa, VX_AVAIL(0));
	CHECK_EQ(vq->used_gpa, VX_USED(0));
	CHECK_EQ(vq->num, 64);
	CHECK(vq->event_idx && vq->indirect);
	/* While ready, the queue's registers do not change. */
	vx_wr(VIRTIO_MMIO_QUEUE_NUM, 16);
	vx_wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x5000);
	CHECK_EQ(vq->num, 64);
	CHECK_EQ(vq->desc_gpa, VX_DESC(0));
	/* Ready 0 then a new set-up, as a driver tearing down and re-creating a queue. */
	vx_wr(VIRTIO_MMIO_QUEUE_READY, 0);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_READY), 0);
	vx_wr(VIRTIO_MMIO_QUEUE_NUM, 16);
	vx_wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_READY), 1);
	CHECK_EQ(vq->num, 16);
	/* 64-bit addresses take both halves. */
	vx_wr(VIRTIO_MMIO_QUEUE_READY, 0);
	vx_wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 1);
	CHECK_EQ(vq->desc_gpa, (1ULL << 32) | VX_DESC(0));
	teardown();
}

/* One rng request of len bytes on queue 0; returns its head. */
static uint16_t post_request(uint32_t len)
{
	struct vx_buf b = { vx_alloc(len), len, VX_W };
	return vx_post(0, &b, 1);
}

static void test_interrupt_and_ack(void)
{
	setup();
	vx_driver_init(1ULL << VIRTIO_F_VERSION_1);      /* no EVENT_IDX: every push interrupts */
	CHECK_EQ(virtio_mmio_irq_level(drv.t), 0);
	uint16_t head = post_request(32);
	CHECK(vx_kick_wait(0));
	uint32_t id, len;
	CHECK_EQ(vx_take_used(0, &id, &len), 0);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 32);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_VRING);
	CHECK_EQ(virtio_mmio_irq_level(drv.t), 1);
	/* Acknowledging other bits keeps the line up; the right bit drops it. */
	vx_wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_ISR_CONFIG);
	CHECK_EQ(virtio_mmio_irq_level(drv.t), 1);
	CHECK_EQ(vx_ack(), VIRTIO_ISR_VRING);
	CHECK_EQ(virtio_mmio_irq_level(drv.t), 0);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* The driver asks for no interrupts: the buffer is used, the line stays low. */
	vx_put16(VX_AVAIL(0), VIRTQ_AVAIL_F_NO_INTERRUPT);
	post_request(8);
	CHECK(vx_kick_wait(0));
	vx_settle();
	CHECK_EQ(virtio_mmio_irq_level(drv.t), 0);
	teardown();
}

static void test_notify_before_driver_ok(void)
{
	setup();
	const uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	vx_wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vx_driver_features(1ULL << VIRTIO_F_VERSION_1);
	vx_wr(VIRTIO_MMIO_STATUS, s);
	vx_queue_setup(0, 64);
	post_request(16);
	vx_kick(0);
	vx_settle();
	CHECK_EQ(vx_used_idx(0), 0);            /* not before DRIVER_OK */
	vx_wr(VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	CHECK(vx_wait_used(0, 1));              /* taken when the driver is ready */
	teardown();
}

static void test_reset(void)
{
	setup();
	vx_driver_init(1ULL << VIRTIO_F_VERSION_1);
	post_request(16);
	CHECK(vx_kick_wait(0));
	CHECK_EQ(virtio_mmio_irq_level(drv.t), 1);
	vx_wr(VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(vx_status(), 0);
	CHECK_EQ(virtio_mmio_irq_level(drv.t), 0);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(drv.dev->guest_features, 0);
	vx_wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_READY), 0);
	/* A kick after the reset touches nothing. */
	uint16_t used = vx_used_idx(0);
	post_request(16);
	vx_kick(0);
	vx_settle();
	CHECK_EQ(vx_used_idx(0), used);
	/* And the device works again after a new initialization. */
	vx_driver_init(VX_ALL_FEATURES);
	post_request(16);
	CHECK(vx_kick_wait(0));

	/* A guest reboot resets the device the same way. */
	virtio_mmio_reset(drv.t);
	CHECK_EQ(vx_status(), 0);
	CHECK_EQ(virtio_mmio_irq_level(drv.t), 0);
	teardown();
}

static void test_broken_queue_needs_reset(void)
{
	setup();
	vx_driver_init(1ULL << VIRTIO_F_VERSION_1);
	vx_ack();
	/* A descriptor loop (the device thread may see it before the kick). */
	vx_quiet_begin();
	vx_set_desc(0, 0, VX_BUF, 16, VIRTQ_DESC_F_NEXT | VX_W, 1);
	vx_set_desc(0, 1, VX_BUF, 16, VIRTQ_DESC_F_NEXT | VX_W, 0);
	vx_set_avail_entry(0, 64, 0, 0);
	vx_set_avail_idx(0, 1);
	vx_kick(0);
	CHECK(vx_wait_status(VIRTIO_STATUS_NEEDS_RESET));
	CHECK(vx_quiet_end("needs a reset"));
	CHECK_EQ(vx_rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_ISR_CONFIG);
	CHECK_EQ(virtio_mmio_irq_level(drv.t), 1);
	CHECK_EQ(vx_used_idx(0), 0);
	/* Further kicks do nothing; a reset and new set-up recover. */
	vx_kick(0);
	vx_kick(0);
	vx_settle();
	CHECK_EQ(vx_used_idx(0), 0);
	CHECK(vx_driver_init(VX_ALL_FEATURES) & VIRTIO_STATUS_DRIVER_OK);
	CHECK_EQ(vx_status() & VIRTIO_STATUS_NEEDS_RESET, 0);
	post_request(16);
	CHECK(vx_kick_wait(0));
	teardown();
}

/* A guest that breaks its queue again and again cannot flood runvm's log. */
static void test_failure_reports_capped(void)
{
	setup();
	vx_quiet_begin();
	for (int i = 0; i < 20; i++) {
		vx_driver_init(1ULL << VIRTIO_F_VERSION_1);
		vx_set_desc(0, 0, VX_BUF, 16, VIRTQ_DESC_F_NEXT | VX_W, 0);
		vx_set_avail_entry(0, 64, 0, 0);
		vx_set_avail_idx(0, 1);
		vx_kick(0);
		CHECK(vx_wait_status(VIRTIO_STATUS_NEEDS_RESET));
	}
	fflush(stderr);
	int lines = 0;
	for (const char *p = vx_err_buf; p && (p = strstr(p, "needs a reset")); p++)
		lines++;
	CHECK_EQ(lines, 8);
	CHECK(vx_quiet_end("further reports suppressed"));
	teardown();
}

static void test_bad_queue_setup(void)
{
	setup();
	const uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	vx_wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vx_driver_features(1ULL << VIRTIO_F_VERSION_1);
	vx_wr(VIRTIO_MMIO_STATUS, s);
	vx_wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	/* Rings in the MMIO hole: refused, the device needs a reset; no interrupt before DRIVER_OK. */
	vx_wr(VIRTIO_MMIO_QUEUE_NUM, 64);
	vx_wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)MEM_HOLE_START);
	vx_wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)VX_AVAIL(0));
	vx_wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)VX_USED(0));
	vx_quiet_begin();
	vx_wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK(vx_quiet_end("descriptor table"));
	CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK(vx_status() & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(vx_rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(virtio_mmio_irq_level(drv.t), 0);

	/* A size above the maximum. */
	vx_wr(VIRTIO_MMIO_STATUS, 0);
	vx_wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vx_driver_features(1ULL << VIRTIO_F_VERSION_1);
	vx_wr(VIRTIO_MMIO_STATUS, s);
	vx_wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	vx_wr(VIRTIO_MMIO_QUEUE_NUM, 65536 + 8);
	vx_wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)VX_DESC(0));
	vx_quiet_begin();
	vx_wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK(vx_quiet_end("size"));
	CHECK_EQ(vx_rd(VIRTIO_MMIO_QUEUE_READY), 0);
	teardown();
}

/*
 * A register storm: random accesses, mostly to the registers that matter,
 * with small values so that selects, sizes and status bits hit real states;
 * descriptors and rings are random too. The device must stay sane: the
 * storm reaches DRIVER_OK and broken queues, and a reset always recovers.
 */
static uint64_t storm_x = 12345;

static uint64_t storm_rnd(void)
{
	storm_x ^= storm_x << 13;
	storm_x ^= storm_x >> 7;
	storm_x ^= storm_x << 17;
	return storm_x;
}

static void test_register_storm(void)
{
	static const uint32_t regs[] = {
		VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_READY,
		VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_DRIVER_FEATURES,
		VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DRIVER_LOW,
		VIRTIO_MMIO_QUEUE_DEVICE_LOW,
	};
	static const uint32_t good_status[] = { 0, 1, 3, 0xb, 0xf };
	setup();
	int driver_ok = 0, served = 0;
	vx_quiet_begin();
	for (int i = 0; i < 300000; i++) {
		uint64_t x = storm_rnd();
		uint32_t off = (x & 7) ? regs[(x >> 3) % (sizeof(regs) / sizeof(regs[0]))]
				       : (uint32_t)((x >> 8) % VIRTIO_MMIO_SIZE);
		uint32_t v = (uint32_t)(x >> 32);
		/* Half the time a value a real driver would write. */
		int sane = (x >> 16) & 1;
		switch (off) {
		case VIRTIO_MMIO_STATUS: v = sane ? good_status[v % 5] : v & 0xff; break;
		case VIRTIO_MMIO_DRIVER_FEATURES: v = sane ? (v & 1) : v; break;
		case VIRTIO_MMIO_QUEUE_NUM: v = sane ? 64 : 1u << (v % 8); break;
		case VIRTIO_MMIO_QUEUE_DESC_LOW: v = (uint32_t)(sane ? VX_DESC(0) : VX_DESC(0) + (v & 0x3ffe)); break;
		case VIRTIO_MMIO_QUEUE_DRIVER_LOW: v = (uint32_t)(sane ? VX_AVAIL(0) : VX_DESC(0) + (v & 0x3ffe)); break;
		case VIRTIO_MMIO_QUEUE_DEVICE_LOW: v = (uint32_t)(sane ? VX_USED(0) : VX_DESC(0) + (v & 0x3ffe)); break;
		default: v &= sane ? 1 : 3; break;
		}
		if ((x >> 40) % 16 == 0 && sane) {
			/* A well-formed request. */
			uint16_t i = (uint16_t)(v % 8), idx = drv.dev->vq[0].last_avail;
			vx_set_desc(0, i, VX_BUF + 64 * i, 64, VX_W, 0);
			vx_set_avail_entry(0, 64, idx, i);
			vx_set_avail_idx(0, (uint16_t)(idx + 1));
			/* While the device runs, let its thread take it (it works on its own thread). */
			if (virtio_dev_running(drv.dev) && drv.dev->vq[0].ready) {
				vx_kick(0);
				for (int k = 0; k < 20 && vx_used_idx(0) != (uint16_t)(idx + 1); k++)
					vx_sleep_ms(1);
				served += vx_used_idx(0) == (uint16_t)(idx + 1);
			}
		} else if ((x >> 40) % 16 == 0) {
			/* Random descriptors and avail entries. */
			vx_set_desc(0, (uint16_t)(v % 64), VX_BUF + (x >> 20) % 0x10000, (uint32_t)(x >> 44) % 4096,
				    (uint16_t)((x >> 12) % 8), (uint16_t)((x >> 24) % 70));
			vx_set_avail_entry(0, 64, (uint16_t)(x >> 50), (uint16_t)((x >> 30) % 66));
			vx_set_avail_idx(0, (uint16_t)(vx_avail_idx(0) + (x >> 60) % 3));
		} else if ((x >> 40) % 16 == 1) {
			virtio_mmio_read(drv.t, off, 4);
		} else {
			virtio_mmio_write(drv.t, off, v, (x >> 36) % 8 ? 4 : 1u << ((x >> 33) % 4));
		}
		driver_ok += virtio_dev_running(drv.dev);
	}
	CHECK(vx_quiet_end("needs a reset"));
	if (!driver_ok || !served)
		fprintf(stderr, "storm: %d accesses while running, %d used buffers\n", driver_ok, served);
	CHECK(driver_ok);
	CHECK(served);
	/* Whatever state it is in, a reset and a proper set-up work. */
	CHECK(vx_driver_init(VX_ALL_FEATURES) & VIRTIO_STATUS_DRIVER_OK);
	post_request(16);
	CHECK(vx_kick_wait(0));
	teardown();
}

/* The table entry: the configured devices, in order, at their slots. */
static void test_device_table(void)
{
	vx_vm_setup(64ULL << 20);
	char path[] = "/tmp/runvm-virtio-mmio-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	snprintf(cfg.disks[0].path, sizeof(cfg.disks[0].path), "%s", path);
	cfg.n_disks = 1;
	cfg.rng = 1;
	CHECK(virtio_device.wanted(&vm));
	void *state = virtio_device.init(&vm);
	CHECK(state != NULL);
	uint32_t v = 0;
	bus_read(&vm.mmio, VIRTIO_MMIO_BASE + VIRTIO_MMIO_DEVICE_ID, &v, 4);
	CHECK_EQ(v, VIRTIO_ID_BLOCK);
	bus_read(&vm.mmio, VIRTIO_MMIO_BASE + VIRTIO_MMIO_STRIDE + VIRTIO_MMIO_DEVICE_ID, &v, 4);
	CHECK_EQ(v, VIRTIO_ID_RNG);
	CHECK_EQ(bus_find(&vm.mmio, VIRTIO_MMIO_BASE + 2 * VIRTIO_MMIO_STRIDE), -1);
	virtio_device.reset(state);
	virtio_device.destroy(state);
	unlink(path);

	/* Nothing configured: no device. */
	memset(&cfg.disks, 0, sizeof(cfg.disks));
	cfg.n_disks = 0;
	cfg.rng = 0;
	CHECK(!virtio_device.wanted(&vm));
	vx_vm_teardown();
}

int main(void)
{
	RUN(test_identification);
	RUN(test_register_widths);
	RUN(test_features);
	RUN(test_queue_registers);
	RUN(test_interrupt_and_ack);
	RUN(test_notify_before_driver_ok);
	RUN(test_reset);
	RUN(test_broken_queue_needs_reset);
	RUN(test_failure_reports_capped);
	RUN(test_bad_queue_setup);
	RUN(test_register_storm);
	RUN(test_device_table);
	TEST_EXIT();
}
