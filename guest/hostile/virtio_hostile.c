/*
 * A hostile virtio driver: on every virtio-mmio device present, rings
 * outside RAM, then well-placed rings whose chains are hostile: buffers
 * outside RAM or in the MMIO hole, lengths of 4 GiB, descriptor loops,
 * indices past the ring, an indirect table outside RAM, an available index
 * far ahead. Each time the device must either refuse the queue or mark
 * itself NEEDS_RESET, and runvm must go on; a reset brings the device back.
 */
#include "hostile.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "virtio_hostile";

#define MMIO_BASE   0xd0000000UL
#define MMIO_STRIDE 0x1000UL
#define MMIO_SLOTS  16

#define R_MAGIC        0x000
#define R_FEATURES     0x010
#define R_FEATURES_SEL 0x014
#define R_DRV_FEAT     0x020
#define R_DRV_FEAT_SEL 0x024
#define R_QUEUE_SEL    0x030
#define R_QUEUE_MAX    0x034
#define R_QUEUE_NUM    0x038
#define R_QUEUE_READY  0x044
#define R_NOTIFY       0x050
#define R_INT_STATUS   0x060
#define R_INT_ACK      0x064
#define R_STATUS       0x070
#define R_DESC_LO      0x080
#define R_DESC_HI      0x084
#define R_DRIVER_LO    0x090
#define R_DRIVER_HI    0x094
#define R_DEVICE_LO    0x0a0
#define R_DEVICE_HI    0x0a4

#define S_ACK          0x01
#define S_DRIVER       0x02
#define S_DRIVER_OK    0x04
#define S_FEATURES_OK  0x08
#define S_NEEDS_RESET  0x40

#define F_NEXT     1
#define F_WRITE    2
#define F_INDIRECT 4

#define NUM 8

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct desc ring_desc[NUM] ALIGNED(4096);
static volatile uint16_t ring_avail[3 + NUM] ALIGNED(4096);
static volatile uint32_t ring_used[2 + 2 * NUM] ALIGNED(4096);
static uint8_t buffer[4096] ALIGNED(4096);

static uint32_t rd(uintptr_t dev, unsigned reg) { return mmio_read32(dev + reg); }
static void wr(uintptr_t dev, unsigned reg, uint32_t v) { mmio_write32(dev + reg, v); }

/* Reset, then the feature handshake with VERSION_1 (and the ring features the device offers). */
static int dev_init(uintptr_t dev)
{
	wr(dev, R_STATUS, 0);
	wr(dev, R_STATUS, S_ACK | S_DRIVER);
	wr(dev, R_FEATURES_SEL, 0);
	uint32_t lo = rd(dev, R_FEATURES) & ((1u << 28) | (1u << 29));
	wr(dev, R_DRV_FEAT_SEL, 0);
	wr(dev, R_DRV_FEAT, lo);
	wr(dev, R_DRV_FEAT_SEL, 1);
	wr(dev, R_DRV_FEAT, 1);                 /* VERSION_1 */
	wr(dev, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	return (rd(dev, R_STATUS) & S_FEATURES_OK) != 0;
}

static void queue_at(uintptr_t dev, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(dev, R_QUEUE_SEL, 0);
	uint32_t max = rd(dev, R_QUEUE_MAX);
	wr(dev, R_QUEUE_NUM, max < NUM ? max : NUM);
	wr(dev, R_DESC_LO, (uint32_t)desc);
	wr(dev, R_DESC_HI, (uint32_t)(desc >> 32));
	wr(dev, R_DRIVER_LO, (uint32_t)avail);
	wr(dev, R_DRIVER_HI, (uint32_t)(avail >> 32));
	wr(dev, R_DEVICE_LO, (uint32_t)used);
	wr(dev, R_DEVICE_HI, (uint32_t)(used >> 32));
	wr(dev, R_QUEUE_READY, 1);
	wr(dev, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

/* Gives the device time to look (device threads work on their own). */
static void settle(uintptr_t dev)
{
	for (int i = 0; i < 2000; i++) {
		if (rd(dev, R_STATUS) & S_NEEDS_RESET)
			return;
		pause();
	}
}

/* The device refused the queue or asks for a reset; either way it did not use it. */
static int refused(uintptr_t dev)
{
	return !rd(dev, R_QUEUE_READY) || (rd(dev, R_STATUS) & S_NEEDS_RESET);
}

/* Offers chain head `head` (and nothing else) and kicks queue 0. */
static void offer(uintptr_t dev, uint16_t head, uint16_t idx)
{
	ring_avail[0] = 0;
	ring_avail[2] = head;
	ring_avail[1] = idx;
	wr(dev, R_NOTIFY, 0);
	settle(dev);
	wr(dev, R_INT_ACK, rd(dev, R_INT_STATUS));
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	ring_desc[i] = (struct desc){ addr, len, flags, next };
}

/* One hostile chain on freshly initialized, well-placed rings. */
static int hostile_chain(uintptr_t dev, int kind)
{
	if (!dev_init(dev))
		return 0;
	memset(ring_desc, 0, sizeof(ring_desc));
	memset((void *)ring_avail, 0, sizeof(ring_avail));
	memset((void *)ring_used, 0, sizeof(ring_used));
	queue_at(dev, (uintptr_t)ring_desc, (uintptr_t)ring_avail, (uintptr_t)ring_used);
	uint16_t idx = 1;
	switch (kind) {
	case 0: set_desc(0, 0xfffffffff000ULL, 4096, F_WRITE, 0); break;          /* outside RAM */
	case 1: set_desc(0, 0xd0000000ULL, 4096, F_WRITE, 0); break;              /* the MMIO hole */
	case 2: set_desc(0, (uintptr_t)buffer, 0xffffffffu, F_WRITE, 0); break;   /* 4 GiB long */
	case 3: set_desc(0, (uintptr_t)buffer, 16, F_NEXT, 1);                    /* a loop */
		set_desc(1, (uintptr_t)buffer, 16, F_NEXT, 0); break;
	case 4: set_desc(0, (uintptr_t)buffer, 16, F_NEXT, 200); break;           /* next past the ring */
	case 5: set_desc(0, 0x7ffffffff000ULL, 64, F_INDIRECT, 0); break;         /* indirect outside RAM */
	case 6: set_desc(0, (uintptr_t)buffer, 64, F_WRITE, 0); idx = 0x8000; break; /* avail far ahead */
	default: set_desc(0, (uintptr_t)buffer, 16, 0, 0);                        /* head past the ring */
		offer(dev, 300, 1);
		return 1;
	}
	offer(dev, 0, idx);
	return 1;
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	int found = 0;
	for (unsigned slot = 0; slot < MMIO_SLOTS; slot++) {
		uintptr_t dev = MMIO_BASE + slot * MMIO_STRIDE;
		if (rd(dev, R_MAGIC) != 0x74726976)
			continue;
		found++;
		printf("virtio device %u at %p\n", rd(dev, 0x008), (void *)dev);

		test_start("rings outside ram");
		if (dev_init(dev)) {
			queue_at(dev, 0xffffffff0000ULL, 0xffffffff1000ULL, 0xffffffff2000ULL);
			settle(dev);
			expect_true("queue refused or device needs reset", refused(dev));
			wr(dev, R_NOTIFY, 0);
		}
		test_end();

		test_start("hostile chains");
		for (int kind = 0; kind < 8; kind++)
			hostile_chain(dev, kind);
		test_end();

		test_start("reset brings the device back");
		expect_true("features accepted after the attacks", dev_init(dev));
		expect_eq("status after reset", rd(dev, R_STATUS) & S_NEEDS_RESET, 0);
		wr(dev, R_STATUS, 0);
		test_end();
	}
	test_start("virtio devices found");
	expect_true("at least one", found > 0);
	test_end();
}
