/*
 * ACPI tables for a runvm PC, laid out in the BIOS area so that a kernel
 * scanning 0xe0000-0xfffff finds the RSDP:
 *
 *   RSDP -> RSDT (32-bit) and XSDT (64-bit) -> FADT, MADT
 *   FADT -> FACS, DSDT; the PM ports and the reset register of devices.h
 *   MADT:  one local APIC per vCPU (APIC ID = vCPU index), the I/O APIC,
 *          the SCI's interrupt source override and LINT1 as NMI
 *   DSDT:  \_S5 (soft off) and the devices added by acpi_dsdt_add_device()
 *
 * There is no IRQ0 -> GSI2 override: the in-kernel irqchip wires the PIT
 * to I/O APIC pin 0. The AML is encoded by hand (see the small aml_*
 * helpers), following the ACPI specification's AML grammar.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../dev/devices.h"
#include "acpi.h"
#include "vm.h"

#define PACKED __attribute__((packed))

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} PACKED;

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;               /* over the first 20 bytes */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_addr;
	uint32_t length;
	uint64_t xsdt_addr;
	uint8_t ext_checksum;           /* over all 36 bytes */
	uint8_t reserved[3];
} PACKED;

/* Generic Address Structure. */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} PACKED;

/* The FADT of ACPI 6.0 (revision 6). */
struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg, sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} PACKED;

struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_waking_vector;
	uint8_t version;
	uint8_t reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} PACKED;

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_addr;
	uint32_t flags;
} PACKED;

struct madt_lapic {
	uint8_t type, length, processor_uid, apic_id;
	uint32_t flags;
} PACKED;

struct madt_ioapic {
	uint8_t type, length, ioapic_id, reserved;
	uint32_t address;
	uint32_t gsi_base;
} PACKED;

struct madt_irq_override {
	uint8_t type, length, bus, source;
	uint32_t gsi;
	uint16_t flags;
} PACKED;

struct madt_lapic_nmi {
	uint8_t type, length, processor_uid;
	uint16_t flags;
	uint8_t lint;
} PACKED;

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT layout");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS layout");

#define GAS_SYSTEM_IO          1
#define GAS_ACCESS_BYTE        1
#define GAS_ACCESS_WORD        2
#define GAS_ACCESS_DWORD       3

#define FADT_WBINVD            (1u << 0)
#define FADT_PROC_C1           (1u << 2)
#define FADT_PWR_BUTTON        (1u << 4)   /* 1: no fixed-feature power button */
#define FADT_SLP_BUTTON        (1u << 5)   /* 1: no fixed-feature sleep button */
#define FADT_FIX_RTC           (1u << 6)
#define FADT_RESET_REG_SUP     (1u << 10)
#define FADT_USE_PLATFORM_CLOCK (1u << 15)

#define BOOT_ARCH_LEGACY_DEVICES 0x0001    /* 8042 bit (0x0002) clear: no keyboard controller */
#define BOOT_ARCH_NO_VGA       0x0004

#define P_LVL2_NONE            101         /* latencies above these say: no C2, no C3 */
#define P_LVL3_NONE            1001

#define MADT_PCAT_COMPAT       1
#define MADT_LAPIC             0
#define MADT_IOAPIC            1
#define MADT_IRQ_OVERRIDE      2
#define MADT_LAPIC_NMI         4
#define MADT_ENABLED           1
#define MADT_ALL_PROCESSORS    0xff
#define MPS_ACTIVE_HIGH        0x0001
#define MPS_LEVEL              0x000c

/* --- Where the tables go --------------------------------------------------- */

struct acpi_area {
	uint8_t *host;                  /* ACPI_TABLES_SIZE bytes at ACPI_TABLES_ADDR */
	uint64_t used;
};

/* Space for len bytes aligned to align (a power of two), or NULL when full. */
static void *acpi_alloc(struct acpi_area *a, uint64_t len, uint64_t align, uint32_t *gpa)
{
	uint64_t off = (a->used + align - 1) & ~(align - 1);
	if (off > ACPI_TABLES_SIZE || len > ACPI_TABLES_SIZE - off)
		return NULL;
	a->used = off + len;
	*gpa = (uint32_t)(ACPI_TABLES_ADDR + off);
	return a->host + off;
}

static uint8_t acpi_checksum(const void *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += ((const uint8_t *)p)[i];
	return (uint8_t)-sum;
}

static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "RUNVM ", 6);
	memcpy(h->oem_table_id, "RUNVMPC ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "RNVM", 4);
	h->creator_revision = 1;
}

static void acpi_header_sum(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = acpi_checksum(h, h->length);
}

/* --- AML ------------------------------------------------------------------- */

#define AML_ZERO_OP            0x00
#define AML_ONE_OP             0x01
#define AML_NAME_OP            0x08
#define AML_BYTE_PREFIX        0x0a
#define AML_WORD_PREFIX        0x0b
#define AML_DWORD_PREFIX       0x0c
#define AML_STRING_PREFIX      0x0d
#define AML_QWORD_PREFIX       0x0e
#define AML_SCOPE_OP           0x10
#define AML_BUFFER_OP          0x11
#define AML_PACKAGE_OP         0x12
#define AML_EXT_OP_PREFIX      0x5b
#define AML_DEVICE_OP          0x82        /* after the ext prefix */
#define AML_ROOT_CHAR          0x5c

struct aml {
	uint8_t *buf;
	size_t len, cap;
	int overflow;
};

static void aml_byte(struct aml *a, uint8_t b)
{
	if (a->len < a->cap)
		a->buf[a->len++] = b;
	else
		a->overflow = 1;
}

static void aml_bytes(struct aml *a, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		aml_byte(a, ((const uint8_t *)p)[i]);
}

static void aml_le(struct aml *a, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

static void aml_nameseg(struct aml *a, const char *name)
{
	aml_bytes(a, name, 4);
}

/* The shortest encoding of an integer constant. */
static void aml_integer(struct aml *a, uint64_t v)
{
	if (v <= 1) {
		aml_byte(a, v ? AML_ONE_OP : AML_ZERO_OP);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

/* Starts the body of an op that carries a PkgLength; returns its start for aml_end(). */
static size_t aml_begin(struct aml *a)
{
	return a->len;
}

/* Inserts the PkgLength (which counts itself) in front of the body begun at start. */
static void aml_end(struct aml *a, size_t start)
{
	if (a->overflow)
		return;
	size_t body = a->len - start, n = 1;
	while (n < 4 && body + n > (n == 1 ? 0x3f : (1u << (4 + 8 * (n - 1))) - 1))
		n++;
	size_t total = body + n;
	if (a->len + n > a->cap || total > 0xfffffff) {
		a->overflow = 1;
		return;
	}
	memmove(a->buf + start + n, a->buf + start, body);
	a->len += n;
	if (n == 1) {
		a->buf[start] = (uint8_t)total;
		return;
	}
	a->buf[start] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
	for (size_t i = 1; i < n; i++)
		a->buf[start + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
}

/* Name(_S5_, Package() { 5, 5, 0, 0 }): SLP_TYP values for PM1a and PM1b. */
static void dsdt_add_s5(struct aml *a)
{
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_S5_");
	aml_byte(a, AML_PACKAGE_OP);
	size_t pkg = aml_begin(a);
	aml_byte(a, 4);
	aml_integer(a, ACPI_SLP_TYP_S5);
	aml_integer(a, ACPI_SLP_TYP_S5);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, pkg);
}

/* --- DSDT devices ---------------------------------------------------------- */

#define ACPI_MAX_DSDT_DEVICES 32

static struct acpi_dsdt_device dsdt_devices[ACPI_MAX_DSDT_DEVICES];
static int n_dsdt_devices;

#define RES_MEMORY32_FIXED     0x86
#define RES_EXT_IRQ            0x89
#define RES_END_TAG            0x79
#define RES_IRQ_CONSUMER       0x01
#define RES_IRQ_EDGE           0x02

static int aml_name_valid(const char *name)
{
	if (strlen(name) != 4 || (name[0] >= '0' && name[0] <= '9'))
		return 0;
	for (int i = 0; i < 4; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return 0;
	return 1;
}

int acpi_dsdt_add_device(const struct acpi_dsdt_device *dev)
{
	size_t hid_len = strnlen(dev->hid, sizeof(dev->hid));
	if (n_dsdt_devices >= ACPI_MAX_DSDT_DEVICES || strnlen(dev->name, sizeof(dev->name)) != 4 ||
	    !aml_name_valid(dev->name) || hid_len == 0 || hid_len >= sizeof(dev->hid))
		return -1;
	dsdt_devices[n_dsdt_devices++] = *dev;
	return 0;
}

void acpi_dsdt_clear_devices(void)
{
	n_dsdt_devices = 0;
}

/* Name(_CRS, ResourceTemplate() { Memory32Fixed(...) Interrupt(...) }) */
static void dsdt_add_resources(struct aml *a, const struct acpi_dsdt_device *d)
{
	struct aml res = { .buf = (uint8_t[32]){ 0 }, .cap = 32 };
	if (d->mmio_len) {
		aml_byte(&res, RES_MEMORY32_FIXED);
		aml_le(&res, 9, 2);
		aml_byte(&res, 1);                      /* read-write */
		aml_le(&res, d->mmio_base, 4);
		aml_le(&res, d->mmio_len, 4);
	}
	if (d->gsi >= 0) {
		aml_byte(&res, RES_EXT_IRQ);
		aml_le(&res, 6, 2);
		aml_byte(&res, RES_IRQ_CONSUMER | (d->level_triggered ? 0 : RES_IRQ_EDGE));
		aml_byte(&res, 1);                      /* one interrupt */
		aml_le(&res, (uint32_t)d->gsi, 4);
	}
	aml_byte(&res, RES_END_TAG);
	aml_byte(&res, 0);                              /* checksum 0: not checked */

	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_CRS");
	aml_byte(a, AML_BUFFER_OP);
	size_t buf = aml_begin(a);
	aml_integer(a, res.len);
	aml_bytes(a, res.buf, res.len);
	aml_end(a, buf);
}

/* Device(NAME) { Name(_HID, "...") Name(_UID, n) Name(_CRS, ...) } */
static void dsdt_add_device(struct aml *a, const struct acpi_dsdt_device *d)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	size_t dev = aml_begin(a);
	aml_nameseg(a, d->name);
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_HID");
	aml_string(a, d->hid);
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_UID");
	aml_integer(a, d->uid);
	if (d->mmio_len || d->gsi >= 0)
		dsdt_add_resources(a, d);
	aml_end(a, dev);
}

/* Scope(\_SB) { the devices } */
static void dsdt_add_devices(struct aml *a)
{
	if (n_dsdt_devices == 0)
		return;
	aml_byte(a, AML_SCOPE_OP);
	size_t scope = aml_begin(a);
	aml_byte(a, AML_ROOT_CHAR);
	aml_nameseg(a, "_SB_");
	for (int i = 0; i < n_dsdt_devices; i++)
		dsdt_add_device(a, &dsdt_devices[i]);
	aml_end(a, scope);
}

/* --- The tables ------------------------------------------------------------ */

struct acpi_addrs {
	uint32_t facs, dsdt, fadt, madt, rsdt, xsdt;
};

static struct acpi_gas io_gas(uint16_t port, uint8_t bytes, uint8_t access)
{
	return (struct acpi_gas){ .space_id = GAS_SYSTEM_IO, .bit_width = (uint8_t)(8 * bytes),
				  .access_size = access, .address = port };
}

static void fadt_fill(struct acpi_fadt *f, const struct acpi_addrs *ad)
{
	acpi_header_init(&f->h, "FACP", sizeof(*f), 6);
	f->firmware_ctrl = ad->facs;            /* X_FIRMWARE_CTRL stays 0: only one may be set */
	f->dsdt = ad->dsdt;
	f->x_dsdt = ad->dsdt;
	f->sci_int = ACPI_SCI_IRQ;
	f->pm1a_evt_blk = ACPI_PM1A_EVT_PORT;
	f->pm1a_cnt_blk = ACPI_PM1A_CNT_PORT;
	f->pm_tmr_blk = ACPI_PM_TMR_PORT;
	f->pm1_evt_len = ACPI_PM1_EVT_LEN;
	f->pm1_cnt_len = ACPI_PM1_CNT_LEN;
	f->pm_tmr_len = ACPI_PM_TMR_LEN;
	f->x_pm1a_evt_blk = io_gas(ACPI_PM1A_EVT_PORT, ACPI_PM1_EVT_LEN, GAS_ACCESS_WORD);
	f->x_pm1a_cnt_blk = io_gas(ACPI_PM1A_CNT_PORT, ACPI_PM1_CNT_LEN, GAS_ACCESS_WORD);
	f->x_pm_tmr_blk = io_gas(ACPI_PM_TMR_PORT, ACPI_PM_TMR_LEN, GAS_ACCESS_DWORD);
	f->reset_reg = io_gas(ACPI_RESET_PORT, 1, GAS_ACCESS_BYTE);
	f->reset_value = ACPI_RESET_VALUE;
	f->p_lvl2_lat = P_LVL2_NONE;
	f->p_lvl3_lat = P_LVL3_NONE;
	f->century = CMOS_CENTURY_REG;
	f->iapc_boot_arch = BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_NO_VGA;
	f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
		   FADT_FIX_RTC | FADT_RESET_REG_SUP | FADT_USE_PLATFORM_CLOCK;
}

static uint32_t madt_size(int ncpus)
{
	return sizeof(struct acpi_madt) + ncpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + sizeof(struct madt_irq_override) +
	       sizeof(struct madt_lapic_nmi);
}

static void madt_fill(struct acpi_madt *m, int ncpus)
{
	acpi_header_init(&m->h, "APIC", madt_size(ncpus), 4);
	m->lapic_addr = (uint32_t)LAPIC_ADDR;
	m->flags = MADT_PCAT_COMPAT;
	uint8_t *p = (uint8_t *)(m + 1);
	for (int i = 0; i < ncpus; i++) {
		struct madt_lapic *l = (struct madt_lapic *)p;
		*l = (struct madt_lapic){ MADT_LAPIC, sizeof(*l), (uint8_t)i, (uint8_t)i, MADT_ENABLED };
		p += sizeof(*l);
	}
	struct madt_ioapic *io = (struct madt_ioapic *)p;
	*io = (struct madt_ioapic){ MADT_IOAPIC, sizeof(*io), (uint8_t)ncpus, 0, (uint32_t)IOAPIC_ADDR, 0 };
	p += sizeof(*io);
	struct madt_irq_override *o = (struct madt_irq_override *)p;
	*o = (struct madt_irq_override){ MADT_IRQ_OVERRIDE, sizeof(*o), 0, ACPI_SCI_IRQ, ACPI_SCI_IRQ,
					 MPS_ACTIVE_HIGH | MPS_LEVEL };
	p += sizeof(*o);
	struct madt_lapic_nmi *nmi = (struct madt_lapic_nmi *)p;
	*nmi = (struct madt_lapic_nmi){ MADT_LAPIC_NMI, sizeof(*nmi), MADT_ALL_PROCESSORS, 0, 1 };
}

/* The DSDT takes the rest of the area; returns its length, or 0 when it does not fit. */
static uint32_t dsdt_fill(struct acpi_header *h, uint64_t room)
{
	struct aml a = { .buf = (uint8_t *)(h + 1), .cap = room - sizeof(*h) };
	dsdt_add_s5(&a);
	dsdt_add_devices(&a);
	if (a.overflow)
		return 0;
	acpi_header_init(h, "DSDT", (uint32_t)(sizeof(*h) + a.len), 2);
	return h->length;
}

static void rsdp_fill(struct acpi_rsdp *r, const struct acpi_addrs *ad)
{
	memcpy(r->signature, "RSD PTR ", 8);
	memcpy(r->oem_id, "RUNVM ", 6);
	r->revision = 2;
	r->rsdt_addr = ad->rsdt;
	r->length = sizeof(*r);
	r->xsdt_addr = ad->xsdt;
	r->checksum = acpi_checksum(r, 20);
	r->ext_checksum = acpi_checksum(r, sizeof(*r));
}

int acpi_build(struct vm *vm)
{
	struct acpi_area area = { .host = guest_ptr(&vm->mem, ACPI_TABLES_ADDR, ACPI_TABLES_SIZE) };
	if (!area.host || vm->ncpus < 1 || vm->ncpus > CONFIG_MAX_CPUS) {
		fprintf(stderr, "runvm: cannot place the ACPI tables (%d vCPUs, %llu MiB of RAM)\n",
			vm->ncpus, (unsigned long long)(vm->mem.size >> 20));
		return -1;
	}
	memset(area.host, 0, ACPI_TABLES_SIZE);

	struct acpi_addrs ad = { 0 };
	uint32_t rsdp_gpa = 0;
	struct acpi_rsdp *rsdp = acpi_alloc(&area, sizeof(*rsdp), 16, &rsdp_gpa);
	struct acpi_facs *facs = acpi_alloc(&area, sizeof(*facs), 64, &ad.facs);
	struct acpi_fadt *fadt = acpi_alloc(&area, sizeof(*fadt), 8, &ad.fadt);
	struct acpi_madt *madt = acpi_alloc(&area, madt_size(vm->ncpus), 8, &ad.madt);
	struct acpi_header *rsdt = acpi_alloc(&area, sizeof(*rsdt) + 2 * 4, 8, &ad.rsdt);
	struct acpi_header *xsdt = acpi_alloc(&area, sizeof(*xsdt) + 2 * 8, 8, &ad.xsdt);
	struct acpi_header *dsdt = acpi_alloc(&area, sizeof(*dsdt), 8, &ad.dsdt);
	uint32_t dsdt_len = dsdt ? dsdt_fill(dsdt, ACPI_TABLES_SIZE - (ad.dsdt - ACPI_TABLES_ADDR)) : 0;
	if (!rsdp || !facs || !fadt || !madt || !rsdt || !xsdt || !dsdt_len) {
		fprintf(stderr, "runvm: the ACPI tables do not fit in %llu KiB\n",
			(unsigned long long)(ACPI_TABLES_SIZE >> 10));
		return -1;
	}

	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;
	fadt_fill(fadt, &ad);
	madt_fill(madt, vm->ncpus);

	uint32_t rsdt_entries[2] = { ad.fadt, ad.madt };
	uint64_t xsdt_entries[2] = { ad.fadt, ad.madt };
	acpi_header_init(rsdt, "RSDT", sizeof(*rsdt) + sizeof(rsdt_entries), 1);
	memcpy(rsdt + 1, rsdt_entries, sizeof(rsdt_entries));
	acpi_header_init(xsdt, "XSDT", sizeof(*xsdt) + sizeof(xsdt_entries), 1);
	memcpy(xsdt + 1, xsdt_entries, sizeof(xsdt_entries));

	acpi_header_sum(dsdt);
	acpi_header_sum(&fadt->h);
	acpi_header_sum(&madt->h);
	acpi_header_sum(rsdt);
	acpi_header_sum(xsdt);
	rsdp_fill(rsdp, &ad);
	return 0;
}

uint64_t acpi_rsdp_addr(void)
{
	return ACPI_TABLES_ADDR;
}
