/*
 * A 16550A UART on COM1, bound to runvm's terminal.
 *
 * Output goes straight to out_fd, so the transmitter is always empty:
 * THRE and TEMT always read 1 and every THR write is followed by a
 * THR-empty interrupt. Input is read by a thread of its own into the
 * 16-byte receive FIFO; when the FIFO is full the thread stops reading
 * until the guest drains it, so input piped into a guest is never lost.
 *
 * As on a PC, the interrupt reaches the interrupt controller only while
 * MCR.OUT2 is set. The line is driven as a level: high while an enabled
 * interrupt is pending.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../vmm/seccomp.h"
#include "../vmm/vm.h"
#include "device.h"
#include "devices.h"
#include "serial.h"
#include "terminal.h"

#define FIFO_SIZE  16
#define N_REGS     8

#define IER_RDI    0x01         /* received data available */
#define IER_THRI   0x02         /* transmitter holding register empty */
#define IER_RLSI   0x04         /* receiver line status */
#define IER_MSI    0x08         /* modem status */

#define IIR_NONE   0x01
#define IIR_MSI    0x00
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_RLSI   0x06
#define IIR_CTI    0x0c         /* character timeout */
#define IIR_FIFO   0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_KEEP     0xc9       /* enable, DMA mode, trigger level */

#define LCR_DLAB   0x80

#define MCR_DTR    0x01
#define MCR_RTS    0x02
#define MCR_OUT1   0x04
#define MCR_OUT2   0x08
#define MCR_LOOP   0x10

#define LSR_DR     0x01
#define LSR_OE     0x02
#define LSR_THRE   0x20
#define LSR_TEMT   0x40

#define MSR_TERI   0x04
#define MSR_CTS    0x10
#define MSR_DSR    0x20
#define MSR_RI     0x40
#define MSR_DCD    0x80

#define CTRL_A     0x01

struct serial {
	struct vm *vm;
	pthread_mutex_t *lock;          /* the port-I/O bus lock guards all below */
	int in_fd, out_fd;

	uint8_t ier, lcr, mcr, fcr, scr, dll, dlm;
	uint8_t lsr_errors;             /* error bits not yet read from the LSR */
	uint8_t msr_delta;              /* change bits not yet read from the MSR */
	uint8_t rx[FIFO_SIZE];
	unsigned rx_head, rx_count;
	int thre_pending;               /* THR-empty interrupt latched */
	int irq_level;

	pthread_t thread;
	int thread_started;
	int stop_fd;                    /* eventfd: wakes the input thread to stop */
	int stopping;
	pthread_cond_t rx_space;        /* signalled when input may be accepted */
	int owns_terminal;              /* in_fd is the terminal we put in raw mode */
	int escape;                     /* Ctrl-A seen */
};

/* --- Receive FIFO and interrupt state ------------------------------------ */

static unsigned rx_capacity(const struct serial *s)
{
	return (s->fcr & FCR_ENABLE) ? FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct serial *s)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };
	return (s->fcr & FCR_ENABLE) ? levels[s->fcr >> 6] : 1;
}

static int rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_count >= rx_capacity(s))
		return -1;
	s->rx[(s->rx_head + s->rx_count) % FIFO_SIZE] = c;
	s->rx_count++;
	return 0;
}

static uint8_t rx_pop(struct serial *s)
{
	if (s->rx_count == 0)
		return 0;
	uint8_t c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % FIFO_SIZE;
	s->rx_count--;
	return c;
}

static void rx_clear(struct serial *s)
{
	s->rx_head = s->rx_count = 0;
}

/* The pending interrupt of highest priority, as the IIR reports it. */
static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
	if ((s->ier & IER_RLSI) && s->lsr_errors)
		return fifo | IIR_RLSI;
	/* No timer models the character timeout: it is reported at once. */
	if ((s->ier & IER_RDI) && s->rx_count)
		return fifo | (s->rx_count >= rx_trigger(s) ? IIR_RDI : IIR_CTI);
	if ((s->ier & IER_THRI) && s->thre_pending)
		return fifo | IIR_THRI;
	if ((s->ier & IER_MSI) && s->msr_delta)
		return fifo | IIR_MSI;
	return fifo | IIR_NONE;
}

static void serial_update_irq(struct serial *s)
{
	int level = !(serial_iir(s) & IIR_NONE) && (s->mcr & MCR_OUT2);
	if (level != s->irq_level) {
		s->irq_level = level;
		vm_irq_line(s->vm, COM1_IRQ, level);
	}
}

/* The modem input lines: wired to the MCR outputs in loopback mode. */
static uint8_t modem_lines(const struct serial *s)
{
	uint8_t m = s->mcr;
	if (!(m & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	return (m & MCR_DTR ? MSR_DSR : 0) | (m & MCR_RTS ? MSR_CTS : 0) |
	       (m & MCR_OUT1 ? MSR_RI : 0) | (m & MCR_OUT2 ? MSR_DCD : 0);
}

static void serial_output(struct serial *s, uint8_t c)
{
	while (write(s->out_fd, &c, 1) < 0 && errno == EINTR)
		;
}

/* --- Registers ------------------------------------------------------------ */

static uint8_t read_rbr(struct serial *s)
{
	return (s->lcr & LCR_DLAB) ? s->dll : rx_pop(s);
}

static uint8_t read_ier(struct serial *s)
{
	return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
}

static uint8_t read_iir(struct serial *s)
{
	uint8_t iir = serial_iir(s);
	/* Reading the IIR acknowledges a THR-empty interrupt it reports. */
	if ((iir & 0x0f) == IIR_THRI)
		s->thre_pending = 0;
	return iir;
}

static uint8_t read_lcr(struct serial *s) { return s->lcr; }
static uint8_t read_mcr(struct serial *s) { return s->mcr; }
static uint8_t read_scr(struct serial *s) { return s->scr; }

static uint8_t read_lsr(struct serial *s)
{
	uint8_t v = LSR_THRE | LSR_TEMT | s->lsr_errors | (s->rx_count ? LSR_DR : 0);
	s->lsr_errors = 0;
	return v;
}

static uint8_t read_msr(struct serial *s)
{
	uint8_t v = modem_lines(s) | s->msr_delta;
	s->msr_delta = 0;
	return v;
}

static void write_thr(struct serial *s, uint8_t v)
{
	if (s->lcr & LCR_DLAB) {
		s->dll = v;
		return;
	}
	/*
	 * Writing the THR clears its interrupt; the byte leaves at once and
	 * raises it again. The line drops in between, so an edge-triggered
	 * controller sees a new interrupt even if the guest never read the IIR.
	 */
	s->thre_pending = 0;
	serial_update_irq(s);
	if (!(s->mcr & MCR_LOOP))
		serial_output(s, v);
	else if (rx_push(s, v) < 0)
		s->lsr_errors |= LSR_OE;
	/* Sent at once: the THR is empty again. */
	s->thre_pending = 1;
}

static void write_ier(struct serial *s, uint8_t v)
{
	if (s->lcr & LCR_DLAB) {
		s->dlm = v;
		return;
	}
	/* Enabling the THR-empty interrupt while the THR is empty raises it. */
	if ((v & IER_THRI) && !(s->ier & IER_THRI))
		s->thre_pending = 1;
	s->ier = v & 0x0f;
}

static void write_fcr(struct serial *s, uint8_t v)
{
	/* Switching the FIFOs on or off empties them. */
	if (((v ^ s->fcr) & FCR_ENABLE) || (v & FCR_CLEAR_RX))
		rx_clear(s);
	/* The other bits only take effect with the FIFOs enabled. */
	s->fcr = (v & FCR_ENABLE) ? (v & FCR_KEEP) : 0;
}

static void write_lcr(struct serial *s, uint8_t v) { s->lcr = v; }
static void write_scr(struct serial *s, uint8_t v) { s->scr = v; }
static void write_ignored(struct serial *s, uint8_t v) { (void)s; (void)v; }

static void write_mcr(struct serial *s, uint8_t v)
{
	uint8_t before = modem_lines(s);
	s->mcr = v & 0x1f;
	uint8_t after = modem_lines(s);
	/* CTS, DSR and DCD changes map to their delta bits four places down. */
	s->msr_delta |= ((before ^ after) & (MSR_CTS | MSR_DSR | MSR_DCD)) >> 4;
	if ((before & MSR_RI) && !(after & MSR_RI))
		s->msr_delta |= MSR_TERI;
}

static uint8_t (*const serial_readers[N_REGS])(struct serial *) = {
	read_rbr, read_ier, read_iir, read_lcr, read_mcr, read_lsr, read_msr, read_scr,
};

static void (*const serial_writers[N_REGS])(struct serial *, uint8_t) = {
	write_thr, write_ier, write_fcr, write_lcr, write_mcr, write_ignored, write_ignored, write_scr,
};

/* After any access: the line follows the state, and the input thread may go on. */
static void serial_sync(struct serial *s)
{
	serial_update_irq(s);
	pthread_cond_broadcast(&s->rx_space);
}

static uint8_t serial_reg_read(void *dev, unsigned reg)
{
	return serial_readers[reg](dev);
}

static void serial_reg_write(void *dev, unsigned reg, uint8_t v)
{
	serial_writers[reg](dev, v);
}

static uint64_t serial_read(void *opaque, uint64_t offset, unsigned size)
{
	uint64_t v = regs_read(serial_reg_read, opaque, offset, size, N_REGS);
	serial_sync(opaque);
	return v;
}

static void serial_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	regs_write(serial_reg_write, opaque, offset, value, size, N_REGS);
	serial_sync(opaque);
}

static const struct dev_ops serial_ops = { .read = serial_read, .write = serial_write };

/* Power-on state; the caller holds the lock. */
static void serial_power_on(struct serial *s)
{
	s->ier = s->lcr = s->mcr = s->fcr = s->scr = 0;
	s->dll = 0x0c;                  /* 9600 baud */
	s->dlm = 0;
	s->lsr_errors = s->msr_delta = 0;
	s->thre_pending = 0;
	rx_clear(s);
	if (s->irq_level)
		vm_irq_line(s->vm, COM1_IRQ, 0);
	s->irq_level = 0;
}

/* --- Input: escapes and the thread ---------------------------------------- */

static void escape_help(struct serial *s);

static void escape_exit(struct serial *s)
{
	static const char msg[] = "\nrunvm: terminated\n";
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* Nothing to do: the VM stops anyway. */
	}
	vm_request_stop(s->vm, VM_STOP_EXIT, 0);
}

static const struct escape_cmd {
	char key;
	const char *help;
	void (*run)(struct serial *s);
} escape_cmds[] = {
	{ 'h', "print this help", escape_help },
	{ 'x', "exit runvm", escape_exit },
};

static void escape_help(struct serial *s)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "\n");
	for (size_t i = 0; i < sizeof(escape_cmds) / sizeof(escape_cmds[0]); i++)
		n += snprintf(buf + n, sizeof(buf) - n, "C-a %c    %s\n",
			      escape_cmds[i].key, escape_cmds[i].help);
	n += snprintf(buf + n, sizeof(buf) - n, "C-a C-a  send C-a\n");
	if (write(s->out_fd, buf, (size_t)n) < 0) {
		/* Help is best effort. */
	}
}

/* Handles the Ctrl-A escapes; returns the byte for the guest, or -1. */
static int serial_escape(struct serial *s, uint8_t c)
{
	if (!s->escape) {
		s->escape = (c == CTRL_A);
		return s->escape ? -1 : c;
	}
	s->escape = 0;
	if (c == CTRL_A)
		return c;
	for (size_t i = 0; i < sizeof(escape_cmds) / sizeof(escape_cmds[0]); i++)
		if (escape_cmds[i].key == c)
			escape_cmds[i].run(s);
	return -1;
}

/* Waits until the FIFO takes a byte from outside, then queues c; -1 when stopping. */
static int serial_receive(struct serial *s, uint8_t c)
{
	pthread_mutex_lock(s->lock);
	/* In loopback mode the receiver hears only the transmitter: input waits. */
	while (!s->stopping && ((s->mcr & MCR_LOOP) || s->rx_count >= rx_capacity(s)))
		pthread_cond_wait(&s->rx_space, s->lock);
	int stopping = s->stopping;
	if (!stopping) {
		rx_push(s, c);
		serial_update_irq(s);
	}
	pthread_mutex_unlock(s->lock);
	return stopping ? -1 : 0;
}

/* 1 when in_fd can be read (data, end of file or error), 0 to stop. */
static int serial_wait_input(struct serial *s)
{
	struct pollfd p[2] = { { .fd = s->in_fd, .events = POLLIN }, { .fd = s->stop_fd, .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (p[1].revents || (p[0].revents & POLLNVAL))
			return 0;
		if (p[0].revents)
			return 1;
	}
}

static void *serial_input_thread(void *arg)
{
	struct serial *s = arg;
	uint8_t buf[FIFO_SIZE];
	seccomp_enter_or_exit(SECCOMP_DEVICE);
	while (serial_wait_input(s)) {
		ssize_t n = read(s->in_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;          /* end of input: the guest just gets no more */
		for (ssize_t i = 0; i < n; i++) {
			int c = s->owns_terminal ? serial_escape(s, buf[i]) : buf[i];
			if (c >= 0 && serial_receive(s, (uint8_t)c) < 0)
				return NULL;
		}
	}
	return NULL;
}

/*
 * Starts the input thread with asynchronous signals blocked: they are for
 * the main thread. Faults stay unblocked so their handlers still run.
 */
static int serial_start_thread(struct serial *s)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT };
	sigset_t all, old;
	sigfillset(&all);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&all, faults[i]);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&s->thread, NULL, serial_input_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		fprintf(stderr, "runvm: cannot start the serial input thread: %s\n", strerror(r));
		return -1;
	}
	s->thread_started = 1;
	return 0;
}

/* --- Life cycle ----------------------------------------------------------- */

struct serial *serial_create(struct vm *vm, int in_fd, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));
	if (!s) {
		fprintf(stderr, "runvm: out of memory for the serial port\n");
		return NULL;
	}
	s->vm = vm;
	s->lock = &vm->pio.lock;
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	pthread_cond_init(&s->rx_space, NULL);
	serial_power_on(s);
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_fd < 0) {
		fprintf(stderr, "runvm: serial port: eventfd: %m\n");
		goto fail;
	}
	if (device_register(&vm->pio, COM1_PORT, N_REGS, &serial_ops, s, "serial") < 0)
		goto fail;
	if (isatty(in_fd)) {
		if (terminal_enter_raw(in_fd) == 0)
			s->owns_terminal = 1;
		else
			fprintf(stderr, "runvm: cannot put the terminal in raw mode: %m\n");
	}
	if (serial_start_thread(s) < 0) {
		serial_destroy(s);
		return NULL;
	}
	return s;
fail:
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_cond_destroy(&s->rx_space);
	free(s);
	return NULL;
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_lock(s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->rx_space);
	pthread_mutex_unlock(s->lock);
	uint64_t one = 1;
	if (write(s->stop_fd, &one, sizeof(one)) < 0) {
		/* An eventfd counter cannot overflow here. */
	}
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	close(s->stop_fd);
	if (s->owns_terminal)
		serial_restore_terminal();
	pthread_cond_destroy(&s->rx_space);
	free(s);
}

/* The terminal part lives in terminal.c; this is the name the rest of runvm uses. */
void serial_restore_terminal(void)
{
	terminal_restore();
}

int serial_irq_level(struct serial *s)
{
	pthread_mutex_lock(s->lock);
	int level = s->irq_level;
	pthread_mutex_unlock(s->lock);
	return level;
}

static void *serial_device_init(struct vm *vm)
{
	return serial_create(vm, STDIN_FILENO, STDOUT_FILENO);
}

/* A guest reboot: the UART starts over; the terminal and the input thread stay. */
static void serial_device_reset(void *dev)
{
	struct serial *s = dev;
	pthread_mutex_lock(s->lock);
	serial_power_on(s);
	pthread_cond_broadcast(&s->rx_space);
	pthread_mutex_unlock(s->lock);
}

static void serial_device_destroy(void *dev)
{
	serial_destroy(dev);
}

const struct device_type serial_device = {
	.name = "serial",
	.init = serial_device_init,
	.reset = serial_device_reset,
	.destroy = serial_device_destroy,
};
