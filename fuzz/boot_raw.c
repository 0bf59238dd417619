/*
 * Fuzzes the raw loader: like boot.h's harnesses, with the CPU mode and
 * the load address taken from the input too (byte 1: mode, bytes 2-9:
 * address; zero means the mode's default).
 */
#include "boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 10)
		return 0;
	struct fz f = { data + 1, 9, 0 };
	unsigned mode = (unsigned)fz_take(&f, 1) % 3;
	uint64_t addr = fz_take(&f, 8);
	unsigned opts = data[0];
	struct config *cfg = &fuzz_cfgs[(opts >> 2) & 3];
	cfg->raw_mode = (enum raw_mode)mode;
	cfg->raw_addr = addr;
	/* Keep the options byte in front, drop the mode and address. */
	uint8_t *in = malloc(size - 9);
	in[0] = data[0];
	memcpy(in + 1, data + 10, size - 10);
	int r = fuzz_boot(in, size - 9, boot_raw);
	free(in);
	return r;
}
