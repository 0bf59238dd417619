/*
 * The virtio-mmio transport, version 2 (virtio 1.x, section 4.2), and the
 * table entry that creates runvm's virtio devices.
 *
 * Why MMIO and not PCI: a virtio-mmio device is a page of registers and an
 * interrupt line, described by one DSDT entry (_HID "LNRO0005", which the
 * Linux virtio_mmio driver matches). The guest finds it with no bus scan,
 * no configuration-space probing, no BAR sizing and no MSI-X set-up, so
 * boot stays short (the reason Firecracker and QEMU's microvm use it), and
 * the transport is a few hundred lines instead of a PCI host bridge, config
 * space and capability lists. What PCI would add - hot-plug, per-queue
 * MSI-X vectors - a small VM with a few devices does not need. The kernel
 * we boot cannot take virtio-mmio devices from its command line
 * (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES is off), hence ACPI.
 *
 * Interrupts: one level-triggered line per device, high while the
 * InterruptStatus register is non-zero; the driver's InterruptACK lowers
 * it. Notifications: a QueueNotify write is an MMIO exit; where the
 * hypervisor has KVM_IOEVENTFD the write is instead turned into an eventfd
 * signal in the kernel, so the vCPU does not leave the guest and a thread
 * of the transport runs the queue. KVM_IRQFD is not used: raising the
 * line from a device thread with KVM_IRQ_LINE costs no guest exit either,
 * and a level line through an irqfd would need the resample protocol.
 *
 * Threads: register accesses run on vCPU threads and make no system call
 * but futex, eventfd writes and KVM_IRQ_LINE (an acknowledgement lowers the
 * line); everything else (the ioeventfd set-up, the devices' I/O) happens
 * on device threads.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../vmm/acpi.h"
#include "../vmm/vm.h"
#include "devices.h"
#include "virtio_mmio.h"

#define VIRTIO_MMIO_VENDOR  0x4d565552          /* "RUVM" */
#define VIRTIO_MMIO_ACPI_HID "LNRO0005"
#define N_REGS              (VIRTIO_MMIO_CONFIG / 4)

struct virtio_mmio {
	struct virtio_dev *dev;
	struct vm *vm;
	uint64_t base;
	unsigned slot;
	int gsi;
	uint32_t device_features_sel, driver_features_sel, queue_sel, shm_sel;
	int irq_level;

	/* Queue notifications through KVM_IOEVENTFD (see the top of the file). */
	int ioevent_cap;                /* the hypervisor has it */
	int ioevent_registered;         /* asked for in the current machine */
	int ioevent_fd[VIRTIO_MAX_QUEUES];
	int register_fd;                /* eventfd: bind the eventfds in the current machine */
	int stop_fd;
	pthread_t thread;
	int thread_started;
};

static struct virtq *selected_queue(struct virtio_mmio *t)
{
	return t->queue_sel < t->dev->nqueues ? &t->dev->vq[t->queue_sel] : NULL;
}

/* A queue's registers may change only while it is not ready. */
static struct virtq *configurable_queue(struct virtio_mmio *t)
{
	struct virtq *vq = selected_queue(t);
	return vq && !vq->ready ? vq : NULL;
}

static void set_low(uint64_t *r, uint32_t v) { *r = (*r & ~0xffffffffULL) | v; }
static void set_high(uint64_t *r, uint32_t v) { *r = (*r & 0xffffffffULL) | ((uint64_t)v << 32); }

/* --- Registers ----------------------------------------------------------------- */

static uint32_t rd_magic(struct virtio_mmio *t) { (void)t; return VIRTIO_MMIO_MAGIC; }
static uint32_t rd_version(struct virtio_mmio *t) { (void)t; return 2; }
static uint32_t rd_device_id(struct virtio_mmio *t) { return t->dev->device_id; }
static uint32_t rd_vendor_id(struct virtio_mmio *t) { (void)t; return VIRTIO_MMIO_VENDOR; }
static uint32_t rd_interrupt_status(struct virtio_mmio *t) { return t->dev->isr; }
static uint32_t rd_status(struct virtio_mmio *t) { return t->dev->status; }
static uint32_t rd_config_generation(struct virtio_mmio *t) { return t->dev->config_generation; }
/* No shared memory regions: a length of all ones says "none". */
static uint32_t rd_no_shm(struct virtio_mmio *t) { (void)t; return 0xffffffffu; }

static uint32_t rd_device_features(struct virtio_mmio *t)
{
	if (t->device_features_sel > 1)
		return 0;
	return (uint32_t)(t->dev->host_features >> (32 * t->device_features_sel));
}

static uint32_t rd_queue_num_max(struct virtio_mmio *t)
{
	struct virtq *vq = selected_queue(t);
	return vq ? vq->num_max : 0;
}

static uint32_t rd_queue_ready(struct virtio_mmio *t)
{
	struct virtq *vq = selected_queue(t);
	return vq ? (uint32_t)vq->ready : 0;
}

static void wr_device_features_sel(struct virtio_mmio *t, uint32_t v) { t->device_features_sel = v; }
static void wr_driver_features_sel(struct virtio_mmio *t, uint32_t v) { t->driver_features_sel = v; }
static void wr_queue_sel(struct virtio_mmio *t, uint32_t v) { t->queue_sel = v; }
static void wr_shm_sel(struct virtio_mmio *t, uint32_t v) { t->shm_sel = v; }
static void wr_interrupt_ack(struct virtio_mmio *t, uint32_t v) { virtio_dev_ack_interrupt(t->dev, (uint8_t)v); }
static void wr_queue_notify(struct virtio_mmio *t, uint32_t v) { virtio_dev_queue_kick(t->dev, v); }

static void wr_driver_features(struct virtio_mmio *t, uint32_t v)
{
	struct virtio_dev *d = t->dev;
	/* Features are fixed once the driver set FEATURES_OK. */
	if (d->status & VIRTIO_STATUS_FEATURES_OK)
		return;
	if (t->driver_features_sel == 0)
		set_low(&d->guest_features, v);
	else if (t->driver_features_sel == 1)
		set_high(&d->guest_features, v);
}

static void wr_queue_num(struct virtio_mmio *t, uint32_t v)
{
	struct virtq *vq = configurable_queue(t);
	/* A size above the maximum is kept as 0, which QueueReady then refuses. */
	if (vq)
		vq->num = v <= vq->num_max ? (uint16_t)v : 0;
}

static void wr_queue_ready(struct virtio_mmio *t, uint32_t v)
{
	if (selected_queue(t))
		virtio_dev_set_queue_ready(t->dev, t->queue_sel, v != 0);
}

static void ioevent_register(struct virtio_mmio *t);

static void wr_status(struct virtio_mmio *t, uint32_t v)
{
	virtio_dev_set_status(t->dev, (uint8_t)v);
	if (t->dev->status & VIRTIO_STATUS_DRIVER_OK)
		ioevent_register(t);
}

#define QUEUE_ADDR_WRITER(fn, field, set) \
	static void fn(struct virtio_mmio *t, uint32_t v) \
	{ \
		struct virtq *vq = configurable_queue(t); \
		if (vq) \
			set(&vq->field, v); \
	}
QUEUE_ADDR_WRITER(wr_desc_low, desc_gpa, set_low)
QUEUE_ADDR_WRITER(wr_desc_high, desc_gpa, set_high)
QUEUE_ADDR_WRITER(wr_driver_low, avail_gpa, set_low)
QUEUE_ADDR_WRITER(wr_driver_high, avail_gpa, set_high)
QUEUE_ADDR_WRITER(wr_device_low, used_gpa, set_low)
QUEUE_ADDR_WRITER(wr_device_high, used_gpa, set_high)

#define REG(off) [(off) / 4]

static uint32_t (*const mmio_readers[N_REGS])(struct virtio_mmio *) = {
	REG(VIRTIO_MMIO_MAGIC_VALUE) = rd_magic,
	REG(VIRTIO_MMIO_VERSION) = rd_version,
	REG(VIRTIO_MMIO_DEVICE_ID) = rd_device_id,
	REG(VIRTIO_MMIO_VENDOR_ID) = rd_vendor_id,
	REG(VIRTIO_MMIO_DEVICE_FEATURES) = rd_device_features,
	REG(VIRTIO_MMIO_QUEUE_NUM_MAX) = rd_queue_num_max,
	REG(VIRTIO_MMIO_QUEUE_READY) = rd_queue_ready,
	REG(VIRTIO_MMIO_INTERRUPT_STATUS) = rd_interrupt_status,
	REG(VIRTIO_MMIO_STATUS) = rd_status,
	REG(VIRTIO_MMIO_SHM_LEN_LOW) = rd_no_shm,
	REG(VIRTIO_MMIO_SHM_LEN_HIGH) = rd_no_shm,
	REG(VIRTIO_MMIO_SHM_BASE_LOW) = rd_no_shm,
	REG(VIRTIO_MMIO_SHM_BASE_HIGH) = rd_no_shm,
	REG(VIRTIO_MMIO_CONFIG_GENERATION) = rd_config_generation,
};

static void (*const mmio_writers[N_REGS])(struct virtio_mmio *, uint32_t) = {
	REG(VIRTIO_MMIO_DEVICE_FEATURES_SEL) = wr_device_features_sel,
	REG(VIRTIO_MMIO_DRIVER_FEATURES) = wr_driver_features,
	REG(VIRTIO_MMIO_DRIVER_FEATURES_SEL) = wr_driver_features_sel,
	REG(VIRTIO_MMIO_QUEUE_SEL) = wr_queue_sel,
	REG(VIRTIO_MMIO_QUEUE_NUM) = wr_queue_num,
	REG(VIRTIO_MMIO_QUEUE_READY) = wr_queue_ready,
	REG(VIRTIO_MMIO_QUEUE_NOTIFY) = wr_queue_notify,
	REG(VIRTIO_MMIO_INTERRUPT_ACK) = wr_interrupt_ack,
	REG(VIRTIO_MMIO_STATUS) = wr_status,
	REG(VIRTIO_MMIO_QUEUE_DESC_LOW) = wr_desc_low,
	REG(VIRTIO_MMIO_QUEUE_DESC_HIGH) = wr_desc_high,
	REG(VIRTIO_MMIO_QUEUE_DRIVER_LOW) = wr_driver_low,
	REG(VIRTIO_MMIO_QUEUE_DRIVER_HIGH) = wr_driver_high,
	REG(VIRTIO_MMIO_QUEUE_DEVICE_LOW) = wr_device_low,
	REG(VIRTIO_MMIO_QUEUE_DEVICE_HIGH) = wr_device_high,
	REG(VIRTIO_MMIO_SHM_SEL) = wr_shm_sel,
};

/*
 * The registers take aligned 32-bit accesses only (section 4.2.2.2); others
 * read as 0 and are dropped. The configuration space takes any width.
 */
uint64_t virtio_mmio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct virtio_mmio *t = opaque;
	uint64_t v = 0;
	pthread_mutex_lock(&t->dev->lock);
	if (offset >= VIRTIO_MMIO_CONFIG)
		v = virtio_dev_config_read(t->dev, (unsigned)(offset - VIRTIO_MMIO_CONFIG), size);
	else if (size == 4 && offset % 4 == 0 && mmio_readers[offset / 4])
		v = mmio_readers[offset / 4](t);
	pthread_mutex_unlock(&t->dev->lock);
	return v;
}

void virtio_mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	struct virtio_mmio *t = opaque;
	pthread_mutex_lock(&t->dev->lock);
	if (offset >= VIRTIO_MMIO_CONFIG)
		virtio_dev_config_write(t->dev, (unsigned)(offset - VIRTIO_MMIO_CONFIG), value, size);
	else if (size == 4 && offset % 4 == 0 && mmio_writers[offset / 4])
		mmio_writers[offset / 4](t, (uint32_t)value);
	pthread_mutex_unlock(&t->dev->lock);
}

static const struct dev_ops virtio_mmio_ops = { .read = virtio_mmio_read, .write = virtio_mmio_write };

/* The line follows InterruptStatus; called with the device lock held. */
static void mmio_irq_update(struct virtio_dev *d)
{
	struct virtio_mmio *t = d->transport;
	int level = d->isr != 0;
	if (level != t->irq_level) {
		t->irq_level = level;
		vm_irq_line(t->vm, (unsigned)t->gsi, level);
	}
}

int virtio_mmio_irq_level(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->dev->lock);
	int level = t->irq_level;
	pthread_mutex_unlock(&t->dev->lock);
	return level;
}

int virtio_mmio_gsi(const struct virtio_mmio *t) { return t->gsi; }
struct virtio_dev *virtio_mmio_dev(struct virtio_mmio *t) { return t->dev; }

/* --- ioeventfd ------------------------------------------------------------------ */

/*
 * Binds each queue's QueueNotify value to its eventfd in the current
 * machine (a reboot makes a new one). Until it is done, notifications
 * come as MMIO exits, which work just as well, only slower.
 */
static void ioevent_bind(struct virtio_mmio *t)
{
	struct vm *vm = t->vm;
	pthread_mutex_lock(&vm->machine_lock);
	for (unsigned q = 0; q < t->dev->nqueues && vm->vm_fd >= 0; q++) {
		struct kvm_ioeventfd io = {
			.datamatch = q,
			.addr = t->base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = t->ioevent_fd[q],
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		/* EEXIST: bound already, by an earlier request in this machine. */
		if (vm_ioctl(vm, vm->vm_fd, KVM_IOEVENTFD, &io) < 0 && errno != EEXIST) {
			fprintf(stderr, "runvm: %s: KVM_IOEVENTFD: %m; notifications go through MMIO exits\n",
				t->dev->name);
			break;
		}
	}
	pthread_mutex_unlock(&vm->machine_lock);
}

static void *ioevent_thread(void *arg)
{
	struct virtio_mmio *t = arg;
	unsigned n = t->dev->nqueues;
	struct pollfd p[VIRTIO_MAX_QUEUES + 2];
	for (unsigned q = 0; q < n; q++)
		p[q] = (struct pollfd){ .fd = t->ioevent_fd[q], .events = POLLIN };
	p[n] = (struct pollfd){ .fd = t->register_fd, .events = POLLIN };
	p[n + 1] = (struct pollfd){ .fd = t->stop_fd, .events = POLLIN };
	for (;;) {
		if (poll(p, n + 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[n + 1].revents)
			break;
		if (p[n].revents) {
			virtio_event_drain(t->register_fd);
			ioevent_bind(t);
		}
		for (unsigned q = 0; q < n; q++) {
			if (!(p[q].revents & POLLIN))
				continue;
			virtio_event_drain(t->ioevent_fd[q]);
			pthread_mutex_lock(&t->dev->lock);
			virtio_dev_queue_kick(t->dev, q);
			pthread_mutex_unlock(&t->dev->lock);
		}
	}
	return NULL;
}

/* With KVM_IOEVENTFD: the eventfds and the thread that waits on them. */
static void ioevent_setup(struct virtio_mmio *t)
{
	struct vm *vm = t->vm;
	if (!vm->hv || vm->sys_fd < 0 ||
	    vm_ioctl(vm, vm->sys_fd, KVM_CHECK_EXTENSION, (void *)(uintptr_t)KVM_CAP_IOEVENTFD) <= 0)
		return;
	t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	t->register_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->stop_fd < 0 || t->register_fd < 0)
		return;
	for (unsigned q = 0; q < t->dev->nqueues; q++) {
		t->ioevent_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->ioevent_fd[q] < 0)
			return;
	}
	char name[16];
	snprintf(name, sizeof(name), "virtio-ioev%u", t->slot % 100u);
	if (virtio_thread_start(&t->thread, ioevent_thread, t, name) < 0)
		return;
	t->thread_started = 1;
	t->ioevent_cap = 1;
}

/* At DRIVER_OK, on a vCPU thread: the machine exists; have the thread bind the eventfds. */
static void ioevent_register(struct virtio_mmio *t)
{
	if (!t->ioevent_cap || t->ioevent_registered)
		return;
	t->ioevent_registered = 1;
	virtio_event_signal(t->register_fd);
}

static void ioevent_fini(struct virtio_mmio *t)
{
	if (t->thread_started) {
		virtio_event_signal(t->stop_fd);
		pthread_join(t->thread, NULL);
	}
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (t->ioevent_fd[q] >= 0)
			close(t->ioevent_fd[q]);
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	if (t->register_fd >= 0)
		close(t->register_fd);
}

/* --- Life cycle ------------------------------------------------------------------ */

static void destroy_device(struct virtio_dev *d)
{
	d->ops->destroy(d);
}

struct virtio_mmio *virtio_mmio_create(struct vm *vm, struct virtio_dev *d, unsigned slot)
{
	static const int gsis[VIRTIO_MMIO_MAX] = VIRTIO_MMIO_GSIS;
	if (slot >= VIRTIO_MMIO_MAX) {
		fprintf(stderr, "runvm: too many virtio devices (at most %d), at %s\n",
			VIRTIO_MMIO_MAX, d->name);
		destroy_device(d);
		return NULL;
	}
	struct virtio_mmio *t = calloc(1, sizeof(*t));
	if (!t) {
		fprintf(stderr, "runvm: out of memory for %s\n", d->name);
		destroy_device(d);
		return NULL;
	}
	t->dev = d;
	t->vm = vm;
	t->slot = slot;
	t->base = VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_STRIDE;
	t->gsi = gsis[slot];
	t->stop_fd = t->register_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		t->ioevent_fd[q] = -1;
	d->transport = t;
	d->irq_update = mmio_irq_update;

	struct acpi_dsdt_device a = {
		.hid = VIRTIO_MMIO_ACPI_HID, .uid = slot,
		.mmio_base = (uint32_t)t->base, .mmio_len = VIRTIO_MMIO_SIZE,
		.gsi = t->gsi, .level_triggered = 1,
	};
	snprintf(a.name, sizeof(a.name), "VR%02u", slot);
	if (acpi_dsdt_add_device(&a) < 0) {
		fprintf(stderr, "runvm: no room in the DSDT for %s\n", d->name);
		goto fail;
	}
	if (device_register(&vm->mmio, t->base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, t, d->name) < 0)
		goto fail;
	ioevent_setup(t);
	return t;
fail:
	destroy_device(d);
	free(t);
	return NULL;
}

void virtio_mmio_reset(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->dev->lock);
	virtio_dev_reset(t->dev);
	t->ioevent_registered = 0;
	t->device_features_sel = t->driver_features_sel = t->queue_sel = t->shm_sel = 0;
	pthread_mutex_unlock(&t->dev->lock);
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	ioevent_fini(t);
	destroy_device(t->dev);
	free(t);
}

/* --- The device table entry ---------------------------------------------------- */

struct virtio_devices {
	unsigned n;
	struct virtio_mmio *t[VIRTIO_MMIO_MAX];
};

static int virtio_wanted(const struct vm *vm)
{
	const struct config *c = vm->cfg;
	return c->n_disks || c->n_nets || c->rng || c->console2;
}

static int add_device(struct virtio_devices *v, struct vm *vm, struct virtio_dev *d)
{
	if (!d)
		return -1;
	struct virtio_mmio *t = virtio_mmio_create(vm, d, v->n);
	if (!t)
		return -1;
	v->t[v->n++] = t;
	return 0;
}

static void virtio_devices_destroy(void *opaque)
{
	struct virtio_devices *v = opaque;
	for (unsigned i = v->n; i-- > 0;)
		virtio_mmio_destroy(v->t[i]);
	free(v);
}

static void *virtio_devices_init(struct vm *vm)
{
	const struct config *c = vm->cfg;
	struct virtio_devices *v = calloc(1, sizeof(*v));
	if (!v) {
		fprintf(stderr, "runvm: out of memory for virtio devices\n");
		return NULL;
	}
	int r = 0;
	for (int i = 0; i < c->n_disks && r == 0; i++)
		r = add_device(v, vm, virtio_blk_create(vm, &c->disks[i], (unsigned)i));
	for (int i = 0; i < c->n_nets && r == 0; i++)
		r = add_device(v, vm, virtio_net_create(vm, &c->nets[i], (unsigned)i));
	if (c->console2 && r == 0)
		r = add_device(v, vm, virtio_console_create(vm, c->console2));
	if (c->rng && r == 0)
		r = add_device(v, vm, virtio_rng_create(vm));
	if (r < 0) {
		virtio_devices_destroy(v);
		return NULL;
	}
	return v;
}

static void virtio_devices_reset(void *opaque)
{
	struct virtio_devices *v = opaque;
	for (unsigned i = 0; i < v->n; i++)
		virtio_mmio_reset(v->t[i]);
}

const struct device_type virtio_device = {
	.name = "virtio",
	.wanted = virtio_wanted,
	.init = virtio_devices_init,
	.reset = virtio_devices_reset,
	.destroy = virtio_devices_destroy,
};
