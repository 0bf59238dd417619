/*
 * Shared by the fuzz harnesses (fuzz/NAME.c): reading structured values
 * out of the fuzzer's bytes, a VM that has only memory and devices (no
 * hypervisor), and capture of runvm's messages so that a harness can
 * check that every refusal says why.
 *
 * Each harness defines LLVMFuzzerTestOneInput(); fuzz/fuzz.mk links it
 * with libFuzzer (make fuzz) or with fuzz/replay.c (make check replays
 * the committed corpus, fuzz/corpus/NAME/).
 */
#ifndef RUNVM_FUZZ_H
#define RUNVM_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input as a stream: reads past its end give zeros. */
struct fz {
	const uint8_t *p;
	size_t n, pos;
};

static inline uint64_t fz_take(struct fz *f, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && i < 8; i++)
		if (f->pos < f->n)
			v |= (uint64_t)f->p[f->pos++] << (8 * i);
	return v;
}

static inline int fz_more(const struct fz *f)
{
	return f->pos < f->n;
}

/* A harness finding that the sanitizers cannot see: report and abort. */
#define FUZZ_ASSERT(c) do { \
	if (!(c)) { \
		fprintf(fuzz_real_stderr ? fuzz_real_stderr : stderr, \
			"%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #c); \
		abort(); \
	} \
} while (0)

/* ---- runvm's messages ---------------------------------------------------- */

static FILE *fuzz_real_stderr;
static char fuzz_msg[4096];

/* From now on messages go to fuzz_msg (emptied by fuzz_msg_reset). */
static inline void fuzz_capture_messages(void)
{
	if (fuzz_real_stderr)
		return;
	fuzz_real_stderr = stderr;
	FILE *f = fmemopen(fuzz_msg, sizeof(fuzz_msg), "w");
	if (!f)
		abort();
	setvbuf(f, NULL, _IONBF, 0);
	stderr = f;
}

static inline void fuzz_msg_reset(void)
{
	rewind(stderr);
	memset(fuzz_msg, 0, sizeof(fuzz_msg));
}

/* A refusal must come with a "runvm: " line. */
static inline int fuzz_msg_ok(void)
{
	return strncmp(fuzz_msg, "runvm: ", 7) == 0;
}

/* ---- a VM without a hypervisor ------------------------------------------- */

/*
 * Memory and buses only: vm_fd = -1, so interrupt lines go nowhere and
 * loaders and devices run exactly as in runvm, minus the guest.
 */
static inline void fuzz_vm_init(struct vm *vm, struct config *cfg, uint64_t mem)
{
	memset(vm, 0, sizeof(*vm));
	if (!cfg->cpus)
		cfg->cpus = 1;
	cfg->mem = mem;
	vm->cfg = cfg;
	vm->ncpus = cfg->cpus;
	vm->sys_fd = vm->vm_fd = vm->stop_fd = -1;
	pthread_mutex_init(&vm->machine_lock, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	if (guest_mem_init(&vm->mem, mem) < 0)
		abort();
}

#endif
