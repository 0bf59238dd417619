/*
 * ACPI tables as a guest kernel reads them: from the RSDP through the
 * XSDT, every checksum, and the fields that must match the devices.
 * The tables are parsed by byte offsets from the ACPI specification, not
 * with the builder's own structs.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "dev/devices.h"
#include "vmm/acpi.h"
#include "vmm/vm.h"

static struct vm vm;

static void vm_setup(int ncpus)
{
	memset(&vm, 0, sizeof(vm));
	vm.ncpus = ncpus;
	if (guest_mem_init(&vm.mem, 64ULL << 20) < 0)
		abort();
}

static void vm_teardown(void)
{
	guest_mem_free(&vm.mem);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* A table at gpa with this signature, a sane length and a zero checksum; or NULL. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	const uint8_t *h = guest_ptr(&vm.mem, gpa, 36);
	if (!h || memcmp(h, sig, 4) != 0) {
		fprintf(stderr, "no %s at 0x%llx\n", sig, (unsigned long long)gpa);
		return NULL;
	}
	uint32_t len = le32(h + 4);
	if (len < 36 || gpa < ACPI_TABLES_ADDR || gpa + len > ACPI_TABLES_ADDR + ACPI_TABLES_SIZE ||
	    sum(h, len) != 0) {
		fprintf(stderr, "%s: bad length %u or checksum\n", sig, len);
		return NULL;
	}
	return h;
}

static const uint8_t *rsdp(void)
{
	uint64_t a = acpi_rsdp_addr();
	const uint8_t *r = guest_ptr(&vm.mem, a, 36);
	if (!r || memcmp(r, "RSD PTR ", 8) != 0)
		return NULL;
	return r;
}

/* The table an XSDT entry points to with this signature. */
static const uint8_t *xsdt_find(const char *sig)
{
	const uint8_t *x = table(le64(rsdp() + 24), "XSDT");
	if (!x)
		return NULL;
	for (uint32_t off = 36; off + 8 <= le32(x + 4); off += 8) {
		const uint8_t *t = guest_ptr(&vm.mem, le64(x + off), 4);
		if (t && memcmp(t, sig, 4) == 0)
			return table(le64(x + off), sig);
	}
	return NULL;
}

static void rsdp_and_roots(void)
{
	vm_setup(1);
	CHECK_EQ(acpi_build(&vm), 0);
	const uint8_t *r = rsdp();
	CHECK(r != NULL);
	if (!r)
		goto out;
	uint64_t a = acpi_rsdp_addr();
	CHECK(a >= 0xe0000 && a + 36 <= 0x100000 && a % 16 == 0);   /* where a BIOS scan looks */
	CHECK_EQ(r[15], 2);                     /* revision */
	CHECK_EQ(sum(r, 20), 0);
	CHECK_EQ(le32(r + 20), 36);
	CHECK_EQ(sum(r, 36), 0);
	const uint8_t *rsdt = table(le32(r + 16), "RSDT");
	const uint8_t *xsdt = table(le64(r + 24), "XSDT");
	CHECK(rsdt && xsdt);
	if (!rsdt || !xsdt)
		goto out;
	uint32_t n = (le32(rsdt + 4) - 36) / 4;
	CHECK_EQ(n, 2);
	CHECK_EQ((le32(xsdt + 4) - 36) / 8, n);
	for (uint32_t i = 0; i < n; i++)
		CHECK_EQ(le32(rsdt + 36 + 4 * i), le64(xsdt + 36 + 8 * i));
	CHECK(xsdt_find("FACP") != NULL);
	CHECK(xsdt_find("APIC") != NULL);
out:
	vm_teardown();
}

static void gas_is_io(const uint8_t *g, unsigned bits, uint64_t port)
{
	CHECK_EQ(g[0], 1);                      /* system I/O */
	CHECK_EQ(g[1], bits);
	CHECK_EQ(le64(g + 4), port);
}

static void fadt_fields(void)
{
	vm_setup(2);
	CHECK_EQ(acpi_build(&vm), 0);
	const uint8_t *f = xsdt_find("FACP");
	CHECK(f != NULL);
	if (!f)
		goto out;
	CHECK(f[8] >= 3);
	CHECK(le32(f + 4) >= 244);
	CHECK_EQ(le16(f + 46), ACPI_SCI_IRQ);
	CHECK_EQ(le32(f + 48), 0);              /* no SMI command port: always in ACPI mode */
	CHECK_EQ(le32(f + 56), ACPI_PM1A_EVT_PORT);
	CHECK_EQ(le32(f + 64), ACPI_PM1A_CNT_PORT);
	CHECK_EQ(le32(f + 76), ACPI_PM_TMR_PORT);
	CHECK_EQ(f[88], ACPI_PM1_EVT_LEN);
	CHECK_EQ(f[89], ACPI_PM1_CNT_LEN);
	CHECK_EQ(f[91], 4);
	CHECK_EQ(f[108], CMOS_CENTURY_REG);
	uint16_t boot_arch = le16(f + 109);
	CHECK(boot_arch & 1);                   /* legacy devices */
	CHECK(!(boot_arch & 2));                /* no 8042 */
	uint32_t flags = le32(f + 112);
	CHECK(flags & (1u << 10));              /* RESET_REG_SUP */
	CHECK(!(flags & (1u << 20)));           /* not HW_REDUCED_ACPI */
	CHECK(!(flags & (1u << 8)));            /* a 24-bit PM timer */
	gas_is_io(f + 116, 8, ACPI_RESET_PORT);
	CHECK_EQ(f[128], ACPI_RESET_VALUE);
	gas_is_io(f + 148, 8 * ACPI_PM1_EVT_LEN, ACPI_PM1A_EVT_PORT);
	gas_is_io(f + 172, 8 * ACPI_PM1_CNT_LEN, ACPI_PM1A_CNT_PORT);
	gas_is_io(f + 208, 32, ACPI_PM_TMR_PORT);

	uint32_t facs_addr = le32(f + 36);
	const uint8_t *facs = guest_ptr(&vm.mem, facs_addr, 64);
	CHECK(facs && memcmp(facs, "FACS", 4) == 0 && le32(facs + 4) == 64);
	CHECK_EQ(facs_addr % 64, 0);
	CHECK_EQ(le64(f + 132), 0);             /* X_FIRMWARE_CTRL unused when FIRMWARE_CTRL is set */
	CHECK_EQ(le32(f + 40), le64(f + 140));  /* DSDT and X_DSDT agree */
	CHECK(table(le64(f + 140), "DSDT") != NULL);
out:
	vm_teardown();
}

static void madt_for(int ncpus)
{
	vm_setup(ncpus);
	CHECK_EQ(acpi_build(&vm), 0);
	const uint8_t *m = xsdt_find("APIC");
	CHECK(m != NULL);
	if (!m)
		goto out;
	CHECK_EQ(le32(m + 36), LAPIC_ADDR);
	CHECK(le32(m + 40) & 1);                /* PCAT_COMPAT */
	uint32_t len = le32(m + 4), off = 44;
	int lapics = 0, ioapics = 0, sci_override = 0, irq0_override = 0;
	while (off + 2 <= len && m[off + 1] >= 2 && off + m[off + 1] <= len) {
		const uint8_t *e = m + off;
		switch (e[0]) {
		case 0:
			CHECK_EQ(e[1], 8);
			CHECK_EQ(e[3], lapics);         /* APIC ID = vCPU index */
			CHECK(le32(e + 4) & 1);         /* enabled */
			lapics++;
			break;
		case 1:
			CHECK_EQ(e[1], 12);
			CHECK_EQ(e[2], ncpus);
			CHECK_EQ(le32(e + 4), IOAPIC_ADDR);
			CHECK_EQ(le32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			CHECK_EQ(e[1], 10);
			if (e[3] == 0)
				irq0_override++;
			if (e[3] == ACPI_SCI_IRQ) {
				CHECK_EQ(le32(e + 4), ACPI_SCI_IRQ);
				CHECK_EQ(le16(e + 8), 0x000d);  /* level, active high */
				sci_override++;
			}
			break;
		}
		off += e[1];
	}
	CHECK_EQ(off, len);                     /* the entries fill the table exactly */
	CHECK_EQ(lapics, ncpus);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(sci_override, 1);
	CHECK_EQ(irq0_override, 0);
out:
	vm_teardown();
}

static void madt_1_cpu(void) { madt_for(1); }
static void madt_2_cpus(void) { madt_for(2); }
static void madt_8_cpus(void) { madt_for(8); }
static void madt_max_cpus(void) { madt_for(CONFIG_MAX_CPUS); }

static const uint8_t *find_bytes(const uint8_t *p, size_t n, const void *what, size_t len)
{
	for (size_t i = 0; i + len <= n; i++)
		if (memcmp(p + i, what, len) == 0)
			return p + i;
	return NULL;
}

static const uint8_t *dsdt(uint32_t *len)
{
	const uint8_t *f = xsdt_find("FACP");
	const uint8_t *d = f ? table(le64(f + 140), "DSDT") : NULL;
	*len = d ? le32(d + 4) : 0;
	return d;
}

static void dsdt_has_s5(void)
{
	vm_setup(1);
	acpi_dsdt_clear_devices();
	CHECK_EQ(acpi_build(&vm), 0);
	uint32_t len;
	const uint8_t *d = dsdt(&len);
	CHECK(d != NULL);
	if (d) {
		CHECK_EQ(d[8], 2);                 /* revision 2: 64-bit integers */
		/* Name(_S5_, Package() { 5, 5, 0, 0 }) */
		static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
					      0x0a, ACPI_SLP_TYP_S5, 0x0a, ACPI_SLP_TYP_S5, 0x00, 0x00 };
		CHECK(find_bytes(d + 36, len - 36, s5, sizeof(s5)) != NULL);
	}
	vm_teardown();
}

/* Decodes a PkgLength at p; returns the length it encodes and sets *nbytes. */
static uint32_t pkg_length(const uint8_t *p, int *nbytes)
{
	int n = (p[0] >> 6) + 1;
	uint32_t v = n == 1 ? p[0] & 0x3f : p[0] & 0x0f;
	for (int i = 1; i < n; i++)
		v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	*nbytes = n;
	return v;
}

static struct acpi_dsdt_device virtio_dev(int i)
{
	struct acpi_dsdt_device d = {
		.hid = "LNRO0005", .uid = (uint32_t)i,
		.mmio_base = 0xd0000000u + 0x200u * i, .mmio_len = 0x200,
		.gsi = 5 + i % 4, .level_triggered = i & 1,
	};
	snprintf(d.name, sizeof(d.name), "VR%02d", i);
	return d;
}

/* The \_SB scope spans the rest of the DSDT, and holds every device. */
static void check_devices(int n)
{
	vm_setup(1);
	acpi_dsdt_clear_devices();
	for (int i = 0; i < n; i++) {
		struct acpi_dsdt_device d = virtio_dev(i);
		CHECK_EQ(acpi_dsdt_add_device(&d), 0);
	}
	CHECK_EQ(acpi_build(&vm), 0);
	uint32_t len;
	const uint8_t *d = dsdt(&len);
	/* The scope follows the 14 bytes of \_S5. */
	const uint8_t *scope = d ? d + 36 + 14 : NULL;
	CHECK(scope && scope[0] == 0x10);
	if (!scope || scope[0] != 0x10)
		goto out;
	int nb;
	uint32_t pkg = pkg_length(scope + 1, &nb);
	CHECK_EQ((scope + 1 - d) + pkg, len);
	CHECK(memcmp(scope + 1 + nb, "\\_SB_", 5) == 0);
	CHECK(n < 2 || nb > 1);                 /* many devices need a longer PkgLength */
	const uint8_t *p = scope + 1 + nb + 5;
	int devices = 0;
	while (p + 2 < d + len && p[0] == 0x5b && p[1] == 0x82) {
		uint32_t dl = pkg_length(p + 2, &nb);
		char name[5] = { 0 };
		memcpy(name, p + 2 + nb, 4);
		struct acpi_dsdt_device want = virtio_dev(devices);
		CHECK(strcmp(name, want.name) == 0);
		CHECK(find_bytes(p, dl + 2, "LNRO0005", 8) != NULL);
		uint8_t mem[] = { 0x86, 0x09, 0x00, 0x01 };
		const uint8_t *m = find_bytes(p, dl + 2, mem, sizeof(mem));
		CHECK(m && le32(m + 4) == want.mmio_base && le32(m + 8) == want.mmio_len);
		const uint8_t *irq = m ? m + 12 : NULL;
		CHECK(irq && irq[0] == 0x89 && le32(irq + 5) == (uint32_t)want.gsi);
		CHECK(irq && (irq[3] & 2) == (want.level_triggered ? 0 : 2));
		p += 2 + dl;
		devices++;
	}
	CHECK_EQ(devices, n);
	CHECK(p == d + len);
out:
	acpi_dsdt_clear_devices();
	vm_teardown();
}

static void dsdt_one_device(void) { check_devices(1); }
static void dsdt_many_devices(void) { check_devices(32); }

static void bad_device_descriptions(void)
{
	struct acpi_dsdt_device d = virtio_dev(0);
	memcpy(d.name, "1ABC", 5);
	CHECK_EQ(acpi_dsdt_add_device(&d), -1);
	memcpy(d.name, "ab_c", 5);
	CHECK_EQ(acpi_dsdt_add_device(&d), -1);
	memcpy(d.name, "AB", 3);
	CHECK_EQ(acpi_dsdt_add_device(&d), -1);
	d = virtio_dev(0);
	d.hid[0] = 0;
	CHECK_EQ(acpi_dsdt_add_device(&d), -1);
	d = virtio_dev(0);
	memset(d.hid, 'A', sizeof(d.hid));      /* not terminated */
	CHECK_EQ(acpi_dsdt_add_device(&d), -1);
	acpi_dsdt_clear_devices();
	d = virtio_dev(0);
	for (int i = 0; i < 32; i++)
		CHECK_EQ(acpi_dsdt_add_device(&d), 0);
	CHECK_EQ(acpi_dsdt_add_device(&d), -1); /* full */
	acpi_dsdt_clear_devices();
}

static void bad_cpu_counts(void)
{
	vm_setup(0);
	CHECK_EQ(acpi_build(&vm), -1);
	vm.ncpus = CONFIG_MAX_CPUS + 1;
	CHECK_EQ(acpi_build(&vm), -1);
	vm_teardown();
}

/* A rebuild (a guest reboot) gives the same bytes. */
static void rebuild_is_identical(void)
{
	vm_setup(4);
	CHECK_EQ(acpi_build(&vm), 0);
	uint8_t *area = guest_ptr(&vm.mem, ACPI_TABLES_ADDR, ACPI_TABLES_SIZE);
	uint8_t *copy = malloc(ACPI_TABLES_SIZE);
	memcpy(copy, area, ACPI_TABLES_SIZE);
	memset(area, 0xaa, ACPI_TABLES_SIZE);
	CHECK_EQ(acpi_build(&vm), 0);
	CHECK(memcmp(copy, area, ACPI_TABLES_SIZE) == 0);
	free(copy);
	vm_teardown();
}

int main(void)
{
	RUN(rsdp_and_roots);
	RUN(fadt_fields);
	RUN(madt_1_cpu);
	RUN(madt_2_cpus);
	RUN(madt_8_cpus);
	RUN(madt_max_cpus);
	RUN(dsdt_has_s5);
	RUN(dsdt_one_device);
	RUN(dsdt_many_devices);
	RUN(bad_device_descriptions);
	RUN(bad_cpu_counts);
	RUN(rebuild_is_identical);
	TEST_EXIT();
}
