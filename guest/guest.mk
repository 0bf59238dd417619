# The freestanding test guests: build/guest/NAME.bin, raw images for
# `runvm --raw`. Built with the host gcc/as/ld, independent of CC/CFLAGS
# (the guests are not Linux programs). tests/guests.sh runs them.

GUEST_CC      ?= gcc
GUEST_LD      ?= ld
GUEST_OBJCOPY ?= objcopy

GUEST_OUT := build/guest
# One RWX segment is what a raw image is.
GUEST_LDFLAGS := -nostdlib --no-warn-rwx-segments

GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror \
	-ffreestanding -nostdlib -fno-builtin -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables \
	-fno-unwind-tables -fcf-protection=none -mno-red-zone \
	-mgeneral-regs-only -Iguest/lib -MMD -MP
GUEST_CFLAGS32 := $(GUEST_CFLAGS) -m32 -march=i686
GUEST_CFLAGS64 := $(GUEST_CFLAGS) -m64 -mcmodel=small

# Guests by the mode they start in. A guest NAME is guest/NAME.c (or .S for
# real mode) plus the objects listed in GUEST_EXTRA_NAME.
GUESTS16 := real
GUESTS32 := prot32 prot32_int prot32_paging irq_pic
GUESTS64 := long64 long_int3 long_user long_syscall hlt sti_shadow irq_apic apic_eoi smp virtio_rng demo
GUEST_EXTRA_smp := $(GUEST_OUT)/obj64/smp_trampoline.o
GUEST_EXTRA_long64 := $(GUEST_OUT)/obj64/lib/pt64.o
GUEST_EXTRA_long_user := $(GUEST_OUT)/obj64/lib/pt64.o $(GUEST_OUT)/obj64/lib/user64.o
GUEST_EXTRA_long_syscall := $(GUEST_OUT)/obj64/lib/pt64.o $(GUEST_OUT)/obj64/lib/user64.o

GUEST_LIB := string print test fwcfg trap apic iotests
GUEST_LIB32 := $(GUEST_OUT)/obj32/lib/start32.o $(GUEST_OUT)/obj32/lib/idt32.o \
	$(GUEST_LIB:%=$(GUEST_OUT)/obj32/lib/%.o)
GUEST_LIB64 := $(GUEST_OUT)/obj64/lib/start64.o $(GUEST_OUT)/obj64/lib/idt64.o \
	$(GUEST_LIB:%=$(GUEST_OUT)/obj64/lib/%.o)

GUEST_BINS := $(foreach g,$(GUESTS16) $(GUESTS32) $(GUESTS64),$(GUEST_OUT)/$(g).bin)

guests: $(GUEST_BINS)

$(GUEST_OUT)/obj32/%.o: guest/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS32) -c -o $@ $<
$(GUEST_OUT)/obj32/%.o: guest/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS32) -c -o $@ $<
$(GUEST_OUT)/obj64/%.o: guest/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS64) -c -o $@ $<
$(GUEST_OUT)/obj64/%.o: guest/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS64) -c -o $@ $<

# Real-mode guests: one assembly file linked at 0x7c00.
$(GUESTS16:%=$(GUEST_OUT)/%.elf): $(GUEST_OUT)/%.elf: $(GUEST_OUT)/obj32/%.o guest/lib/real.ld
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -T guest/lib/real.ld -o $@ $<

# One link rule per guest, so that each can list its own extra objects.
define guest_link
$$(GUEST_OUT)/$(1).elf: $$(GUEST_OUT)/obj$(2)/$(1).o $$(GUEST_EXTRA_$(1)) $$(GUEST_LIB$(2)) guest/lib/guest.ld
	$$(GUEST_LD) -m $(3) $$(GUEST_LDFLAGS) -T guest/lib/guest.ld -o $$@ $$(filter %.o,$$^)
endef
$(foreach g,$(GUESTS32),$(eval $(call guest_link,$(g),32,elf_i386)))
$(foreach g,$(GUESTS64),$(eval $(call guest_link,$(g),64,elf_x86_64)))

$(GUEST_OUT)/%.bin: $(GUEST_OUT)/%.elf
	$(GUEST_OBJCOPY) -O binary $< $@

.PHONY: guests
.SECONDARY: $(GUEST_BINS:.bin=.elf)
-include $(wildcard $(GUEST_OUT)/obj32/*.d $(GUEST_OUT)/obj32/lib/*.d $(GUEST_OUT)/obj64/*.d $(GUEST_OUT)/obj64/lib/*.d)
