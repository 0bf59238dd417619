/*
 * The platform devices of a runvm PC and their fixed resources.
 *
 * Each device is one file in src/dev/ with an init function that registers
 * its ranges on the VM's buses; devices_init() calls them in order from one
 * table. The numbers here are shared with the ACPI tables and the loaders.
 */
#ifndef RUNVM_DEVICES_H
#define RUNVM_DEVICES_H

#include <stdint.h>

struct vm;

/* Legacy PC ports and lines. */
#define COM1_PORT          0x3f8
#define COM1_IRQ           4
#define I8042_DATA_PORT    0x60
#define I8042_CMD_PORT     0x64
#define SYSTEM_PORT_B      0x61            /* refresh toggle, PIT channel 2 gate/output */
#define CMOS_PORT          0x70            /* index 0x70, data 0x71 */
#define CMOS_IRQ           8
#define CMOS_CENTURY_REG   0x32            /* named by the FADT */
#define POST_PORT          0x80
#define DEBUG_EXIT_PORT    0xf4            /* QEMU isa-debug-exit, 4 bytes */
#define FW_CFG_PORT        0x510           /* selector 0x510, data 0x511 */
#define FW_CFG_DMA_PORT    0x514

/* ACPI fixed hardware (described by the FADT). */
#define ACPI_PM1A_EVT_PORT 0x600           /* 4 bytes: status, enable */
#define ACPI_PM1A_CNT_PORT 0x604           /* 2 bytes: SLP_TYP | SLP_EN */
#define ACPI_PM_TMR_PORT   0x608           /* 4 bytes, 3.579545 MHz, 24 bits */
#define ACPI_RESET_PORT    0x60c           /* 1 byte, write ACPI_RESET_VALUE */
#define ACPI_PM1_EVT_LEN   4
#define ACPI_PM1_CNT_LEN   2
#define ACPI_PM_TMR_LEN    4
#define ACPI_RESET_VALUE   0x0e
#define ACPI_SCI_IRQ       9
#define ACPI_SLP_TYP_S5    5               /* the _S5 package value */

/* QEMU pc-testdev, present with --testdev. */
#define TESTDEV_PORT       0xe0            /* 4 bytes: stored value */
#define TESTDEV_FLUSH_PORT 0xe4            /* 4 bytes: write a page address */
#define TESTDEV_BYTE_PORT  0xe8            /* the 0xe0 register, byte-wise */
#define TESTDEV_IRQ_PORT   0x2000          /* 24 lines, one byte each */
#define TESTDEV_MMIO_BASE  0xff000000ULL
#define TESTDEV_MMIO_SIZE  0x10000ULL

/*
 * virtio-mmio transports (virtio_mmio.c): one page and one I/O APIC line
 * each, described in the DSDT. The lines are the PCI-style GSIs 16-23
 * first, then the ISA lines no legacy device here uses.
 */
#define VIRTIO_MMIO_BASE   0xd0000000ULL
#define VIRTIO_MMIO_STRIDE 0x1000ULL
#define VIRTIO_MMIO_SIZE   0x200ULL        /* registers 0x100, configuration 0x100 */
#define VIRTIO_MMIO_MAX    16
#define VIRTIO_MMIO_GSIS   { 16, 17, 18, 19, 20, 21, 22, 23, 5, 6, 7, 10, 11, 12, 14, 15 }

/* Interrupt controllers (in-kernel), for the MADT. */
#define IOAPIC_ADDR        0xfec00000ULL
#define LAPIC_ADDR         0xfee00000ULL

/* Where the VMM places firmware data in guest memory. */
#define ACPI_TABLES_ADDR   0xe0000ULL      /* RSDP first: the BIOS search area */
#define ACPI_TABLES_SIZE   0x10000ULL

/* Registers every platform device; -1 with a message on failure. */
int devices_init(struct vm *vm);
/* Puts every device back in its power-on state (guest reboot). */
void devices_reset(struct vm *vm);
/* Stops device threads and restores the terminal. */
void devices_destroy(struct vm *vm);

#endif
