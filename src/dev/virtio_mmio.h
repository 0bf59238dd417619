/*
 * The virtio-mmio transport and the virtio devices it carries.
 *
 * virtio_device (the entry in the device table) creates one transport per
 * device the command line asks for: the --disk images first (vda, vdb, ...
 * in the guest), then the --net cards, the --console2 port and virtio-rng.
 */
#ifndef RUNVM_VIRTIO_MMIO_H
#define RUNVM_VIRTIO_MMIO_H

#include <stdint.h>

#include "device.h"
#include "virtio.h"

struct config_disk;
struct config_net;

extern const struct device_type virtio_device;

struct virtio_mmio;

/*
 * Puts device d on transport slot `slot`: its register page at
 * VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_STRIDE, its interrupt line and its
 * DSDT entry. On failure the device is destroyed and NULL returned.
 */
struct virtio_mmio *virtio_mmio_create(struct vm *vm, struct virtio_dev *d, unsigned slot);
/* Destroys the transport and its device. */
void virtio_mmio_destroy(struct virtio_mmio *t);
/* The device's reset, as on a guest reboot. */
void virtio_mmio_reset(struct virtio_mmio *t);

/* The register interface (bus ops), for tests and fuzzers. */
uint64_t virtio_mmio_read(void *opaque, uint64_t offset, unsigned size);
void virtio_mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);
int virtio_mmio_irq_level(struct virtio_mmio *t);
int virtio_mmio_gsi(const struct virtio_mmio *t);
struct virtio_dev *virtio_mmio_dev(struct virtio_mmio *t);

/* Register offsets (virtio 1.x, section 4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE          0x000
#define VIRTIO_MMIO_VERSION              0x004
#define VIRTIO_MMIO_DEVICE_ID            0x008
#define VIRTIO_MMIO_VENDOR_ID            0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES      0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL  0x014
#define VIRTIO_MMIO_DRIVER_FEATURES      0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL  0x024
#define VIRTIO_MMIO_QUEUE_SEL            0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX        0x034
#define VIRTIO_MMIO_QUEUE_NUM            0x038
#define VIRTIO_MMIO_QUEUE_READY          0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY         0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS     0x060
#define VIRTIO_MMIO_INTERRUPT_ACK        0x064
#define VIRTIO_MMIO_STATUS               0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW       0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH      0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW     0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH    0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW     0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH    0x0a4
#define VIRTIO_MMIO_SHM_SEL              0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW          0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH         0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW         0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH        0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION    0x0fc
#define VIRTIO_MMIO_CONFIG               0x100

#define VIRTIO_MMIO_MAGIC                0x74726976      /* "virt" */

/* --- The device types (each in its own file) ------------------------------ */

/* virtio-blk on a raw image; index names it (vda, vdb, ...). NULL with a message. */
struct virtio_dev *virtio_blk_create(struct vm *vm, const struct config_disk *disk, unsigned index);
/* virtio-net on TAP device cfg->tap. */
struct virtio_dev *virtio_net_create(struct vm *vm, const struct config_net *cfg, unsigned index);
/*
 * virtio-net on an open packet descriptor that behaves like a TAP with
 * IFF_VNET_HDR and a 12-byte header (tests use a datagram socket pair).
 * Takes fd over.
 */
struct virtio_dev *virtio_net_create_fd(struct vm *vm, int fd, const uint8_t mac[6], unsigned index);
/* virtio-rng from getrandom(). */
struct virtio_dev *virtio_rng_create(struct vm *vm);
/* virtio-console on FILE or socket:PATH (the --console2 syntax). */
struct virtio_dev *virtio_console_create(struct vm *vm, const char *spec);
/* virtio-console on open descriptors (in_fd may be -1); takes them over. */
struct virtio_dev *virtio_console_create_fds(struct vm *vm, int in_fd, int out_fd);

#endif
