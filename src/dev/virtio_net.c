/*
 * virtio-net (virtio 1.x, section 5.1) on a TAP device.
 *
 * One receive queue (0) and one transmit queue (1); no control queue.
 * Offered: the MAC address and the link status in the configuration space.
 * No checksum or segmentation offloads: every frame is a plain Ethernet
 * frame of at most the MTU, so a receive buffer always holds a whole frame
 * and VIRTIO_NET_F_MRG_RXBUF is not needed.
 *
 * The TAP is opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and a 12-byte
 * vnet header (TUNSETVNETHDRSZ), the size of struct virtio_net_hdr_v1, so
 * frames move between the TAP and guest memory with one readv/writev and
 * no copy. The header itself always goes through a copy of our own: on
 * transmit a zeroed one replaces the guest's (which could only ask for
 * offloads we did not offer), on receive the guest gets a zeroed one with
 * num_buffers = 1.
 *
 * Both directions run on the device's thread; a notification only wakes it,
 * so vCPU threads make no system call but that (their seccomp list stays
 * short). Transmit: the TAP takes a frame without blocking or drops it, as
 * a congested wire would. Receive: the thread polls the TAP while the guest
 * has receive buffers and waits for a notification while it has none;
 * frames wait in the TAP's queue meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../vmm/config.h"
#include "virtio_mmio.h"

#define NET_QUEUE_SIZE       256
#define NET_RX               0
#define NET_TX               1
#define NET_HDR_LEN          12          /* struct virtio_net_hdr_v1 */
#define NET_NUM_BUFFERS_OFF  10
#define NET_MAX_FRAME        65535       /* the most a TAP takes */
#define NET_RX_BATCH         64          /* frames per wake-up before the interrupt */

#define VIRTIO_NET_F_MAC     5
#define VIRTIO_NET_F_STATUS  16
#define VIRTIO_NET_S_LINK_UP 1

#define CFG_MAC              0
#define CFG_STATUS           6
#define CFG_LEN              12

struct virtio_net {
	struct virtio_dev dev;          /* first: the core's pointer is ours */
	int fd;                         /* the TAP, non-blocking */
	int kick_fd;                    /* eventfd: the driver notified a queue */
	int stop_fd;
	pthread_t thread;
	int thread_started;
	/* Under dev.lock: */
	int rx_wait_buffers;            /* the thread waits for a kick, not for frames */
	struct virtq_req rx_req, tx_req;
	uint64_t tx_dropped;
};

/* --- Transmit (device thread, lock held) ------------------------------------------ */

static void net_send(struct virtio_net *n, const struct virtq_req *r)
{
	uint8_t hdr[NET_HDR_LEN] = { 0 };
	struct iovec iov[VIRTQ_SEG_MAX + 1] = { { .iov_base = hdr, .iov_len = sizeof(hdr) } };
	if (r->out_len < NET_HDR_LEN || r->out_len - NET_HDR_LEN > NET_MAX_FRAME) {
		n->tx_dropped++;
		return;
	}
	int k = iov_range(r->iov, r->n_out, NET_HDR_LEN, r->out_len - NET_HDR_LEN, iov + 1, VIRTQ_SEG_MAX);
	if (k < 0 || writev(n->fd, iov, k + 1) < 0)
		n->tx_dropped++;
}

static void net_tx(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	int pushed = 0;
	while (virtio_dev_pop(d, NET_TX, &n->tx_req) > 0) {
		net_send(n, &n->tx_req);
		virtq_push(&d->vq[NET_TX], n->tx_req.head, 0);
		pushed = 1;
	}
	if (pushed)
		virtio_dev_interrupt(d, NET_TX);
}

static void net_queue_notify(struct virtio_dev *d, unsigned q)
{
	(void)q;
	virtio_event_signal(((struct virtio_net *)d)->kick_fd);
}

/* --- Receive (device thread, lock held) ------------------------------------------ */

/*
 * Reads one frame into the chain. Returns the bytes written (header
 * included), -1 when the TAP has no frame, -2 when the chain cannot take
 * a header.
 */
static ssize_t net_recv(struct virtio_net *n, const struct virtq_req *r)
{
	const struct iovec *in = r->iov + r->n_out;
	uint8_t hdr[NET_HDR_LEN];
	struct iovec iov[VIRTQ_SEG_MAX + 1] = { { .iov_base = hdr, .iov_len = sizeof(hdr) } };
	if (r->in_len < NET_HDR_LEN)
		return -2;
	int k = iov_range(in, r->n_in, NET_HDR_LEN, r->in_len - NET_HDR_LEN, iov + 1, VIRTQ_SEG_MAX);
	if (k < 0)
		return -2;
	ssize_t len;
	while ((len = readv(n->fd, iov, k + 1)) < 0 && errno == EINTR)
		;
	if (len < 0)
		return -1;
	memset(hdr, 0, sizeof(hdr));
	hdr[NET_NUM_BUFFERS_OFF] = 1;
	iov_copy_in(in, r->n_in, 0, hdr, sizeof(hdr));
	return len < NET_HDR_LEN ? NET_HDR_LEN : len;
}

static void net_rx(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	int pushed = 0;
	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < NET_RX_BATCH; i++) {
		if (virtio_dev_pop(d, NET_RX, &n->rx_req) <= 0) {
			n->rx_wait_buffers = 1;
			break;
		}
		ssize_t len = net_recv(n, &n->rx_req);
		if (len == -2) {
			virtio_dev_needs_reset(d, "queue 0: a receive buffer smaller than the header");
			break;
		}
		if (len < 0) {
			virtq_unpop(&d->vq[NET_RX]);
			break;
		}
		virtq_push(&d->vq[NET_RX], n->rx_req.head, (uint32_t)len);
		pushed = 1;
	}
	if (pushed)
		virtio_dev_interrupt(d, NET_RX);
	pthread_mutex_unlock(&d->lock);
}

static void *net_rx_thread(void *arg)
{
	struct virtio_net *n = arg;
	for (;;) {
		pthread_mutex_lock(&n->dev.lock);
		int wait_buffers = n->rx_wait_buffers;
		pthread_mutex_unlock(&n->dev.lock);
		struct pollfd p[3] = {
			{ .fd = wait_buffers ? -1 : n->fd, .events = POLLIN },
			{ .fd = n->kick_fd, .events = POLLIN },
			{ .fd = n->stop_fd, .events = POLLIN },
		};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[2].revents)
			break;
		if (p[1].revents) {
			/* Either queue: send what is queued, look for receive buffers again. */
			virtio_event_drain(n->kick_fd);
			pthread_mutex_lock(&n->dev.lock);
			n->rx_wait_buffers = 0;
			net_tx(n);
			pthread_mutex_unlock(&n->dev.lock);
		}
		if (p[0].revents & (POLLERR | POLLNVAL))
			break;          /* the TAP went away: the link is just dead */
		if (p[0].revents)
			net_rx(n);
	}
	return NULL;
}

/* --- Life cycle ---------------------------------------------------------------- */

/* Nothing runs outside the lock: after a reset, wait for buffers again. */
static void net_reset(struct virtio_dev *d)
{
	((struct virtio_net *)d)->rx_wait_buffers = 1;
}

static void net_destroy(struct virtio_dev *d)
{
	struct virtio_net *n = (struct virtio_net *)d;
	if (n->thread_started) {
		virtio_event_signal(n->stop_fd);
		pthread_join(n->thread, NULL);
	}
	if (n->fd >= 0)
		close(n->fd);
	if (n->kick_fd >= 0)
		close(n->kick_fd);
	if (n->stop_fd >= 0)
		close(n->stop_fd);
	virtio_dev_fini(d);
	free(n);
}

static const struct virtio_dev_ops net_dev_ops = {
	.queue_notify = net_queue_notify,
	.reset = net_reset,
	.destroy = net_destroy,
};

/* Opens TAP device name with a virtio_net_hdr_v1-sized vnet header; -1 with a message. */
static int tap_open(const char *name)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "runvm: --net tap=%s: cannot open /dev/net/tun: %m\n", name);
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int hdr_len = NET_HDR_LEN;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		fprintf(stderr, "runvm: --net tap=%s: %s\n", name,
			e == EPERM ? "no permission to use this TAP device (it needs CAP_NET_ADMIN, "
				     "or a persistent TAP owned by this user)"
			: e == EBUSY ? "the TAP device is in use by another process"
			: strerror(e));
		close(fd);
		return -1;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0 || ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		fprintf(stderr, "runvm: --net tap=%s: cannot set up the vnet header: %m\n", name);
		close(fd);
		return -1;
	}
	return fd;
}

struct virtio_dev *virtio_net_create_fd(struct vm *vm, int fd, const uint8_t mac[6], unsigned index)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n) {
		fprintf(stderr, "runvm: out of memory for virtio-net\n");
		close(fd);
		return NULL;
	}
	char name[32];
	snprintf(name, sizeof(name), "virtio-net %u", index);
	virtio_dev_init(&n->dev, vm, name, VIRTIO_ID_NET, &net_dev_ops, 2, NET_QUEUE_SIZE,
			(1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS), CFG_LEN);
	for (int i = 0; i < 6; i++)
		virtio_config_put(&n->dev, CFG_MAC + i, mac[i], 1);
	virtio_config_put(&n->dev, CFG_STATUS, VIRTIO_NET_S_LINK_UP, 2);
	n->fd = fd;
	n->rx_wait_buffers = 1;
	n->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->kick_fd < 0 || n->stop_fd < 0) {
		fprintf(stderr, "runvm: %s: eventfd: %m\n", name);
		net_destroy(&n->dev);
		return NULL;
	}
	char tname[16];
	snprintf(tname, sizeof(tname), "virtio-net%u", index);
	if (virtio_thread_start(&n->thread, net_rx_thread, n, tname) < 0) {
		net_destroy(&n->dev);
		return NULL;
	}
	n->thread_started = 1;
	return &n->dev;
}

struct virtio_dev *virtio_net_create(struct vm *vm, const struct config_net *cfg, unsigned index)
{
	/* QEMU's default address, one per card: locally administered, unicast. */
	uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + index) };
	if (cfg->has_mac)
		memcpy(mac, cfg->mac, sizeof(mac));
	int fd = tap_open(cfg->tap);
	if (fd < 0)
		return NULL;
	return virtio_net_create_fd(vm, fd, mac, index);
}
