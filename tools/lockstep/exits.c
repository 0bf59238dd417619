/*
 * Pairs of exits. After each KVM_RUN on both sides the two exits must be
 * the same: same reason, and for port I/O and MMIO the same port or
 * address, size, direction, count and written data. Side A's exit goes to
 * the device model through the VMM's own exit handler; the data side A
 * read is copied into side B's kvm_run, so B completes the instruction
 * with exactly what A saw and no device runs twice.
 */
#include <string.h>

#include "lockstep.h"

typedef enum pair_result (*pair_fn)(struct side *a, struct side *b, char *why, size_t len);

/* The data of a port-I/O exit, or NULL when it is not inside the run area. */
static uint8_t *io_data(const struct side *s)
{
	const struct kvm_run *run = s->vcpu->run;
	uint64_t bytes = (uint64_t)run->io.count * run->io.size;
	if (run->io.data_offset > s->vcpu->run_size || bytes > s->vcpu->run_size - run->io.data_offset)
		return NULL;
	return (uint8_t *)run + run->io.data_offset;
}

static void put_bytes(char *buf, size_t len, const uint8_t *p, size_t n)
{
	size_t used = strlen(buf);
	for (size_t i = 0; i < n && i < 32 && used + 4 < len; i++)
		used += snprintf(buf + used, len - used, " %02x", p[i]);
	if (n > 32 && used + 5 < len)
		snprintf(buf + used, len - used, " ...");
}

void exit_describe(const struct side *s, char *buf, size_t len)
{
	const struct kvm_run *run = s->vcpu->run;
	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		const uint8_t *d = io_data(s);
		snprintf(buf, len, "IO %s port 0x%x size %u count %u", run->io.direction ? "out" : "in",
			 run->io.port, run->io.size, run->io.count);
		if (run->io.direction == KVM_EXIT_IO_OUT && d) {
			snprintf(buf + strlen(buf), len - strlen(buf), " data");
			put_bytes(buf, len, d, (size_t)run->io.size * run->io.count);
		}
		break;
	}
	case KVM_EXIT_MMIO:
		snprintf(buf, len, "MMIO %s 0x%llx len %u", run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		if (run->mmio.is_write && run->mmio.len <= sizeof(run->mmio.data)) {
			snprintf(buf + strlen(buf), len - strlen(buf), " data");
			put_bytes(buf, len, run->mmio.data, run->mmio.len);
		}
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(buf, len, "INTERNAL_ERROR suberror %u", run->internal.suberror);
		break;
	case KVM_EXIT_UNKNOWN:
		snprintf(buf, len, "UNKNOWN hardware reason 0x%llx",
			 (unsigned long long)run->hw.hardware_exit_reason);
		break;
	default:
		snprintf(buf, len, "%s (%u)", kvm_exit_name(run->exit_reason), run->exit_reason);
		break;
	}
}

static enum pair_result differ(struct side *a, struct side *b, const char *what, char *why, size_t len)
{
	char ea[256], eb[256];
	exit_describe(a, ea, sizeof(ea));
	exit_describe(b, eb, sizeof(eb));
	snprintf(why, len, "the exits differ (%s):\n  %-5s %s\n  %-5s %s", what, a->name, ea, b->name, eb);
	return PAIR_DIVERGED;
}

/* Side A made an exit lockstep cannot go on from. */
static enum pair_result a_failed(const struct side *a, const char *what, char *why, size_t len)
{
	snprintf(why, len, "%s: %s", a->name, what);
	return PAIR_ERROR;
}

/* After side A's devices ran: did one of them end the run? */
static enum pair_result after_device(struct side *a, char *why, size_t len)
{
	struct vm *vm = &a->vm;
	if (!vm_stopping(vm))
		return PAIR_AGAIN;
	switch (atomic_load(&vm->stop_reason)) {
	case VM_STOP_EXIT:
		snprintf(why, len, "the guest wrote 0x%x to the debug-exit port",
			 (unsigned)vm->exit_status >> 1);
		return PAIR_END;
	case VM_STOP_POWEROFF:
		snprintf(why, len, "the guest powered off");
		return PAIR_END;
	case VM_STOP_RESET:
		snprintf(why, len, "the guest reset the machine");
		return PAIR_END;
	default:
		snprintf(why, len, "a device of side %c stopped the run", a->label);
		return PAIR_ERROR;
	}
}

static enum pair_result pair_io(struct side *a, struct side *b, char *why, size_t len)
{
	const struct kvm_run *ra = a->vcpu->run, *rb = b->vcpu->run;
	uint8_t *da = io_data(a), *db = io_data(b);
	if (!da)
		return a_failed(a, "port-I/O data outside the run area", why, len);
	if (!db)
		return differ(a, b, "port-I/O data outside the run area", why, len);
	if (ra->io.direction != rb->io.direction || ra->io.size != rb->io.size ||
	    ra->io.port != rb->io.port || ra->io.count != rb->io.count)
		return differ(a, b, "port I/O", why, len);
	size_t bytes = (size_t)ra->io.size * ra->io.count;
	if (ra->io.direction == KVM_EXIT_IO_OUT && memcmp(da, db, bytes) != 0)
		return differ(a, b, "data written", why, len);
	if (vcpu_handle_exit(a->vcpu) != 0)
		return a_failed(a, "the port-I/O exit failed", why, len);
	if (ra->io.direction == KVM_EXIT_IO_IN)
		memcpy(db, da, bytes);
	return after_device(a, why, len);
}

static enum pair_result pair_mmio(struct side *a, struct side *b, char *why, size_t len)
{
	const struct kvm_run *ra = a->vcpu->run;
	struct kvm_run *rb = b->vcpu->run;
	if (rb->mmio.len == 0 || rb->mmio.len > sizeof(rb->mmio.data))
		return differ(a, b, "MMIO length", why, len);
	if (ra->mmio.phys_addr != rb->mmio.phys_addr || ra->mmio.len != rb->mmio.len ||
	    ra->mmio.is_write != rb->mmio.is_write)
		return differ(a, b, "MMIO", why, len);
	if (ra->mmio.is_write && memcmp(ra->mmio.data, rb->mmio.data, ra->mmio.len) != 0)
		return differ(a, b, "data written", why, len);
	if (vcpu_handle_exit(a->vcpu) != 0)
		return a_failed(a, "the MMIO exit failed", why, len);
	if (!ra->mmio.is_write)
		memcpy(rb->mmio.data, ra->mmio.data, ra->mmio.len);
	return after_device(a, why, len);
}

static enum pair_result pair_debug(struct side *a, struct side *b, char *why, size_t len)
{
	(void)a, (void)b, (void)why, (void)len;
	return PAIR_STEPPED;
}

static enum pair_result pair_hlt(struct side *a, struct side *b, char *why, size_t len)
{
	(void)a, (void)b;
	snprintf(why, len, "both halted (HLT with interrupts off, or without an interrupt to come)");
	return PAIR_END;
}

static enum pair_result pair_shutdown(struct side *a, struct side *b, char *why, size_t len)
{
	(void)a, (void)b;
	snprintf(why, len, "both shut down (triple fault)");
	return PAIR_END;
}

static enum pair_result pair_system_event(struct side *a, struct side *b, char *why, size_t len)
{
	if (a->vcpu->run->system_event.type != b->vcpu->run->system_event.type)
		return differ(a, b, "system event type", why, len);
	snprintf(why, len, "both made system event %u", a->vcpu->run->system_event.type);
	return PAIR_END;
}

static const pair_fn pair_handlers[] = {
	[KVM_EXIT_DEBUG] = pair_debug,
	[KVM_EXIT_IO] = pair_io,
	[KVM_EXIT_MMIO] = pair_mmio,
	[KVM_EXIT_HLT] = pair_hlt,
	[KVM_EXIT_SHUTDOWN] = pair_shutdown,
	[KVM_EXIT_SYSTEM_EVENT] = pair_system_event,
};

enum pair_result exits_pair(struct side *a, struct side *b, char *why, size_t len)
{
	unsigned reason = a->vcpu->run->exit_reason;
	if (reason != b->vcpu->run->exit_reason)
		return differ(a, b, "exit reason", why, len);
	if (reason < sizeof(pair_handlers) / sizeof(pair_handlers[0]) && pair_handlers[reason])
		return pair_handlers[reason](a, b, why, len);
	char desc[256];
	exit_describe(a, desc, sizeof(desc));
	snprintf(why, len, "both made an exit lockstep does not handle: %s", desc);
	return PAIR_ERROR;
}
