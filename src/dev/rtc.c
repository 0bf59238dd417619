/*
 * The MC146818 CMOS real-time clock and its 128 bytes of CMOS RAM.
 *
 * The clock is the host's UTC wall clock plus an offset that the guest
 * changes by setting the time. Registers are encoded on every read in the
 * format status B asks for (BCD or binary, 12 or 24 hour); while B.SET is
 * 1 the clock registers are frozen and writable, and clearing SET starts
 * the clock from them. The update-in-progress bit is 1 during the last
 * 244 us of every second, as on the chip. Interrupts (IRQ 8) are not
 * generated; the update and periodic flags of status C are computed when
 * it is read.
 *
 * The memory-size bytes follow the layout firmware and QEMU use.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../vmm/vm.h"
#include "device.h"
#include "devices.h"

#define N_CMOS      128
#define INDEX_MASK  0x7f        /* bit 7 of the index write masks NMIs: ignored */

enum {
	REG_SEC = 0x00, REG_MIN = 0x02, REG_HOUR = 0x04, REG_WDAY = 0x06,
	REG_MDAY = 0x07, REG_MON = 0x08, REG_YEAR = 0x09,
	REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d,
	REG_BASE_LO = 0x15, REG_BASE_HI = 0x16, REG_EXT_LO = 0x17, REG_EXT_HI = 0x18,
	REG_EXT2_LO = 0x30, REG_EXT2_HI = 0x31, REG_CENTURY = CMOS_CENTURY_REG,
	REG_ABOVE16M_LO = 0x34, REG_ABOVE16M_HI = 0x35,
	REG_ABOVE4G = 0x5b,     /* three bytes */
	REG_NCPUS = 0x5f,       /* vCPUs - 1, as QEMU stores it */
};

#define A_UIP       0x80
#define A_DIVIDER   0x70
#define A_DIV_32K   0x20        /* the normal 32.768 kHz time base */
#define A_RATE      0x0f
#define B_SET       0x80
#define B_INT_EN    0x78        /* periodic, alarm, update, square wave */
#define B_UIE       0x10
#define B_BINARY    0x04
#define B_24H       0x02
#define C_IRQF      0x80
#define C_PF        0x40
#define C_UF        0x10
#define D_VRT       0x80
#define HOUR_PM     0x80

#define UIP_NS      244000ULL

struct rtc {
	struct vm *vm;
	uint8_t index;
	uint8_t ram[N_CMOS];
	long long offset;               /* guest time minus host time, seconds */
	uint64_t flags_ns;              /* when status C was last read */
};

/* --- Time and its encoding ------------------------------------------------ */

static struct timespec host_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

static uint8_t rtc_encode(const struct rtc *r, int v)
{
	if (r->ram[REG_B] & B_BINARY)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

static int rtc_decode(const struct rtc *r, uint8_t v)
{
	if (r->ram[REG_B] & B_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_encode_hour(const struct rtc *r, int h)
{
	if (r->ram[REG_B] & B_24H)
		return rtc_encode(r, h);
	return rtc_encode(r, h % 12 ? h % 12 : 12) | (h >= 12 ? HOUR_PM : 0);
}

static int rtc_decode_hour(const struct rtc *r, uint8_t v)
{
	if (r->ram[REG_B] & B_24H)
		return rtc_decode(r, v);
	return rtc_decode(r, v & ~HOUR_PM) % 12 + ((v & HOUR_PM) ? 12 : 0);
}

/* Fills the clock registers from the running clock. */
static void rtc_load_time(struct rtc *r)
{
	time_t t = host_now().tv_sec + (time_t)r->offset;
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return;
	int year = tm.tm_year + 1900;
	r->ram[REG_SEC] = rtc_encode(r, tm.tm_sec);
	r->ram[REG_MIN] = rtc_encode(r, tm.tm_min);
	r->ram[REG_HOUR] = rtc_encode_hour(r, tm.tm_hour);
	r->ram[REG_WDAY] = rtc_encode(r, tm.tm_wday + 1);
	r->ram[REG_MDAY] = rtc_encode(r, tm.tm_mday);
	r->ram[REG_MON] = rtc_encode(r, tm.tm_mon + 1);
	r->ram[REG_YEAR] = rtc_encode(r, year % 100);
	r->ram[REG_CENTURY] = rtc_encode(r, year / 100);
}

/* Restarts the clock from the registers the guest wrote. */
static void rtc_store_time(struct rtc *r)
{
	struct tm tm = {
		.tm_sec = rtc_decode(r, r->ram[REG_SEC]),
		.tm_min = rtc_decode(r, r->ram[REG_MIN]),
		.tm_hour = rtc_decode_hour(r, r->ram[REG_HOUR]),
		.tm_mday = rtc_decode(r, r->ram[REG_MDAY]),
		.tm_mon = rtc_decode(r, r->ram[REG_MON]) - 1,
		.tm_year = rtc_decode(r, r->ram[REG_CENTURY]) * 100 + rtc_decode(r, r->ram[REG_YEAR]) - 1900,
	};
	time_t t = timegm(&tm);
	if (t != (time_t)-1)
		r->offset = (long long)t - (long long)host_now().tv_sec;
}

static int rtc_running(const struct rtc *r)
{
	return !(r->ram[REG_B] & B_SET) && (r->ram[REG_A] & A_DIVIDER) == A_DIV_32K;
}

/* --- Registers ------------------------------------------------------------ */

static uint8_t read_ram(struct rtc *r, unsigned i)
{
	return r->ram[i];
}

static void write_ram(struct rtc *r, unsigned i, uint8_t v)
{
	r->ram[i] = v;
}

static uint8_t read_time(struct rtc *r, unsigned i)
{
	if (!(r->ram[REG_B] & B_SET))
		rtc_load_time(r);
	return r->ram[i];
}

static void write_time(struct rtc *r, unsigned i, uint8_t v)
{
	int set = r->ram[REG_B] & B_SET;
	if (!set)
		rtc_load_time(r);
	r->ram[i] = v;
	if (!set)
		rtc_store_time(r);
}

static uint8_t read_a(struct rtc *r, unsigned i)
{
	(void)i;
	int uip = rtc_running(r) && host_now().tv_nsec >= (long)(1000000000ULL - UIP_NS);
	return r->ram[REG_A] | (uip ? A_UIP : 0);
}

static void write_a(struct rtc *r, unsigned i, uint8_t v)
{
	(void)i;
	r->ram[REG_A] = v & ~A_UIP;
}

static void write_b(struct rtc *r, unsigned i, uint8_t v)
{
	(void)i;
	uint8_t old = r->ram[REG_B];
	if ((v & B_SET) && !(old & B_SET))
		rtc_load_time(r);       /* freeze the clock where it is */
	if (v & B_SET)
		v &= ~B_UIE;            /* setting the time stops update interrupts */
	r->ram[REG_B] = v;
	if (!(v & B_SET) && (old & B_SET))
		rtc_store_time(r);
}

/* Update and periodic flags: whether such an event happened since the last read. */
static uint8_t read_c(struct rtc *r, unsigned i)
{
	(void)i;
	uint64_t now = device_clock_ns(), then = r->flags_ns;
	uint8_t c = 0;
	r->flags_ns = now;
	if (now / 1000000000ULL != then / 1000000000ULL && rtc_running(r))
		c |= C_UF;
	unsigned rate = r->ram[REG_A] & A_RATE;
	if (rate) {
		/* Rate n gives 65536 >> n Hz (rates 1 and 2 behave as 8 and 9). */
		uint64_t period = 1000000000ULL / (65536u >> (rate < 3 ? rate + 7 : rate));
		if (now / period != then / period)
			c |= C_PF;
	}
	/* The flags sit at the same bits as their enables in status B. */
	if (c & r->ram[REG_B] & (C_PF | C_UF))
		c |= C_IRQF;
	return c;
}

static uint8_t read_d(struct rtc *r, unsigned i)
{
	(void)i, (void)r;
	return D_VRT;
}

static void write_read_only(struct rtc *r, unsigned i, uint8_t v)
{
	(void)r, (void)i, (void)v;
}

struct rtc_reg {
	uint8_t (*read)(struct rtc *r, unsigned i);
	void (*write)(struct rtc *r, unsigned i, uint8_t v);
};

#define TIME_REG { read_time, write_time }
static const struct rtc_reg rtc_special[] = {
	[REG_SEC] = TIME_REG, [REG_MIN] = TIME_REG, [REG_HOUR] = TIME_REG,
	[REG_WDAY] = TIME_REG, [REG_MDAY] = TIME_REG, [REG_MON] = TIME_REG,
	[REG_YEAR] = TIME_REG,
	[REG_A] = { read_a, write_a },
	[REG_B] = { read_ram, write_b },
	[REG_C] = { read_c, write_read_only },
	[REG_D] = { read_d, write_read_only },
	[REG_CENTURY] = TIME_REG,
};
#define N_SPECIAL (sizeof(rtc_special) / sizeof(rtc_special[0]))

static const struct rtc_reg *rtc_reg(unsigned i)
{
	static const struct rtc_reg plain = { read_ram, write_ram };
	return i < N_SPECIAL && rtc_special[i].read ? &rtc_special[i] : &plain;
}

/* Port 0x70 selects a register, port 0x71 reads or writes it. */
static uint8_t rtc_port_read(void *dev, unsigned port)
{
	struct rtc *r = dev;
	return port == 0 ? 0xff : rtc_reg(r->index)->read(r, r->index);
}

static void rtc_port_write(void *dev, unsigned port, uint8_t v)
{
	struct rtc *r = dev;
	if (port == 0)
		r->index = v & INDEX_MASK;
	else
		rtc_reg(r->index)->write(r, r->index, v);
}

static uint64_t rtc_read(void *opaque, uint64_t offset, unsigned size)
{
	return regs_read(rtc_port_read, opaque, offset, size, 2);
}

static void rtc_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
	regs_write(rtc_port_write, opaque, offset, value, size, 2);
}

static const struct dev_ops rtc_ops = { .read = rtc_read, .write = rtc_write };

/* --- Power-on contents ---------------------------------------------------- */

static void cmos_put16(struct rtc *r, unsigned lo, unsigned hi, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	r->ram[lo] = (uint8_t)v;
	r->ram[hi] = (uint8_t)(v >> 8);
}

static void cmos_memory_sizes(struct rtc *r)
{
	const struct guest_mem *m = &r->vm->mem;
	uint64_t low = m->low_size;
	uint64_t ext_kib = low > MEM_HIGH_START ? (low - MEM_HIGH_START) >> 10 : 0;
	uint64_t above16m = low > (16ULL << 20) ? (low - (16ULL << 20)) >> 16 : 0;
	uint64_t above4g = m->high_size >> 16;

	cmos_put16(r, REG_BASE_LO, REG_BASE_HI, 640);
	cmos_put16(r, REG_EXT_LO, REG_EXT_HI, ext_kib);
	cmos_put16(r, REG_EXT2_LO, REG_EXT2_HI, ext_kib);
	cmos_put16(r, REG_ABOVE16M_LO, REG_ABOVE16M_HI, above16m);
	r->ram[REG_ABOVE4G] = (uint8_t)above4g;
	r->ram[REG_ABOVE4G + 1] = (uint8_t)(above4g >> 8);
	r->ram[REG_ABOVE4G + 2] = (uint8_t)(above4g >> 16);
	r->ram[REG_NCPUS] = (uint8_t)(r->vm->ncpus > 0 ? r->vm->ncpus - 1 : 0);
}

static void *rtc_init(struct vm *vm)
{
	struct rtc *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->vm = vm;
	r->ram[REG_A] = A_DIV_32K | 0x06;       /* 1024 Hz periodic rate */
	r->ram[REG_B] = B_24H;
	r->ram[REG_D] = D_VRT;
	cmos_memory_sizes(r);
	rtc_load_time(r);
	r->flags_ns = device_clock_ns();
	if (device_register(&vm->pio, CMOS_PORT, 2, &rtc_ops, r, "rtc") < 0) {
		free(r);
		return NULL;
	}
	return r;
}

/* A reboot keeps the battery-backed RAM and the time; interrupts go off. */
static void rtc_reset(void *dev)
{
	struct rtc *r = dev;
	r->index = 0;
	r->ram[REG_B] &= ~B_INT_EN;
}

const struct device_type rtc_device = {
	.name = "rtc",
	.init = rtc_init,
	.reset = rtc_reset,
};
