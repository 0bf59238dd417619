/*
 * Device registers that take guest-physical addresses, given addresses
 * outside RAM: fw_cfg's DMA address register (runvm has no fw_cfg DMA: the
 * write must be ignored) and the testdev flush port. Later devices that
 * read guest memory (virtio rings) get the same treatment in their own
 * hostile guest.
 */
#include "hostile.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "dma_outside";

#define FW_CFG_DMA_HI 0x514
#define FW_CFG_DMA_LO 0x518
#define TESTDEV_FLUSH 0xe4

static uint32_t bswap32(uint32_t v)
{
	return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	static const uint64_t addrs[] = {
		0xfffffffffffff000ULL, 0xfffffffffffffff8ULL, 0x100000000ULL, 0xc0000000ULL,
		0xfee00000ULL, 0x7fffffffffffULL, 0x0fffffff8ULL, 0,
	};
	test_start("fw_cfg dma outside ram");
	for (unsigned i = 0; i < ARRAY_SIZE(addrs); i++) {
		outl(FW_CFG_DMA_HI, bswap32((uint32_t)(addrs[i] >> 32)));
		outl(FW_CFG_DMA_LO, bswap32((uint32_t)addrs[i]));
	}
	/* The selector interface still answers: the signature. */
	char sig[4];
	fwcfg_read(0, sig, 4);
	expect_true("fw_cfg signature QEMU", memcmp(sig, "QEMU", 4) == 0);
	test_end();

	test_start("testdev flush outside ram");
	for (unsigned i = 0; i < ARRAY_SIZE(addrs); i++)
		outl(TESTDEV_FLUSH, (uint32_t)addrs[i]);
	for (int i = 0; i < 64; i++)
		outl(TESTDEV_FLUSH, (uint32_t)rnd());
	test_end();
}
