/*
 * Exit statistics (--stats): a built-in kvm_stat. Each vCPU counts into
 * its own block without locking; the blocks are summed when printed.
 */
#ifndef RUNVM_STATS_H
#define RUNVM_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "bus.h"

#define STATS_EXIT_REASONS 64
#define STATS_MMIO_UNCLAIMED BUS_MAX_RANGES

struct vcpu_stats {
	uint64_t exits[STATS_EXIT_REASONS];
	uint64_t mmio[BUS_MAX_RANGES + 1];      /* per MMIO range; last: unclaimed */
	uint32_t pio[65536];                    /* per port */
};

struct vm;

int stats_init(struct vm *vm);
void stats_free(struct vm *vm);
void stats_print(struct vm *vm, FILE *out, double wall_seconds);

static inline void stats_count_exit(struct vcpu_stats *s, unsigned reason)
{
	if (s)
		s->exits[reason < STATS_EXIT_REASONS ? reason : STATS_EXIT_REASONS - 1]++;
}

#endif
