/*
 * Polled output on COM1 and a small printf. Every character costs two port
 * exits (line status, data), so guests print little.
 */
#include "guest.h"

#define LSR      5
#define LSR_THRE 0x20

void serial_putc(char c)
{
	if (c == '\n')
		serial_putc('\r');
	/* Bounded: a UART that never drains must not hang the guest. */
	for (int i = 0; i < 100000 && !(inb(COM1 + LSR) & LSR_THRE); i++)
		pause();
	outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

static void put_unsigned(uint64_t v, unsigned base, int width)
{
	char buf[24];
	int n = 0;

	do {
		unsigned d;
		if (base == 16) {
			d = v & 15;
			v >>= 4;
		} else {
			/* 32-bit division only: the 32-bit build has no libgcc. */
			uint32_t w = (uint32_t)v;
			d = w % 10;
			v = w / 10;
		}
		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
	} while (v);
	while (n < width)
		buf[n++] = '0';
	while (n)
		serial_putc(buf[--n]);
}

void vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			serial_putc(*fmt);
			continue;
		}
		int width = 0, longs = 0;
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		uint64_t v;
		switch (*fmt) {
		case 's':
			serial_puts(va_arg(ap, const char *));
			break;
		case 'c':
			serial_putc((char)va_arg(ap, int));
			break;
		case 'd': {
			int32_t d = va_arg(ap, int32_t);
			if (d < 0) {
				serial_putc('-');
				d = -d;
			}
			put_unsigned((uint32_t)d, 10, width);
			break;
		}
		case 'u':
			put_unsigned(va_arg(ap, uint32_t), 10, width);
			break;
		case 'x':
			if (longs == 2 || (longs == 1 && sizeof(long) == 8))
				v = va_arg(ap, uint64_t);
			else if (longs == 1)
				v = va_arg(ap, unsigned long);
			else
				v = va_arg(ap, uint32_t);
			put_unsigned(v, 16, width);
			break;
		case 'p':
			serial_puts("0x");
			put_unsigned((uintptr_t)va_arg(ap, void *), 16, width);
			break;
		case '%':
			serial_putc('%');
			break;
		default:
			serial_putc('?');
			return;
		}
	}
}

void printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}
