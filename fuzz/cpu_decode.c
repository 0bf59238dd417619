/*
 * Fuzzes the soft CPU's instruction decoder (cpu_decode): byte 0 picks the
 * code size (16, 32 or 64 bits), the rest is code, decoded instruction
 * after instruction as the block decoder walks it. Besides the sanitizers'
 * checks, a decode must be self-consistent: a length of 1 to 15 bytes
 * within what was available, the same result when exactly those bytes are
 * given, and "need more bytes" when one fewer is.
 */
#include "fuzz.h"
#include "hv/soft/cpu/cpu.h"

static int decode_exact(const uint8_t *bytes, int n, int code_size, struct insn *in, int *ends)
{
	/* Exactly n bytes on the heap: a read past them is a sanitizer report. */
	uint8_t *copy = malloc(n > 0 ? (size_t)n : 1);
	memcpy(copy, bytes, (size_t)(n > 0 ? n : 0));
	int r = cpu_decode(copy, n, code_size, in, ends);
	free(copy);
	return r;
}

static void check_one(const uint8_t *p, int avail, int code_size, int r, const struct insn *in)
{
	FUZZ_ASSERT(r <= avail);
	if (r <= 0) {
		FUZZ_ASSERT(r == -1 || r == -EX_UD || r == -EX_GP);
		return;
	}
	FUZZ_ASSERT(r <= 15);
	FUZZ_ASSERT(in->len == r);
	FUZZ_ASSERT(in->fn != NULL);
	FUZZ_ASSERT(in->opsize == 1 || in->opsize == 2 || in->opsize == 4 || in->opsize == 8);
	FUZZ_ASSERT(in->adsize == 2 || in->adsize == 4 || in->adsize == 8);
	FUZZ_ASSERT(in->scale <= 3);
	struct insn again;
	int ends;
	FUZZ_ASSERT(decode_exact(p, r, code_size, &again, &ends) == r);
	FUZZ_ASSERT(again.len == in->len && again.fn == in->fn && again.imm == in->imm &&
		    again.disp == in->disp && again.opsize == in->opsize);
	FUZZ_ASSERT(decode_exact(p, r - 1, code_size, &again, &ends) == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static const int sizes[4] = { 2, 4, 8, 8 };
	int code_size = sizes[data[0] & 3];
	const uint8_t *code = data + 1;
	size_t n = size - 1, off = 0;
	for (int count = 0; off < n && count < 64; count++) {
		int avail = n - off > 15 ? 15 : (int)(n - off);
		struct insn in;
		int ends = 0;
		memset(&in, 0, sizeof(in));
		int r = decode_exact(code + off, avail, code_size, &in, &ends);
		check_one(code + off, avail, code_size, r, &in);
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	return 0;
}
