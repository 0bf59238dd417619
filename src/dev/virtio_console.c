/*
 * virtio-console (virtio 1.x, section 5.3): a second console port, one
 * port without the multiport feature (Linux: /dev/hvc0). Queue 0 receives
 * (host to guest), queue 1 transmits.
 *
 * Backends (--console2):
 *   FILE          output goes to FILE, created or truncated; a character
 *                 device (a tty, a pty) is opened read-write and gives
 *                 input too; a FIFO gets output only.
 *   socket:PATH   runvm listens on a unix stream socket at PATH; the last
 *                 client to connect gets the output and gives the input.
 *                 Output while nobody is connected is dropped, as on a
 *                 serial line nobody listens to.
 *
 * Both directions run on the device's thread; a notification only wakes it.
 * Transmit never blocks: when the backend cannot take more, the chain goes
 * back to the ring with the number of its bytes already written, and the
 * thread goes on when the backend is writable again. At most CON_TX_MAX
 * bytes of one chain are written. Receive: the thread reads input while
 * the guest has receive buffers.
 *
 * Transmit interrupts are decided late, not when the chains are used.
 * Linux's console (hvc) does not wait for them: after each kick it spins,
 * interrupts off, until its chain is used, reclaims it and moves
 * used_event (EVENT_IDX) past it. Decided at push time, an interrupt goes
 * out for every chain while the guest spins, and its handler finds nothing
 * left to reclaim (IRQ_NONE); after nearly all of 100,000 such interrupts
 * the kernel disables the line ("irq N: nobody cared"), and with it the
 * receive interrupts. Decided at the driver's next transmit kick, or
 * CON_TX_IRQ_DELAY_MS after the chains were used, virtq_need_interrupt()
 * sees the used_event written after the reclaim and sends nothing, while
 * a driver that waits for the interrupt still gets it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "virtio_mmio.h"

#define CON_QUEUE_SIZE   64
#define CON_RX           0
#define CON_TX           1
#define CON_TX_MAX       (64 * 1024)
#define CON_RX_BATCH     16
#define CON_TX_IRQ_DELAY_MS 1           /* for a spinning driver to reclaim its chains */
#define CON_CFG_LEN      12             /* cols, rows, max_nr_ports, emerg_wr: unused */
#define SOCKET_PREFIX    "socket:"

struct virtio_console {
	struct virtio_dev dev;          /* first: the core's pointer is ours */
	int listen_fd;                  /* socket mode, else -1 */
	char *socket_path;              /* removed when the thread stops */
	int kick_fd;                    /* eventfd: the driver notified a queue */
	int stop_fd;
	pthread_t thread;
	int thread_started;
	/* Under dev.lock: */
	int in_fd, out_fd;              /* -1: none (in socket mode: the client, both) */
	int out_is_socket;              /* write with MSG_NOSIGNAL: a gone reader is no SIGPIPE */
	int rx_wait_buffers;
	int tx_blocked;                 /* the backend cannot take more now */
	uint64_t tx_done;               /* bytes of the first pending chain already written */
	int tx_kicked;                  /* the driver notified the transmit queue */
	int tx_irq_pending;             /* chains used since the last interrupt decision */
	uint64_t tx_irq_at;             /* when to decide at the latest (device_clock_ns) */
	struct virtq_req rx_req, tx_req;
};

static void con_close_fds(struct virtio_console *c)
{
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0 && c->out_fd != c->in_fd)
		close(c->out_fd);
	c->in_fd = c->out_fd = -1;
	c->tx_blocked = 0;
	c->tx_done = 0;
}

/* --- Transmit (lock held) ----------------------------------------------------------- */

/* Writes the rest of a chain; 1 when it is done with (written or dropped), 0 when the backend is full. */
static int con_write(struct virtio_console *c, const struct virtq_req *r)
{
	uint64_t len = r->out_len < CON_TX_MAX ? r->out_len : CON_TX_MAX;
	while (c->out_fd >= 0 && c->tx_done < len) {
		struct iovec iov[VIRTQ_SEG_MAX];
		int k = iov_range(r->iov, r->n_out, c->tx_done, len - c->tx_done, iov, VIRTQ_SEG_MAX);
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)k };
		ssize_t w = c->out_is_socket ? sendmsg(c->out_fd, &m, MSG_NOSIGNAL) : writev(c->out_fd, iov, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return 0;
		if (w <= 0)
			break;          /* the reader went away: drop, the thread notices */
		c->tx_done += (uint64_t)w;
	}
	c->tx_done = 0;
	return 1;
}

/* The transmit interrupt for the chains used so far, if the driver still wants it (see the top). */
static void con_tx_irq(struct virtio_console *c)
{
	if (!c->tx_irq_pending)
		return;
	c->tx_irq_pending = 0;
	virtio_dev_interrupt(&c->dev, CON_TX);
}

static void con_tx_irq_later(struct virtio_console *c)
{
	if (c->tx_irq_pending)
		return;
	c->tx_irq_pending = 1;
	c->tx_irq_at = device_clock_ns() + CON_TX_IRQ_DELAY_MS * 1000000ULL;
}

static void con_tx(struct virtio_console *c)
{
	struct virtio_dev *d = &c->dev;
	int pushed = 0;
	while (!c->tx_blocked && virtio_dev_pop(d, CON_TX, &c->tx_req) > 0) {
		if (!con_write(c, &c->tx_req)) {
			virtq_unpop(&d->vq[CON_TX]);
			c->tx_blocked = 1;
			break;
		}
		virtq_push(&d->vq[CON_TX], c->tx_req.head, 0);
		pushed = 1;
	}
	if (pushed)
		con_tx_irq_later(c);
}

static void con_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_console *c = (struct virtio_console *)d;
	if (q == CON_TX)
		c->tx_kicked = 1;
	virtio_event_signal(c->kick_fd);
}

/* --- Receive and the device thread ------------------------------------------------ */

/* The input ended or failed: a socket client is gone; other input just stops. */
static void con_input_ended(struct virtio_console *c)
{
	if (c->listen_fd >= 0) {
		con_close_fds(c);
	} else {
		if (c->in_fd != c->out_fd)
			close(c->in_fd);
		c->in_fd = -1;
	}
}

static void con_rx(struct virtio_console *c)
{
	struct virtio_dev *d = &c->dev;
	int pushed = 0;
	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < CON_RX_BATCH && c->in_fd >= 0; i++) {
		if (virtio_dev_pop(d, CON_RX, &c->rx_req) <= 0) {
			c->rx_wait_buffers = 1;
			break;
		}
		const struct virtq_req *r = &c->rx_req;
		ssize_t n = 0;
		if (r->n_in) {
			while ((n = readv(c->in_fd, r->iov + r->n_out, (int)r->n_in)) < 0 && errno == EINTR)
				;
			if (n <= 0) {
				virtq_unpop(&d->vq[CON_RX]);
				if (n == 0 || errno != EAGAIN)
					con_input_ended(c);
				break;
			}
		}
		virtq_push(&d->vq[CON_RX], r->head, (uint32_t)n);
		pushed = 1;
	}
	if (pushed)
		virtio_dev_interrupt(d, CON_RX);
	pthread_mutex_unlock(&d->lock);
}

/* A new client replaces the old one. */
static void con_accept(struct virtio_console *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	pthread_mutex_lock(&c->dev.lock);
	con_close_fds(c);
	c->in_fd = c->out_fd = fd;
	c->out_is_socket = 1;
	c->rx_wait_buffers = 0;
	pthread_mutex_unlock(&c->dev.lock);
}

static void con_writable(struct virtio_console *c, short revents)
{
	pthread_mutex_lock(&c->dev.lock);
	if (revents & (POLLERR | POLLHUP | POLLNVAL))
		con_input_ended(c);
	c->tx_blocked = 0;
	if (virtio_dev_running(&c->dev))
		con_tx(c);
	pthread_mutex_unlock(&c->dev.lock);
}

/* Milliseconds until the transmit interrupt is due, for poll(); -1: none pending. */
static int con_tx_irq_wait(struct virtio_console *c)
{
	if (!c->tx_irq_pending)
		return -1;
	uint64_t now = device_clock_ns();
	return now >= c->tx_irq_at ? 0 : (int)((c->tx_irq_at - now + 999999) / 1000000);
}

static void con_tx_irq_if_due(struct virtio_console *c)
{
	pthread_mutex_lock(&c->dev.lock);
	if (c->tx_irq_pending && device_clock_ns() >= c->tx_irq_at)
		con_tx_irq(c);
	pthread_mutex_unlock(&c->dev.lock);
}

static void con_kicked(struct virtio_console *c)
{
	virtio_event_drain(c->kick_fd);
	pthread_mutex_lock(&c->dev.lock);
	c->rx_wait_buffers = 0;
	/* A driver that sends more is done waiting for its earlier chains: decide now. */
	if (c->tx_kicked)
		con_tx_irq(c);
	c->tx_kicked = 0;
	if (virtio_dev_running(&c->dev))
		con_tx(c);
	pthread_mutex_unlock(&c->dev.lock);
}

enum { P_LISTEN, P_IN, P_OUT, P_KICK, P_STOP, P_N };

static void *con_thread(void *arg)
{
	struct virtio_console *c = arg;
	for (;;) {
		struct pollfd p[P_N];
		pthread_mutex_lock(&c->dev.lock);
		p[P_LISTEN] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
		p[P_IN] = (struct pollfd){ .fd = c->rx_wait_buffers ? -1 : c->in_fd, .events = POLLIN };
		p[P_OUT] = (struct pollfd){ .fd = c->tx_blocked ? c->out_fd : -1, .events = POLLOUT };
		int timeout = con_tx_irq_wait(c);
		pthread_mutex_unlock(&c->dev.lock);
		p[P_KICK] = (struct pollfd){ .fd = c->kick_fd, .events = POLLIN };
		p[P_STOP] = (struct pollfd){ .fd = c->stop_fd, .events = POLLIN };
		if (poll(p, P_N, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[P_STOP].revents)
			break;
		if (p[P_KICK].revents)
			con_kicked(c);
		if (p[P_LISTEN].revents)
			con_accept(c);
		else if (p[P_OUT].revents)
			con_writable(c, p[P_OUT].revents);
		else if (p[P_IN].revents)
			con_rx(c);
		con_tx_irq_if_due(c);
	}
	/* The socket file goes with us (here: the main thread's system calls are few). */
	if (c->socket_path)
		unlink(c->socket_path);
	return NULL;
}

/* --- Life cycle ------------------------------------------------------------------- */

static void con_reset(struct virtio_dev *d)
{
	struct virtio_console *c = (struct virtio_console *)d;
	c->rx_wait_buffers = 1;
	c->tx_blocked = 0;
	c->tx_done = 0;
	c->tx_kicked = 0;
	c->tx_irq_pending = 0;
}

static void con_destroy(struct virtio_dev *d)
{
	struct virtio_console *c = (struct virtio_console *)d;
	if (c->thread_started) {
		virtio_event_signal(c->stop_fd);
		pthread_join(c->thread, NULL);
	}
	con_close_fds(c);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->socket_path && !c->thread_started)
		unlink(c->socket_path);
	free(c->socket_path);
	if (c->kick_fd >= 0)
		close(c->kick_fd);
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	virtio_dev_fini(d);
	free(c);
}

static const struct virtio_dev_ops con_dev_ops = {
	.queue_notify = con_queue_notify,
	.reset = con_reset,
	.destroy = con_destroy,
};

static struct virtio_console *con_new(struct vm *vm)
{
	struct virtio_console *c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "runvm: out of memory for virtio-console\n");
		return NULL;
	}
	virtio_dev_init(&c->dev, vm, "virtio-console", VIRTIO_ID_CONSOLE, &con_dev_ops, 2,
			CON_QUEUE_SIZE, 0, CON_CFG_LEN);
	c->listen_fd = c->in_fd = c->out_fd = -1;
	c->rx_wait_buffers = 1;
	c->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->kick_fd < 0 || c->stop_fd < 0) {
		fprintf(stderr, "runvm: virtio-console: eventfd: %m\n");
		con_destroy(&c->dev);
		return NULL;
	}
	return c;
}

static struct virtio_dev *con_start(struct virtio_console *c)
{
	if (virtio_thread_start(&c->thread, con_thread, c, "virtio-console") < 0) {
		con_destroy(&c->dev);
		return NULL;
	}
	c->thread_started = 1;
	return &c->dev;
}

/* Listens on a unix socket at path (replacing a stale socket); -1 with a message. */
static int con_listen(struct virtio_console *c, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "runvm: --console2 socket:%s: the path is too long for a socket\n", path);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "runvm: --console2 socket:%s: exists and is not a socket\n", path);
			return -1;
		}
		unlink(path);
	}
	strcpy(a.sun_path, path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "runvm: --console2 socket:%s: %m\n", path);
		return -1;
	}
	c->socket_path = strdup(path);
	if (!c->socket_path || listen(c->listen_fd, 1) < 0) {
		fprintf(stderr, "runvm: --console2 socket:%s: %m\n", path);
		unlink(path);
		return -1;
	}
	return 0;
}

/* Opens FILE for output, and for input too when it is a character device. */
static int con_open_file(struct virtio_console *c, const char *path)
{
	struct stat st;
	int exists = stat(path, &st) == 0;
	int fd;
	if (exists && S_ISCHR(st.st_mode)) {
		fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		c->in_fd = fd;
	} else if (exists && S_ISFIFO(st.st_mode)) {
		/* Read-write so that opening does not wait for a reader; never read. */
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	} else if (!exists || S_ISREG(st.st_mode)) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	} else {
		fprintf(stderr, "runvm: --console2 %s: not a file, FIFO or character device\n", path);
		return -1;
	}
	if (fd < 0) {
		fprintf(stderr, "runvm: --console2 %s: %m\n", path);
		c->in_fd = -1;
		return -1;
	}
	c->out_fd = fd;
	return 0;
}

struct virtio_dev *virtio_console_create(struct vm *vm, const char *spec)
{
	struct virtio_console *c = con_new(vm);
	if (!c)
		return NULL;
	size_t plen = strlen(SOCKET_PREFIX);
	int r = strncmp(spec, SOCKET_PREFIX, plen) == 0 ? con_listen(c, spec + plen)
							 : con_open_file(c, spec);
	if (r < 0) {
		con_destroy(&c->dev);
		return NULL;
	}
	return con_start(c);
}

struct virtio_dev *virtio_console_create_fds(struct vm *vm, int in_fd, int out_fd)
{
	struct virtio_console *c = con_new(vm);
	if (!c) {
		if (in_fd >= 0)
			close(in_fd);
		if (out_fd >= 0 && out_fd != in_fd)
			close(out_fd);
		return NULL;
	}
	struct stat st;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->out_is_socket = out_fd >= 0 && fstat(out_fd, &st) == 0 && S_ISSOCK(st.st_mode);
	return con_start(c);
}
