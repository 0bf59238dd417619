/*
 * ACPI tables: how the guest finds its CPUs, interrupt controllers, power
 * management ports and devices (the Debian kernel has no MP-table support).
 */
#ifndef RUNVM_ACPI_H
#define RUNVM_ACPI_H

#include <stdint.h>

struct vm;

/*
 * Writes the RSDP, RSDT, XSDT, FADT, FACS, MADT and DSDT into guest RAM at
 * ACPI_TABLES_ADDR (src/dev/devices.h) for vm->ncpus vCPUs. Returns 0, or
 * -1 with a message when they do not fit.
 */
int acpi_build(struct vm *vm);

/* The guest-physical address of the RSDP (for boot_params and PVH start info). */
uint64_t acpi_rsdp_addr(void);

/*
 * A device that the DSDT describes under \_SB, with a memory range and an
 * interrupt as its current resources (e.g. a virtio-mmio transport:
 * hid "LNRO0005").
 */
struct acpi_dsdt_device {
	char name[5];                   /* AML name: four of A-Z, 0-9, _; not a digit first */
	char hid[9];                    /* _HID string, e.g. "LNRO0005" */
	uint32_t uid;                   /* _UID */
	uint32_t mmio_base, mmio_len;   /* a Memory32Fixed resource; len 0 for none */
	int gsi;                        /* an Interrupt resource; -1 for none */
	int level_triggered;            /* else edge-triggered; both active high */
};

/*
 * Adds a device to every DSDT that acpi_build() writes from now on (one VM
 * per process). Returns -1 when the description is invalid or the list is
 * full.
 */
int acpi_dsdt_add_device(const struct acpi_dsdt_device *dev);
void acpi_dsdt_clear_devices(void);

#endif
