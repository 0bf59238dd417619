/* Fuzzes the bzimage loader (boot_bzimage) with whole kernel files: see boot.h. */
#include "boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_boot(data, size, boot_bzimage);
}
