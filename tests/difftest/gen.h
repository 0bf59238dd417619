/*
 * Instruction generator of the differential tester: random and directed
 * instruction sequences for 64-bit mode, with the flags each one leaves
 * architecturally undefined.
 */
#ifndef DIFFTEST_GEN_H
#define DIFFTEST_GEN_H

#include <stdint.h>
#include <stdio.h>

#define GEN_MAX_BYTES 112
#define SCRATCH_REG 15          /* R15 holds the scratch buffer's address */

struct rng { uint64_t s; };

static inline uint64_t rng_next(struct rng *r)
{
	/* splitmix64: small, fast, and the same on every host for a seed */
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct seq {
	uint8_t bytes[GEN_MAX_BYTES];
	int len;
	int n;                          /* instructions */
	uint32_t undef_flags;           /* flags to ignore when comparing */
	int loop;                       /* the instructions run in a loop (gen.c) */
	const char *names[8];
};

/* A sequence of 1 to max_insns instructions. */
void gen_sequence(struct rng *r, struct seq *s, int max_insns);
/* Random register values with a bias to edge cases (0, ±1, sign bits). */
uint64_t gen_value(struct rng *r);
/* 16 bytes for an XMM register or memory: singles, doubles or integers, edge cases often. */
void gen_xmm(struct rng *r, uint8_t v[16]);
/* An MXCSR: any rounding, DAZ and FTZ, some flags set, now and then an exception unmasked. */
uint32_t gen_mxcsr(struct rng *r);
/* Prints the covered instruction forms. */
void gen_list(FILE *out);

#endif
