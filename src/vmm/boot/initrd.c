/*
 * Initial ramdisks. Several --initrd files become one image for Linux:
 * the kernel unpacks concatenated cpio archives one after another, and
 * expects each to start 4-byte aligned.
 */
#include "loader.h"

int initrds_load(struct initrds *r, const struct config *cfg)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < cfg->n_initrd && i < CONFIG_MAX_INITRD; i++) {
		if (blob_load(&r->b[i], cfg->initrd[i]) != 0) {
			initrds_free(r);
			return -1;
		}
		r->n = i + 1;
		r->total = align_up(r->total, 4) + r->b[i].size;
	}
	return 0;
}

void initrds_free(struct initrds *r)
{
	for (int i = 0; i < r->n; i++)
		blob_free(&r->b[i]);
	r->n = 0;
	r->total = 0;
}

int initrds_copy(struct vm *vm, const struct initrds *r, uint64_t addr)
{
	uint8_t *dst = guest_ptr(&vm->mem, addr, r->total);
	if (!dst)
		return -1;
	uint64_t off = 0;
	for (int i = 0; i < r->n; i++) {
		uint64_t start = align_up(off, 4);
		memset(dst + off, 0, start - off);
		memcpy(dst + start, r->b[i].data, r->b[i].size);
		off = start + r->b[i].size;
	}
	return 0;
}

uint64_t place_top(uint64_t size, uint64_t lo, uint64_t hi)
{
	if (size == 0 || hi < size)
		return 0;
	uint64_t a = align_down(hi - size, PAGE_SIZE);
	return a >= lo && a != 0 ? a : 0;
}
