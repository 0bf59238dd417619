/*
 * QEMU's pc-testdev (present with --testdev), as kvm-unit-tests use it:
 *
 *   0xe0   4 bytes  a 32-bit register read back at any width and offset
 *   0xe4   4 bytes  a 32-bit write of a guest-physical address makes the
 *                   hypervisor drop its mapping of that page (QEMU changes
 *                   the page's protection and restores it)
 *   0xe8   4 bytes  the same register as 0xe0, accessed byte by byte
 *   0x2000 24 bytes a byte write to 0x2000 + n sets ISA IRQ n to (value != 0)
 *   0xff000000, 64 KiB of MMIO that reads back what was written, at every
 *          width
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../vmm/vm.h"
#include "device.h"
#include "devices.h"

#define TESTDEV_REG_LEN   4
#define TESTDEV_IRQ_LINES 24
#define PAGE_SIZE_4K      4096ULL

struct testdev {
	struct vm *vm;
	uint8_t reg[TESTDEV_REG_LEN];
	uint8_t irq_level[TESTDEV_IRQ_LINES];
	uint8_t iomem[TESTDEV_MMIO_SIZE];
};

static uint64_t testdev_reg_read(void *opaque, uint64_t offset, unsigned size)
{
	struct testdev *t = opaque;
	return buf_read(t->reg, TESTDEV_REG_LEN, offset, size);
}

static void testdev_reg_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct testdev *t = opaque;
	buf_write(t->reg, TESTDEV_REG_LEN, offset, value, size);
}

/*
 * Write-protecting the page and unprotecting it again makes the kernel
 * invalidate the hypervisor's mapping of it, so the guest's next access
 * faults into the hypervisor: what tests of event injection rely on.
 * (QEMU removes all access for a moment; keeping reads keeps a vCPU that
 * reads the page meanwhile from faulting in runvm itself.)
 */
static void testdev_flush_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct testdev *t = opaque;
	if (offset != 0 || size != 4)
		return;
	void *page = guest_ptr(&t->vm->mem, value & ~(PAGE_SIZE_4K - 1), PAGE_SIZE_4K);
	if (!page)
		return;
	mprotect(page, PAGE_SIZE_4K, PROT_READ);
	mprotect(page, PAGE_SIZE_4K, PROT_READ | PROT_WRITE);
}

static void testdev_irq_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct testdev *t = opaque;
	if (size != 1 || offset >= TESTDEV_IRQ_LINES)
		return;
	t->irq_level[offset] = (uint8_t)value != 0;
	vm_irq_line(t->vm, (unsigned)offset, t->irq_level[offset]);
}

static uint64_t testdev_mem_read(void *opaque, uint64_t offset, unsigned size)
{
	struct testdev *t = opaque;
	return buf_read(t->iomem, TESTDEV_MMIO_SIZE, offset, size);
}

static void testdev_mem_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct testdev *t = opaque;
	buf_write(t->iomem, TESTDEV_MMIO_SIZE, offset, value, size);
}

static const struct dev_ops testdev_reg_ops = { .read = testdev_reg_read, .write = testdev_reg_write };
static const struct dev_ops testdev_flush_ops = { .write = testdev_flush_write };
static const struct dev_ops testdev_irq_ops = { .write = testdev_irq_write };
static const struct dev_ops testdev_mem_ops = { .read = testdev_mem_read, .write = testdev_mem_write };

static int testdev_wanted(const struct vm *vm)
{
	return vm->cfg && vm->cfg->testdev;
}

static void *testdev_init(struct vm *vm)
{
	struct testdev *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->vm = vm;
	struct bus *io = &vm->pio;
	/* Byte-wise access to 0xe8 behaves exactly like access to 0xe0. */
	if (device_register(io, TESTDEV_PORT, TESTDEV_REG_LEN, &testdev_reg_ops, t, "testdev") < 0 ||
	    device_register(io, TESTDEV_FLUSH_PORT, 4, &testdev_flush_ops, t, "testdev flush") < 0 ||
	    device_register(io, TESTDEV_BYTE_PORT, TESTDEV_REG_LEN, &testdev_reg_ops, t, "testdev byte") < 0 ||
	    device_register(io, TESTDEV_IRQ_PORT, TESTDEV_IRQ_LINES, &testdev_irq_ops, t, "testdev irq") < 0 ||
	    device_register(&vm->mmio, TESTDEV_MMIO_BASE, TESTDEV_MMIO_SIZE, &testdev_mem_ops, t,
			    "testdev iomem") < 0) {
		free(t);
		return NULL;
	}
	return t;
}

/* IRQ lines start low on the new interrupt controller of a reboot. */
static void testdev_reset(void *dev)
{
	struct testdev *t = dev;
	for (unsigned i = 0; i < TESTDEV_IRQ_LINES; i++)
		if (t->irq_level[i])
			vm_irq_line(t->vm, i, 0);
	memset(t->irq_level, 0, sizeof(t->irq_level));
}

const struct device_type testdev_device = {
	.name = "testdev",
	.wanted = testdev_wanted,
	.init = testdev_init,
	.reset = testdev_reset,
};
