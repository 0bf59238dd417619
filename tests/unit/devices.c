/*
 * The platform devices driven through the buses, as a guest drives them,
 * on a VM without a hypervisor (vm_fd = -1: interrupt lines go nowhere,
 * so the serial port's line is read from its own state).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "dev/device.h"
#include "dev/devices.h"
#include "dev/serial.h"
#include "vmm/vm.h"

static struct vm vm;
static struct config cfg;

static void vm_setup_mem(uint64_t mem, int testdev)
{
	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	cfg.cpus = 2;
	cfg.mem = mem;
	cfg.testdev = testdev;
	vm.cfg = &cfg;
	vm.ncpus = cfg.cpus;
	vm.sys_fd = vm.vm_fd = vm.stop_fd = -1;
	pthread_mutex_init(&vm.machine_lock, NULL);
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	if (guest_mem_init(&vm.mem, mem) < 0)
		abort();
}

/* A VM with every device (the serial port reads /dev/null: see main). */
static void vm_setup(int testdev)
{
	vm_setup_mem(64ULL << 20, testdev);
	CHECK_EQ(devices_init(&vm), 0);
}

static void vm_teardown(void)
{
	devices_destroy(&vm);
	guest_mem_free(&vm.mem);
}

static uint64_t in(uint64_t port, unsigned size)
{
	uint64_t v = 0;
	bus_read(&vm.pio, port, &v, size);
	return v;
}

static void out(uint64_t port, uint64_t v, unsigned size)
{
	bus_write(&vm.pio, port, &v, size);
}

static uint64_t mmio_in(uint64_t addr, unsigned size)
{
	uint64_t v = 0;
	bus_read(&vm.mmio, addr, &v, size);
	return v;
}

static void mmio_out(uint64_t addr, uint64_t v, unsigned size)
{
	bus_write(&vm.mmio, addr, &v, size);
}

/* --- Serial ---------------------------------------------------------------- */

#define THR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7
#define COM(r) (COM1_PORT + (r))

static struct serial *com;
static int com_in[2], com_out[2];       /* pipes: [0] read end, [1] write end */

static void serial_setup(void)
{
	vm_setup_mem(64ULL << 20, 0);
	if (pipe(com_in) < 0 || pipe(com_out) < 0)
		abort();
	fcntl(com_out[0], F_SETFL, O_NONBLOCK);
	com = serial_create(&vm, com_in[0], com_out[1]);
	CHECK(com != NULL);
	if (!com)
		abort();
}

static void serial_teardown(void)
{
	serial_destroy(com);
	close(com_in[0]);
	close(com_in[1]);
	close(com_out[0]);
	close(com_out[1]);
	guest_mem_free(&vm.mem);
}

/* Polls the LSR like a guest until data is ready; 0 on a timeout. */
static int serial_wait_data(void)
{
	for (int i = 0; i < 2000; i++) {
		if (in(COM(LSR), 1) & 0x01)
			return 1;
		usleep(1000);
	}
	return 0;
}

static void serial_output(void)
{
	serial_setup();
	CHECK_EQ(in(COM(LSR), 1), 0x60);        /* THRE and TEMT, no data */
	out(COM(THR), 'o', 1);
	out(COM(THR), 'k', 1);
	char buf[8] = { 0 };
	CHECK_EQ(read(com_out[0], buf, sizeof(buf)), 2);
	CHECK(strcmp(buf, "ok") == 0);
	out(COM(SCR), 0x5a, 1);
	CHECK_EQ(in(COM(SCR), 1), 0x5a);
	serial_teardown();
}

static void serial_thre_interrupt(void)
{
	serial_setup();
	out(COM(MCR), 0x08, 1);                 /* OUT2: the line reaches the PIC */
	CHECK_EQ(serial_irq_level(com), 0);
	out(COM(IER), 0x02, 1);                 /* enabling THRI with the THR empty raises it */
	CHECK_EQ(serial_irq_level(com), 1);
	CHECK_EQ(in(COM(IIR), 1), 0x02);
	CHECK_EQ(serial_irq_level(com), 0);     /* reading the IIR acknowledged it */
	CHECK_EQ(in(COM(IIR), 1), 0x01);
	out(COM(THR), 'x', 1);
	CHECK_EQ(serial_irq_level(com), 1);     /* sent at once: the THR is empty again */
	out(COM(IER), 0x00, 1);
	CHECK_EQ(serial_irq_level(com), 0);
	out(COM(IER), 0x02, 1);
	out(COM(MCR), 0x00, 1);                 /* pending, but OUT2 gates the line */
	CHECK_EQ(serial_irq_level(com), 0);
	CHECK_EQ(in(COM(IIR), 1), 0x02);
	serial_teardown();
}

static void serial_receive(void)
{
	serial_setup();
	out(COM(MCR), 0x0b, 1);                 /* DTR, RTS, OUT2 */
	out(COM(IER), 0x01, 1);
	CHECK_EQ(write(com_in[1], "hi", 2), 2);
	CHECK(serial_wait_data());
	CHECK_EQ(serial_irq_level(com), 1);
	CHECK_EQ(in(COM(IIR), 1), 0x04);        /* no FIFO: one byte is the trigger */
	CHECK_EQ(in(COM(THR), 1), 'h');
	CHECK(serial_wait_data());
	CHECK_EQ(in(COM(THR), 1), 'i');
	CHECK_EQ(in(COM(LSR), 1) & 0x01, 0);
	CHECK_EQ(serial_irq_level(com), 0);
	CHECK_EQ(in(COM(IIR), 1), 0x01);
	serial_teardown();
}

/* More input than the FIFO holds arrives complete and in order. */
static void serial_input_not_lost(void)
{
	serial_setup();
	out(COM(FCR), 0xc7, 1);                 /* FIFO on, cleared, trigger 14 */
	char msg[300];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i % 26);
	CHECK_EQ(write(com_in[1], msg, sizeof(msg)), (ssize_t)sizeof(msg));
	size_t got = 0;
	while (got < sizeof(msg) && serial_wait_data()) {
		char c = (char)in(COM(THR), 1);
		if (c != msg[got])
			break;
		got++;
	}
	CHECK_EQ(got, sizeof(msg));
	serial_teardown();
}

static void serial_fifo_levels(void)
{
	serial_setup();
	out(COM(MCR), 0x18, 1);                 /* loopback, OUT2 */
	out(COM(FCR), 0xc1, 1);                 /* FIFO on, trigger 14 */
	out(COM(IER), 0x05, 1);                 /* data and line status */
	for (int i = 0; i < 3; i++)
		out(COM(THR), 'A' + i, 1);
	CHECK_EQ(in(COM(IIR), 1), 0xcc);        /* below the trigger: character timeout */
	for (int i = 3; i < 14; i++)
		out(COM(THR), 'A' + i, 1);
	CHECK_EQ(in(COM(IIR), 1), 0xc4);        /* trigger level reached */
	CHECK_EQ(serial_irq_level(com), 1);
	for (int i = 14; i < 17; i++)
		out(COM(THR), 'A' + i, 1);          /* the 17th overruns */
	CHECK_EQ(in(COM(IIR), 1), 0xc6);        /* line status comes first */
	CHECK_EQ(in(COM(LSR), 1) & 0x03, 0x03); /* data ready, overrun */
	CHECK_EQ(in(COM(LSR), 1) & 0x02, 0);    /* reading the LSR cleared the overrun */
	for (int i = 0; i < 16; i++)
		CHECK_EQ(in(COM(THR), 1), 'A' + i);
	CHECK_EQ(in(COM(IIR), 1), 0xc1);
	out(COM(THR), 'z', 1);
	out(COM(FCR), 0xc3, 1);                 /* clear the receive FIFO */
	CHECK_EQ(in(COM(LSR), 1) & 0x01, 0);
	char buf[4];
	CHECK_EQ(read(com_out[0], buf, sizeof(buf)), -1);  /* loopback sends nothing out */
	serial_teardown();
}

static void serial_loopback_modem(void)
{
	serial_setup();
	CHECK_EQ(in(COM(MSR), 1), 0xb0);        /* DCD, DSR, CTS */
	out(COM(MCR), 0x1a, 1);                 /* loopback, RTS, OUT2 */
	CHECK_EQ(in(COM(MSR), 1) & 0xf0, 0x90); /* RTS -> CTS, OUT2 -> DCD */
	out(COM(IER), 0x08, 1);
	out(COM(MCR), 0x1d, 1);                 /* DTR, OUT1, no RTS */
	CHECK_EQ(in(COM(IIR), 1), 0x00);        /* modem status change */
	CHECK_EQ(in(COM(MSR), 1), 0xe0 | 0x03); /* DSR, RI, DCD; CTS and DSR changed */
	CHECK_EQ(in(COM(IIR), 1), 0x01);
	out(COM(MCR), 0x19, 1);                 /* RI falls: trailing edge */
	CHECK_EQ(in(COM(MSR), 1) & 0x0f, 0x04);
	serial_teardown();
}

static void serial_divisor_latch(void)
{
	serial_setup();
	out(COM(LCR), 0x83, 1);
	out(COM(THR), 0x01, 1);
	out(COM(IER), 0x02, 1);
	CHECK_EQ(in(COM(THR), 1), 0x01);
	CHECK_EQ(in(COM(IER), 1), 0x02);
	out(COM(LCR), 0x03, 1);
	CHECK_EQ(in(COM(IER), 1), 0x00);        /* the real IER was not touched */
	CHECK_EQ(in(COM(LCR), 1), 0x03);
	char c;
	CHECK_EQ(read(com_out[0], &c, 1), -1);  /* divisor writes are not output */
	serial_teardown();
}

/* Any sequence of register accesses is harmless. */
static void serial_random_access(void)
{
	vm_setup_mem(64ULL << 20, 0);
	int null_in = open("/dev/null", O_RDONLY), null_out = open("/dev/null", O_WRONLY);
	com = serial_create(&vm, null_in, null_out);
	CHECK(com != NULL);
	srand(1);
	static const unsigned sizes[] = { 1, 2, 4 };
	for (int i = 0; i < 20000; i++) {
		uint64_t port = COM1_PORT + rand() % 8;
		unsigned size = sizes[rand() % 3];
		if (rand() & 1)
			out(port, (uint64_t)rand(), size);
		else
			in(port, size);
	}
	serial_destroy(com);
	close(null_in);
	close(null_out);
	guest_mem_free(&vm.mem);
}

/* --- The other devices ------------------------------------------------------ */

static void fw_cfg_items(void)
{
	vm_setup(0);
	out(FW_CFG_PORT, 0x0000, 2);
	char sig[5] = { 0 };
	for (int i = 0; i < 4; i++)
		sig[i] = (char)in(FW_CFG_PORT + 1, 1);
	CHECK(strcmp(sig, "QEMU") == 0);
	CHECK_EQ(in(FW_CFG_PORT + 1, 1), 0);    /* past the end */
	out(FW_CFG_PORT, 0x0001, 2);
	CHECK_EQ(in(FW_CFG_PORT + 1, 1) & 1, 1);/* traditional interface */
	out(FW_CFG_PORT, 0x0003, 2);
	uint64_t ram = 0;
	for (int i = 0; i < 8; i++)
		ram |= in(FW_CFG_PORT + 1, 1) << (8 * i);
	CHECK_EQ(ram, 64ULL << 20);
	out(FW_CFG_PORT, 0x0005, 2);
	CHECK_EQ(in(FW_CFG_PORT + 1, 1) | in(FW_CFG_PORT + 1, 1) << 8, 2);
	out(FW_CFG_PORT, 0x000f, 2);
	CHECK_EQ(in(FW_CFG_PORT + 1, 1), 2);
	out(FW_CFG_PORT, 0x0019, 2);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(in(FW_CFG_PORT + 1, 1), 0);   /* an empty file directory */
	out(FW_CFG_PORT, 0x0005, 2);
	out(FW_CFG_PORT, 0x0000, 2);            /* selecting rewinds */
	CHECK_EQ(in(FW_CFG_PORT + 1, 1), 'Q');
	out(FW_CFG_PORT, 0x7777, 2);
	CHECK_EQ(in(FW_CFG_PORT + 1, 1), 0);    /* no such item */
	vm_teardown();
}

static unsigned cmos(unsigned index)
{
	out(CMOS_PORT, index, 1);
	return (unsigned)in(CMOS_PORT + 1, 1);
}

static void cmos_write(unsigned index, unsigned v)
{
	out(CMOS_PORT, index, 1);
	out(CMOS_PORT + 1, v, 1);
}

static unsigned cmos16(unsigned lo)
{
	return cmos(lo) | cmos(lo + 1) << 8;
}

static void cmos_memory_64m(void)
{
	vm_setup(0);
	CHECK_EQ(cmos16(0x15), 640);
	CHECK_EQ(cmos16(0x17), 63 * 1024);
	CHECK_EQ(cmos16(0x30), 63 * 1024);
	CHECK_EQ(cmos16(0x34), (48 << 20) >> 16);
	CHECK_EQ(cmos(0x5b) | cmos(0x5c) << 8 | cmos(0x5d) << 16, 0);
	CHECK_EQ(cmos(0x5f), 1);                /* vCPUs - 1 */
	CHECK_EQ(cmos(0x80 | 0x0d), 0x80);      /* NMI-mask bit ignored; RTC valid */
	vm_teardown();
}

static void cmos_memory_5g(void)
{
	vm_setup_mem(5ULL << 30, 0);
	CHECK_EQ(devices_init(&vm), 0);
	CHECK_EQ(cmos16(0x17), 65535);          /* capped */
	CHECK_EQ(cmos16(0x34), ((3ULL << 30) - (16 << 20)) >> 16);
	CHECK_EQ(cmos(0x5b) | cmos(0x5c) << 8 | cmos(0x5d) << 16, (2ULL << 30) >> 16);
	vm_teardown();
}

static int bcd(unsigned v) { return (int)((v >> 4) * 10 + (v & 15)); }

/* Reads the clock as BCD or binary and compares it with the host's UTC time. */
static int cmos_time_matches(int binary)
{
	for (int tries = 0; tries < 3; tries++) {
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		int (*dec)(unsigned) = binary ? NULL : bcd;
#define DEC(v) (dec ? dec(v) : (int)(v))
		int sec = DEC(cmos(0)), min = DEC(cmos(2)), hour = DEC(cmos(4));
		int mday = DEC(cmos(7)), mon = DEC(cmos(8)), year = DEC(cmos(9)), century = DEC(cmos(0x32));
#undef DEC
		if (sec != tm.tm_sec)
			continue;                   /* a second went by: read again */
		return min == tm.tm_min && hour == tm.tm_hour && mday == tm.tm_mday &&
		       mon == tm.tm_mon + 1 && century * 100 + year == tm.tm_year + 1900;
	}
	return 0;
}

static void cmos_clock(void)
{
	vm_setup(0);
	CHECK_EQ(cmos(0x0a) & 0x7f, 0x26);
	CHECK_EQ(cmos(0x0b), 0x02);             /* 24 hour, BCD */
	CHECK(cmos_time_matches(0));
	cmos_write(0x0b, 0x06);                 /* binary */
	CHECK(cmos_time_matches(1));
	cmos_write(0x0b, 0x00);                 /* 12 hour BCD */
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	unsigned h = cmos(4);
	if (tm.tm_min != 59 || tm.tm_sec < 59) {  /* not across an hour */
		CHECK_EQ(bcd(h & 0x7f), tm.tm_hour % 12 ? tm.tm_hour % 12 : 12);
		CHECK_EQ(!!(h & 0x80), tm.tm_hour >= 12);
	}
	/* Set the clock to 1999-12-31 23:59:58 and let it run. */
	cmos_write(0x0b, 0x82);
	cmos_write(0x00, 0x58);
	cmos_write(0x02, 0x59);
	cmos_write(0x04, 0x23);
	cmos_write(0x07, 0x31);
	cmos_write(0x08, 0x12);
	cmos_write(0x09, 0x99);
	cmos_write(0x32, 0x19);
	CHECK_EQ(cmos(0x00), 0x58);             /* frozen while SET */
	cmos_write(0x0b, 0x02);
	CHECK_EQ(cmos(0x09), 0x99);
	CHECK_EQ(cmos(0x32), 0x19);
	CHECK_EQ(cmos(0x04), 0x23);
	CHECK_EQ(cmos(0x06), 6);                /* a Friday */
	CHECK_EQ(cmos(0x0c) & ~0x50, 0);        /* no alarm, no interrupt flag */
	vm_teardown();
}

static void cmos_uip_clears(void)
{
	vm_setup(0);
	int clear = 0;
	for (int i = 0; i < 100000 && !clear; i++)
		clear = !(cmos(0x0a) & 0x80);
	CHECK(clear);
	vm_teardown();
}

static void debug_exit_status(void)
{
	static const struct { uint64_t v; unsigned size; int status; } cases[] = {
		{ 0x00, 1, 0x01 }, { 0x10, 1, 0x21 }, { 0x1234, 2, 0x2469 },
		{ 0x7fffffff, 4, -1 }, { 0x12345678, 4, (int)0x2468acf1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vm_setup(0);
		out(DEBUG_EXIT_PORT, cases[i].v, cases[i].size);
		CHECK_EQ(vm.stop_reason, VM_STOP_EXIT);
		CHECK_EQ((unsigned)vm.exit_status, (unsigned)cases[i].status);
		vm_teardown();
	}
}

static void testdev_mmio_readback(void)
{
	vm_setup(1);
	const uint64_t base = TESTDEV_MMIO_BASE;
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	for (size_t i = 0; i < 4; i++) {
		unsigned s = sizes[i];
		uint64_t v = 0x8877665544332211ULL & (s == 8 ? ~0ULL : (1ULL << (8 * s)) - 1);
		mmio_out(base + 0x100 * i + 3, v, s);
		CHECK_EQ(mmio_in(base + 0x100 * i + 3, s), v);
	}
	mmio_out(base + 0x800, 0x0807060504030201ULL, 8);
	for (unsigned b = 0; b < 8; b++)
		CHECK_EQ(mmio_in(base + 0x800 + b, 1), b + 1);
	CHECK_EQ(mmio_in(base + 0x802, 4), 0x06050403);
	mmio_out(base + TESTDEV_MMIO_SIZE - 4, ~0ULL, 8);   /* runs past the window */
	CHECK_EQ(mmio_in(base + TESTDEV_MMIO_SIZE - 4, 8), 0xffffffffULL);
	vm_teardown();
}

static void testdev_ports(void)
{
	vm_setup(1);
	out(TESTDEV_PORT, 0x12345678, 4);
	CHECK_EQ(in(TESTDEV_PORT, 1), 0x78);
	CHECK_EQ(in(TESTDEV_PORT + 1, 1), 0x56);
	CHECK_EQ(in(TESTDEV_PORT + 2, 2), 0x1234);
	CHECK_EQ(in(TESTDEV_PORT + 1, 4), 0x123456);
	out(TESTDEV_PORT + 1, 0xab, 1);
	CHECK_EQ(in(TESTDEV_PORT, 4), 0x1234ab78);
	CHECK_EQ(in(TESTDEV_BYTE_PORT, 4), 0x1234ab78);
	out(TESTDEV_BYTE_PORT, 0xcafe, 2);
	CHECK_EQ(in(TESTDEV_PORT, 4), 0x1234cafe);
	out(TESTDEV_FLUSH_PORT, 0x100000, 4);   /* a RAM page */
	out(TESTDEV_FLUSH_PORT, 0xfffff000, 4); /* not RAM: ignored */
	uint8_t *p = guest_ptr(&vm.mem, 0x100000, 1);
	*p = 0x5a;                              /* still writable */
	CHECK_EQ(*p, 0x5a);
	out(TESTDEV_IRQ_PORT + 4, 1, 1);
	out(TESTDEV_IRQ_PORT + 4, 0, 1);
	vm_teardown();
}

static void testdev_absent_by_default(void)
{
	vm_setup(0);
	CHECK(bus_find(&vm.mmio, TESTDEV_MMIO_BASE) < 0);
	CHECK_EQ(in(TESTDEV_PORT, 4), 0xffffffff);
	vm_teardown();
}

static void acpi_pm_poweroff(void)
{
	vm_setup(0);
	CHECK_EQ(in(ACPI_PM1A_CNT_PORT, 2) & 1, 1);    /* SCI_EN: always in ACPI mode */
	out(ACPI_PM1A_CNT_PORT, 1u << 10 | 1u << 13, 2);  /* S1: not offered, ignored */
	CHECK_EQ(vm.stop_reason, VM_RUNNING);
	out(ACPI_PM1A_CNT_PORT, ACPI_SLP_TYP_S5 << 10 | 1u << 13 | 1, 2);
	CHECK_EQ(vm.stop_reason, VM_STOP_POWEROFF);
	CHECK_EQ(vm.exit_status, 0);
	vm_teardown();

	vm_setup(0);                            /* the same as two byte writes */
	out(ACPI_PM1A_CNT_PORT, 0x01, 1);
	out(ACPI_PM1A_CNT_PORT + 1, (ACPI_SLP_TYP_S5 << 2) | 0x20, 1);
	CHECK_EQ(vm.stop_reason, VM_STOP_POWEROFF);
	vm_teardown();
}

static void acpi_pm_registers(void)
{
	vm_setup(0);
	uint32_t t0 = (uint32_t)in(ACPI_PM_TMR_PORT, 4);
	usleep(2000);
	uint32_t t1 = (uint32_t)in(ACPI_PM_TMR_PORT, 4);
	CHECK(t0 < (1u << 24) && t1 < (1u << 24));
	uint32_t ticks = (t1 - t0) & 0xffffff;
	CHECK(ticks >= 7000 && ticks < 3579545);       /* 2 ms is about 7159 ticks */
	out(ACPI_PM1A_EVT_PORT + 2, 0x0121, 2);
	CHECK_EQ(in(ACPI_PM1A_EVT_PORT + 2, 2), 0x0121);
	out(ACPI_PM1A_EVT_PORT, 0xffff, 2);             /* write 1 to clear */
	CHECK_EQ(in(ACPI_PM1A_EVT_PORT, 2) & ~1u, 0);
	out(ACPI_RESET_PORT, 0x01, 1);
	CHECK_EQ(vm.stop_reason, VM_RUNNING);
	out(ACPI_RESET_PORT, ACPI_RESET_VALUE, 1);
	CHECK_EQ(vm.stop_reason, VM_STOP_RESET);
	vm_teardown();
}

static void i8042_reset(void)
{
	vm_setup(0);
	CHECK_EQ(in(I8042_CMD_PORT, 1) & 0x03, 0);      /* nothing to read, ready for input */
	out(I8042_CMD_PORT, 0xff, 1);                   /* pulses no line */
	CHECK_EQ(vm.stop_reason, VM_RUNNING);
	out(I8042_CMD_PORT, 0xfe, 1);
	CHECK_EQ(vm.stop_reason, VM_STOP_RESET);
	vm_teardown();
}

static void port_b_toggles(void)
{
	vm_setup(0);
	unsigned first = (unsigned)in(SYSTEM_PORT_B, 1) & 0x10;
	int changed = 0;
	for (int i = 0; i < 1000000 && !changed; i++)
		changed = ((unsigned)in(SYSTEM_PORT_B, 1) & 0x10) != first;
	CHECK(changed);
	out(SYSTEM_PORT_B, 0x03, 1);
	CHECK_EQ(in(SYSTEM_PORT_B, 1) & 0x0f, 0x03);
	CHECK_EQ(in(POST_PORT, 1), 0xff);
	vm_teardown();
}

static void reset_and_destroy(void)
{
	vm_setup(1);
	out(COM(LCR), 0x03, 1);
	out(COM(IER), 0x0f, 1);
	out(ACPI_PM1A_EVT_PORT + 2, 0x0100, 2);
	devices_reset(&vm);
	CHECK_EQ(in(COM(IER), 1), 0);
	CHECK_EQ(in(COM(LCR), 1), 0);
	CHECK_EQ(in(ACPI_PM1A_EVT_PORT + 2, 2), 0);
	CHECK(devices_find(&vm, &serial_device) != NULL);
	CHECK(devices_find(&vm, &testdev_device) != NULL);
	vm_teardown();
	CHECK(vm.devs == NULL);
}

/* Any value of any width at any device port or the test window is harmless. */
static void random_access(void)
{
	vm_setup(1);
	srand(2);
	static const unsigned sizes[] = { 1, 2, 4 };
	for (int i = 0; i < 200000; i++) {
		uint64_t port = (uint64_t)rand() % 0x2020;
		if (port >= COM1_PORT && port < COM1_PORT + 8)
			continue;                   /* its output is the terminal */
		unsigned size = sizes[rand() % 3];
		uint64_t v = (uint64_t)rand() << 32 | (uint64_t)rand();
		if (rand() & 1)
			out(port, v, size);
		else
			in(port, size);
		uint64_t addr = TESTDEV_MMIO_BASE + (uint64_t)rand() % (TESTDEV_MMIO_SIZE + 16);
		mmio_out(addr, v, 1u << (rand() % 4));
		mmio_in(addr, 1u << (rand() % 4));
	}
	vm_teardown();
}

int main(void)
{
	/* The terminal-bound serial port of devices_init() reads stdin. */
	int null_fd = open("/dev/null", O_RDONLY);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0)
		return 1;
	close(null_fd);

	RUN(serial_output);
	RUN(serial_thre_interrupt);
	RUN(serial_receive);
	RUN(serial_input_not_lost);
	RUN(serial_fifo_levels);
	RUN(serial_loopback_modem);
	RUN(serial_divisor_latch);
	RUN(serial_random_access);
	RUN(fw_cfg_items);
	RUN(cmos_memory_64m);
	RUN(cmos_memory_5g);
	RUN(cmos_clock);
	RUN(cmos_uip_clears);
	RUN(debug_exit_status);
	RUN(testdev_mmio_readback);
	RUN(testdev_ports);
	RUN(testdev_absent_by_default);
	RUN(acpi_pm_poweroff);
	RUN(acpi_pm_registers);
	RUN(i8042_reset);
	RUN(port_b_toggles);
	RUN(reset_and_destroy);
	RUN(random_access);
	TEST_EXIT();
}
