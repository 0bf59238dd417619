# The hostile guests (guest/hostile/NAME.c): raw long-mode images that
# attack runvm through its devices and the CPU's corner cases, built like
# the test guests of guest/guest.mk and with its library. tests/hostile.sh
# runs them.

HOSTILE_GUESTS := pio_storm mmio_storm ipi_absent dma_outside triple_fault \
	pf_recursive exception_loop virtio_hostile
HOSTILE_BINS := $(HOSTILE_GUESTS:%=$(GUEST_OUT)/hostile/%.bin)

$(GUEST_OUT)/obj64/hostile/%.o: guest/hostile/%.c guest/hostile/hostile.h
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS64) -c -o $@ $<

$(GUEST_OUT)/hostile/%.elf: $(GUEST_OUT)/obj64/hostile/%.o $(GUEST_LIB64) guest/lib/guest.ld
	@mkdir -p $(dir $@)
	$(GUEST_LD) -m elf_x86_64 $(GUEST_LDFLAGS) -T guest/lib/guest.ld -o $@ $(filter %.o,$^)

guests: $(HOSTILE_BINS)
check: $(HOSTILE_BINS)

.SECONDARY: $(HOSTILE_BINS:.bin=.elf)
