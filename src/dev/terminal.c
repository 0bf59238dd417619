/*
 * The terminal in raw mode, and putting it back on every way out: a normal
 * exit (atexit), a crash or abort (fatal-signal handlers that chain to the
 * handlers installed before, e.g. the sanitizers'), and serial_destroy().
 * SIGINT and SIGTERM stop the VM through main(), which then destroys the
 * devices.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <termios.h>

#include "terminal.h"

static struct termios saved_termios;
static int saved_fd = -1;
static atomic_int terminal_raw;

void terminal_restore(void)
{
	if (atomic_exchange(&terminal_raw, 0))
		tcsetattr(saved_fd, TCSANOW, &saved_termios);
}

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
#define N_FATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))
static struct sigaction fatal_old[N_FATAL];

/* Restores the terminal, then lets the handler that was there before act. */
static void on_fatal_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	terminal_restore();
	for (size_t i = 0; i < N_FATAL; i++)
		if (fatal_signals[i] == sig)
			sigaction(sig, &fatal_old[i], NULL);
	/* A fault recurs when the instruction restarts; a sent signal must be re-sent. */
	if (si->si_code <= 0)
		raise(sig);
}

static void install_guards(void)
{
	static int installed;
	if (installed)
		return;
	installed = 1;
	atexit(terminal_restore);
	struct sigaction sa = { .sa_sigaction = on_fatal_signal, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_FATAL; i++)
		sigaction(fatal_signals[i], &sa, &fatal_old[i]);
}

/*
 * Raw mode: every key goes to the guest (Ctrl-C included), no echo, no
 * line editing. Output processing stays on so bare newlines stay readable.
 */
int terminal_enter_raw(int fd)
{
	struct termios t;
	if (atomic_load(&terminal_raw)) {
		errno = EBUSY;
		return -1;
	}
	if (tcgetattr(fd, &t) < 0)
		return -1;
	saved_termios = t;
	saved_fd = fd;
	t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_oflag |= OPOST | ONLCR;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	install_guards();
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return -1;
	atomic_store(&terminal_raw, 1);
	return 0;
}
