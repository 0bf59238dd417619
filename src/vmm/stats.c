#include <stdlib.h>

#include "stats.h"
#include "vm.h"

int stats_init(struct vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++) {
		vm->vcpus[i].stats = calloc(1, sizeof(struct vcpu_stats));
		if (!vm->vcpus[i].stats)
			return -1;
	}
	return 0;
}

void stats_free(struct vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++) {
		free(vm->vcpus[i].stats);
		vm->vcpus[i].stats = NULL;
	}
}

/* One row: a label, the total, then one column per vCPU. */
static void print_row(struct vm *vm, FILE *out, const char *label,
		      uint64_t (*get)(const struct vcpu_stats *, unsigned), unsigned key)
{
	uint64_t total = 0;
	for (int i = 0; i < vm->ncpus; i++)
		total += get(vm->vcpus[i].stats, key);
	if (total == 0)
		return;
	fprintf(out, "  %-28s %12llu", label, (unsigned long long)total);
	for (int i = 0; i < vm->ncpus; i++)
		fprintf(out, " %10llu", (unsigned long long)get(vm->vcpus[i].stats, key));
	fputc('\n', out);
}

static uint64_t get_exit(const struct vcpu_stats *s, unsigned k) { return s->exits[k]; }
static uint64_t get_pio(const struct vcpu_stats *s, unsigned k) { return s->pio[k]; }
static uint64_t get_mmio(const struct vcpu_stats *s, unsigned k) { return s->mmio[k]; }

static void print_header(struct vm *vm, FILE *out, const char *what)
{
	fprintf(out, "  %-28s %12s", what, "total");
	for (int i = 0; i < vm->ncpus; i++)
		fprintf(out, "      vcpu%d", i);
	fputc('\n', out);
}

void stats_print(struct vm *vm, FILE *out, double wall_seconds)
{
	char label[64];

	if (!vm->vcpus[0].stats)
		return;
	fprintf(out, "runvm: exit statistics (%s, %d vCPU, %.3f s wall)\n",
		vm->hv->name, vm->ncpus, wall_seconds);
	print_header(vm, out, "exit reason");
	for (unsigned r = 0; r < STATS_EXIT_REASONS; r++) {
		snprintf(label, sizeof(label), "%s", kvm_exit_name(r));
		print_row(vm, out, label, get_exit, r);
	}
	print_header(vm, out, "I/O port");
	for (unsigned p = 0; p < 65536; p++) {
		int i = bus_find(&vm->pio, p);
		snprintf(label, sizeof(label), "0x%04x %s", p, i >= 0 ? vm->pio.r[i].name : "(none)");
		print_row(vm, out, label, get_pio, p);
	}
	print_header(vm, out, "MMIO region");
	for (unsigned r = 0; r <= BUS_MAX_RANGES; r++) {
		if (r < (unsigned)vm->mmio.n)
			snprintf(label, sizeof(label), "0x%llx %s",
				 (unsigned long long)vm->mmio.r[r].base, vm->mmio.r[r].name);
		else
			snprintf(label, sizeof(label), "(unclaimed)");
		print_row(vm, out, label, get_mmio, r);
	}
}
