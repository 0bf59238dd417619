/*
 * runvm: main() builds the machine, runs it until the guest powers off,
 * resets or fails, and rebuilds it on a reset.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../dev/devices.h"
#include "acpi.h"
#include "boot/boot.h"
#include "seccomp.h"
#include "stats.h"
#include "vm.h"

static struct vm the_vm;

static void on_stop_signal(int sig)
{
	(void)sig;
	vm_request_stop_from_signal(&the_vm);
}

static void install_signal_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One boot of the guest: build the machine, load the guest, run until a stop. */
static enum vm_stop_reason boot_and_run(struct vm *vm)
{
	if (vm_machine_create(vm) < 0 || acpi_build(vm) < 0) {
		vm->exit_status = RUNVM_EXIT_VM_ERROR;
		return VM_STOP_ERROR;
	}
	memset(&vm->boot, 0, sizeof(vm->boot));
	if (boot_load(vm) < 0) {
		vm->exit_status = RUNVM_EXIT_USAGE;
		return VM_STOP_ERROR;
	}
	if (vcpu_set_boot_state(&vm->vcpus[0], &vm->boot) < 0) {
		vm->exit_status = RUNVM_EXIT_VM_ERROR;
		return VM_STOP_ERROR;
	}
	vcpus_start(vm);
	enum vm_stop_reason why = vm_wait_stop(vm);
	vcpus_kick(vm);
	vcpus_join(vm);
	return why;
}

static int run(struct vm *vm)
{
	enum vm_stop_reason why;
	for (;;) {
		why = boot_and_run(vm);
		vm_machine_destroy(vm);
		if (atomic_load(&vm->signalled)) {
			vm->exit_status = RUNVM_EXIT_SIGNAL;
			break;
		}
		if (why != VM_STOP_RESET || vm->cfg->no_reboot)
			break;
		guest_mem_clear(&vm->mem);
		devices_reset(vm);
	}
	return vm->exit_status;
}

int main(int argc, char **argv)
{
	struct config cfg;
	int r = config_parse(&cfg, argc, argv);
	if (r != 0)
		return r > 0 ? 0 : RUNVM_EXIT_USAGE;

	const struct hv_ops *hv = hv_select(cfg.accel);
	if (!hv)
		return RUNVM_EXIT_USAGE;
	if (!cfg.quiet)
		fprintf(stderr, "runvm: accelerator %s%s, %d vCPU, %llu MiB\n", hv->name,
			strcmp(cfg.accel, "auto") ? "" : " (auto)", cfg.cpus,
			(unsigned long long)(cfg.mem >> 20));

	struct vm *vm = &the_vm;
	install_signal_handlers();
	if (seccomp_prepare(&cfg) < 0)
		return RUNVM_EXIT_VM_ERROR;
	double t0 = now_seconds();
	if (vm_init(vm, &cfg, hv) < 0 || (cfg.stats && stats_init(vm) < 0) || devices_init(vm) < 0) {
		vm_fini(vm);
		return RUNVM_EXIT_VM_ERROR;
	}
	int status = run(vm);
	devices_destroy(vm);
	if (cfg.stats)
		stats_print(vm, stderr, now_seconds() - t0);
	stats_free(vm);
	vm_fini(vm);
	return status;
}
