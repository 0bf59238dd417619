/*
 * The loader harnesses: the input is a kernel file preceded by one byte
 * of options (bit 0: an --initrd, bit 1: an --append line, bits 2-3: the
 * guest's memory size). The loader runs on a memory-only VM, as in
 * tests/unit/boot_fixture.h; it must either load the image or refuse it
 * with a "runvm: " message, never crash or write outside guest RAM.
 */
#ifndef RUNVM_FUZZ_BOOT_H
#define RUNVM_FUZZ_BOOT_H

#include <unistd.h>

#include "fuzz.h"
#include "vmm/boot/boot.h"

static const uint64_t fuzz_mem_sizes[4] = {
	/* The last one puts RAM above 4 GiB too, and stays small enough that a
	 * kernel whose bss fills it all stays under the fuzzer's memory limit. */
	2ULL << 20, 64ULL << 20, 256ULL << 20, 3328ULL << 20
};
static struct vm fuzz_vms[4];
static struct config fuzz_cfgs[4];
static char fuzz_initrd_path[64];

static void fuzz_boot_cleanup(void)
{
	if (fuzz_initrd_path[0])
		unlink(fuzz_initrd_path);
}

/* A small initrd file that every run may name. */
static void fuzz_boot_make_initrd(void)
{
	snprintf(fuzz_initrd_path, sizeof(fuzz_initrd_path), "/tmp/runvm-fuzz-initrd-%d", (int)getpid());
	FILE *f = fopen(fuzz_initrd_path, "wb");
	if (!f)
		abort();
	for (int i = 0; i < 5000; i++)
		fputc(i * 7, f);
	fclose(f);
	atexit(fuzz_boot_cleanup);
}

static struct vm *fuzz_boot_vm(unsigned opts)
{
	unsigned i = (opts >> 2) & 3;
	struct vm *vm = &fuzz_vms[i];
	if (!vm->mem.host) {
		if (!fuzz_initrd_path[0])
			fuzz_boot_make_initrd();
		fuzz_vm_init(vm, &fuzz_cfgs[i], fuzz_mem_sizes[i]);
	} else {
		guest_mem_clear(&vm->mem);
	}
	struct config *cfg = &fuzz_cfgs[i];
	cfg->n_initrd = opts & 1;
	cfg->initrd[0] = fuzz_initrd_path;
	cfg->append = opts & 2 ? "console=ttyS0 quiet" : NULL;
	memset(&vm->boot, 0, sizeof(vm->boot));
	return vm;
}

static int fuzz_boot(const uint8_t *data, size_t size,
		     int (*load)(struct vm *vm, const struct blob *b))
{
	if (size < 1)
		return 0;
	fuzz_capture_messages();
	struct vm *vm = fuzz_boot_vm(data[0]);
	/* An exact-size copy: a read past the file's end is a sanitizer report. */
	size_t n = size - 1;
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, data + 1, n);
	struct blob b = { .path = "fuzz-kernel", .data = copy, .size = n };
	fuzz_msg_reset();
	int r = load(vm, &b);
	FUZZ_ASSERT(r == 0 || r == -1);
	if (r != 0)
		FUZZ_ASSERT(fuzz_msg_ok());
	free(copy);
	return 0;
}

#endif
