/* QEMU's fw_cfg, legacy I/O interface: select a key, read its bytes. */
#include "guest.h"

#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_NB_CPUS   0x0005

void fwcfg_read(uint16_t key, void *buf, uint32_t len)
{
	uint8_t *p = buf;
	outw(FW_CFG_SEL, key);
	for (uint32_t i = 0; i < len; i++)
		p[i] = inb(FW_CFG_DATA);
}

int fwcfg_present(void)
{
	char sig[4];
	fwcfg_read(FW_CFG_SIGNATURE, sig, sizeof(sig));
	return memcmp(sig, "QEMU", 4) == 0;
}

/* The number of vCPUs the VMM started; 1 without fw_cfg. */
unsigned fwcfg_cpu_count(void)
{
	uint16_t n = 0;
	if (!fwcfg_present())
		return 1;
	fwcfg_read(FW_CFG_NB_CPUS, &n, sizeof(n));
	return n ? n : 1;
}
