/*
 * Shared by the hostile guests: a fixed-seed random generator (so a
 * failure replays), and the few register writes that would end the run
 * on purpose (power-off, reset, the debug-exit port, INIT to this CPU),
 * which the storms leave out: those are the guest's right, not an attack,
 * and a storm that hit one would just stop early.
 */
#ifndef GUEST_HOSTILE_H
#define GUEST_HOSTILE_H

#include "guest.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static inline uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static inline unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/*
 * Whether a port write of `size` bytes of `value` at `port` stays clear of
 * the ports that end or reset the machine: the debug-exit port, ACPI
 * SLP_EN and the reset register, the i8042's reset pulses and output port
 * write, port A and the PCI reset control.
 */
static inline int port_write_is_harmless(uint16_t port, unsigned size, uint32_t value)
{
	for (unsigned i = 0; i < size; i++) {
		unsigned p = port + i;
		uint8_t b = (uint8_t)(value >> (8 * i));
		if ((p >= DEBUG_EXIT && p < DEBUG_EXIT + 4) || p == 0x92 || p == 0xcf9)
			return 0;
		if (p == 0x605 && (b & 0x20))           /* PM1 control: SLP_EN */
			return 0;
		if (p == 0x60c && b == 0x0e)            /* ACPI reset value */
			return 0;
		if (p == 0x64 && (b >= 0xf0 || b == 0xd1))
			return 0;
	}
	return 1;
}

/* An APIC delivery mode (bits 10:8) other than fixed or NMI becomes fixed: no INIT, SMI or ExtINT. */
static inline uint32_t apic_mode_harmless(uint32_t v)
{
	unsigned mode = (v >> 8) & 7;
	return mode == 0 || mode == 4 ? v : v & ~0x700u;
}

/* The UART back to plain 8N1 output (a storm may have left it in loopback). */
static inline void serial_reset(void)
{
	outb(COM1 + 3, 0x03);           /* LCR: 8N1, DLAB off */
	outb(COM1 + 1, 0x00);           /* IER: no interrupts */
	outb(COM1 + 4, 0x03);           /* MCR: DTR, RTS; loopback off */
}

#endif
