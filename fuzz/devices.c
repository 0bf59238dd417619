/*
 * Fuzzes the platform devices' register interfaces through the buses, as
 * a guest drives them with IN/OUT and MMIO: every device of a runvm PC
 * (serial, i8042, CMOS/RTC, POST, debug-exit, ACPI PM, fw_cfg, testdev,
 * and the virtio-mmio transports of virtio-rng, -blk and -console, whose
 * queues then walk whatever the input put in their registers) on a VM
 * without a hypervisor, reset before each input.
 *
 * Each access is 4 to 12 bytes: a kind byte (bit 0 MMIO, bit 1 write,
 * bits 2-3 the width 1/2/4/8, bit 4 a raw 16-bit port or 32-bit address
 * instead of a registered range), a range index and an offset (or the raw
 * address), and for writes the value.
 */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"
#include "dev/devices.h"

static struct vm vm;
static struct config cfg;
static char disk_path[64];

static void remove_disk(void)
{
	unlink(disk_path);
}

static void setup(void)
{
	/* The serial port reads an empty input and writes to nowhere. */
	int null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
		abort();
	close(null);
	cfg.cpus = 2;
	cfg.testdev = 1;
	/* The virtio devices that need no host setup: an entropy source, a
	 * disk on a small scratch file, a second console writing nowhere. */
	cfg.rng = 1;
	cfg.console2 = "/dev/null";
	snprintf(disk_path, sizeof(disk_path), "/tmp/runvm-fuzz-disk-%d", (int)getpid());
	int fd = open(disk_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		abort();
	close(fd);
	atexit(remove_disk);
	snprintf(cfg.disks[0].path, sizeof(cfg.disks[0].path), "%s", disk_path);
	cfg.n_disks = 1;
	fuzz_vm_init(&vm, &cfg, 64ULL << 20);
	fuzz_capture_messages();
	if (devices_init(&vm) < 0)
		abort();
}

static const unsigned widths[4] = { 1, 2, 4, 8 };

static void bus_access(struct fz *f)
{
	unsigned kind = (unsigned)fz_take(f, 1);
	struct bus *b = kind & 1 ? &vm.mmio : &vm.pio;
	unsigned size = widths[(kind >> 2) & 3];
	if (!(kind & 1) && size == 8)
		size = 4;               /* port I/O is at most 4 bytes wide */
	uint64_t addr;
	if (kind & 16) {
		addr = fz_take(f, kind & 1 ? 4 : 2);
	} else {
		if (b->n == 0)
			return;
		const struct bus_range *r = &b->r[fz_take(f, 1) % (unsigned)b->n];
		/* A little past either end, to cross into the neighbours. */
		addr = r->base + fz_take(f, 2) % (r->len + 8) - 4;
	}
	uint64_t v = 0;
	if (kind & 2) {
		v = fz_take(f, size);
		bus_write(b, addr, &v, size);
	} else {
		bus_read(b, addr, &v, size);
		if (size < 8)
			FUZZ_ASSERT((v >> (8 * size)) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!vm.devs)
		setup();
	devices_reset(&vm);
	atomic_store(&vm.stop_reason, VM_RUNNING);
	struct fz f = { data, size, 0 };
	for (int n = 0; fz_more(&f) && n < 4096; n++)
		bus_access(&f);
	return 0;
}
