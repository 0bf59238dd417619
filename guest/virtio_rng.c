/*
 * virtio-mmio from a bare guest (long mode): the virtio-rng device that
 * runvm has by default, at the first transport slot (0xd0000000, I/O APIC
 * pin 16, level-triggered). Identification, feature negotiation, one queue
 * in guest memory, requests served after a QueueNotify write (an MMIO exit
 * on the soft hypervisor, an ioeventfd signal on KVM), the used-buffer
 * interrupt and its acknowledgement, and a malformed queue answered with
 * DEVICE_NEEDS_RESET and a configuration interrupt.
 */
#include "apic.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "virtio_rng";

#define VIRTIO_BASE       0xd0000000UL
#define VIRTIO_PIN        16
#define VIRTIO_VECTOR     0x58

#define R_MAGIC           0x000
#define R_VERSION         0x004
#define R_DEVICE_ID       0x008
#define R_DEV_FEATURES    0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES    0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL       0x030
#define R_QUEUE_NUM_MAX   0x034
#define R_QUEUE_NUM       0x038
#define R_QUEUE_READY     0x044
#define R_QUEUE_NOTIFY    0x050
#define R_ISR             0x060
#define R_ISR_ACK         0x064
#define R_STATUS          0x070
#define R_DESC_LO         0x080
#define R_DESC_HI         0x084
#define R_AVAIL_LO        0x090
#define R_AVAIL_HI        0x094
#define R_USED_LO         0x0a0
#define R_USED_HI         0x0a4

#define S_ACK             0x01
#define S_DRIVER          0x02
#define S_DRIVER_OK       0x04
#define S_FEATURES_OK     0x08
#define S_NEEDS_RESET     0x40

#define QSIZE             8
#define DESC_NEXT         1
#define DESC_WRITE        2

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct desc ring_desc[QSIZE] ALIGNED(4096);
static struct {
	uint16_t flags, idx, ring[QSIZE], used_event;
} ring_avail ALIGNED(4096);
static struct {
	uint16_t flags, idx;
	struct { uint32_t id, len; } ring[QSIZE];
	uint16_t avail_event;
} ring_used ALIGNED(4096);
static uint8_t buf[2][64];

static unsigned bsp;
static volatile uint32_t isr_seen, in_service;

static uint32_t vr(unsigned reg) { return mmio_read32(VIRTIO_BASE + reg); }
static void vw(unsigned reg, uint32_t v) { mmio_write32(VIRTIO_BASE + reg, v); }

/* The handler does what Linux's does: read the status, acknowledge it. */
static void virtio_handler(struct trap_frame *f)
{
	(void)f;
	in_service |= lapic_isr(VIRTIO_VECTOR);
	uint32_t isr = vr(R_ISR);
	isr_seen |= isr;
	vw(R_ISR_ACK, isr);
	lapic_eoi();
}

/* Waits (without interrupts) for *p to reach want; about a second of TSC at most. */
static int poll16(volatile uint16_t *p, uint16_t want)
{
	uint64_t end = rdtsc() + 4000000000ULL;
	while (*p != want && rdtsc() < end)
		pause();
	return *p == want;
}

static int poll_status(uint32_t bits)
{
	uint64_t end = rdtsc() + 4000000000ULL;
	while ((vr(R_STATUS) & bits) != bits && rdtsc() < end)
		pause();
	return (vr(R_STATUS) & bits) == bits;
}

static void test_identification(void)
{
	test_start("virtio-mmio identification");
	expect_eq("magic", vr(R_MAGIC), 0x74726976);
	expect_eq("version", vr(R_VERSION), 2);
	expect_eq("device id (rng)", vr(R_DEVICE_ID), 4);
	test_end();
}

static void test_setup(void)
{
	test_start("virtio negotiation and queue set-up");
	vw(R_STATUS, 0);
	expect_eq("status after reset", vr(R_STATUS), 0);
	vw(R_STATUS, S_ACK);
	vw(R_STATUS, S_ACK | S_DRIVER);
	vw(R_DEV_FEATURES_SEL, 1);
	expect_true("VERSION_1 offered", vr(R_DEV_FEATURES) & 1);
	vw(R_DRV_FEATURES_SEL, 0);
	vw(R_DRV_FEATURES, 0);
	vw(R_DRV_FEATURES_SEL, 1);
	vw(R_DRV_FEATURES, 1);                  /* VERSION_1 only */
	vw(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	expect_eq("FEATURES_OK kept", vr(R_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
	vw(R_QUEUE_SEL, 0);
	expect_true("queue 0 size", vr(R_QUEUE_NUM_MAX) >= QSIZE);
	expect_eq("queue 0 not ready", vr(R_QUEUE_READY), 0);
	vw(R_QUEUE_NUM, QSIZE);
	vw(R_DESC_LO, (uint32_t)(uintptr_t)ring_desc);
	vw(R_DESC_HI, 0);
	vw(R_AVAIL_LO, (uint32_t)(uintptr_t)&ring_avail);
	vw(R_AVAIL_HI, 0);
	vw(R_USED_LO, (uint32_t)(uintptr_t)&ring_used);
	vw(R_USED_HI, 0);
	vw(R_QUEUE_READY, 1);
	expect_eq("queue 0 ready", vr(R_QUEUE_READY), 1);
	vw(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	expect_eq("DRIVER_OK", vr(R_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	test_end();
}

/* Posts buffer b as descriptor d and notifies the device. */
static void post(unsigned b, uint16_t d)
{
	memset(buf[b], 0, sizeof(buf[b]));
	ring_desc[d] = (struct desc){ .addr = (uintptr_t)buf[b], .len = sizeof(buf[b]), .flags = DESC_WRITE };
	ring_avail.ring[ring_avail.idx % QSIZE] = d;
	barrier();
	ring_avail.idx++;
	barrier();
	vw(R_QUEUE_NOTIFY, 0);
}

static int distinct_bytes(const uint8_t *p, unsigned n)
{
	uint8_t seen[256] = { 0 };
	int k = 0;
	for (unsigned i = 0; i < n; i++)
		if (!seen[p[i]]++)
			k++;
	return k;
}

static void test_requests(void)
{
	test_start("virtio request after a notification");
	ioapic_route(VIRTIO_PIN, VIRTIO_VECTOR, bsp, RTE_LEVEL);
	post(0, 3);
	expect_true("used", poll16(&ring_used.idx, 1));
	expect_eq("used id", ring_used.ring[0].id, 3);
	expect_eq("used len", ring_used.ring[0].len, sizeof(buf[0]));
	expect_true("random bytes", distinct_bytes(buf[0], sizeof(buf[0])) > 20);
	test_end();

	test_start("virtio used-buffer interrupt, acknowledged");
	expect_true("delivered", wait_irq(&irq_count[VIRTIO_VECTOR], 1));
	irq_settle();
	expect_eq("status bit: used buffer", isr_seen, 1);
	expect_eq("status clear", vr(R_ISR), 0);
	test_end();
	/*
	 * A local APIC without in-service state (a host KVM without VT-x)
	 * retires the level-triggered interrupt at once and takes it again
	 * before the handler has acknowledged it.
	 */
	if (in_service) {
		test_start("virtio level line: one interrupt per event");
		expect_eq("once: the ack lowered the line", irq_count[VIRTIO_VECTOR], 1);
		test_end();
	} else {
		test_skip("virtio level line: one interrupt per event",
			  "this local APIC keeps no in-service state");
	}

	test_start("virtio second request");
	post(1, 5);
	expect_true("used", poll16(&ring_used.idx, 2));
	expect_eq("used id", ring_used.ring[1].id, 5);
	expect_true("other bytes", memcmp(buf[0], buf[1], sizeof(buf[0])) != 0);
	test_end();
	ioapic_mask(VIRTIO_PIN);
}

static void test_broken_queue(void)
{
	test_start("virtio malformed queue: needs reset");
	/* A descriptor that chains to itself. */
	ring_desc[2] = (struct desc){ .addr = (uintptr_t)buf[0], .len = 8, .flags = DESC_WRITE | DESC_NEXT, .next = 2 };
	ring_avail.ring[ring_avail.idx % QSIZE] = 2;
	barrier();
	ring_avail.idx++;
	barrier();
	vw(R_QUEUE_NOTIFY, 0);
	expect_true("DEVICE_NEEDS_RESET", poll_status(S_NEEDS_RESET));
	expect_eq("configuration interrupt pending", vr(R_ISR) & 2, 2);
	expect_eq("nothing used", ring_used.idx, 2);
	vw(R_STATUS, 0);
	expect_eq("reset", vr(R_STATUS), 0);
	expect_eq("status clear", vr(R_ISR), 0);
	test_end();
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(VIRTIO_VECTOR, virtio_handler);
	pic_init(0x20);
	lapic_enable();
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	bsp = lapic_id();
	for (unsigned pin = 0; pin < 24; pin++)
		ioapic_mask(pin);

	test_identification();
	test_setup();
	test_requests();
	test_broken_queue();
}
