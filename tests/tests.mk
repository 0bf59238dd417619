# Unit tests: each tests/unit/NAME.c is a program linked against the
# sanitizer build of everything but main().
TEST_SRCS := $(wildcard tests/unit/*.c)
# Tests of the software hypervisor need it built (src/hv/soft/soft.mk).
ifeq ($(SOFT_SRCS),)
TEST_SRCS := $(filter-out tests/unit/soft_% tests/unit/irqchip_%,$(TEST_SRCS))
endif
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=build/tests/%)

build/tests/%: tests/unit/%.c $(SAN_LIB_OBJS) $(wildcard tests/unit/*.h)
	@mkdir -p build/tests
	$(CC) $(CFLAGS) $(SOFT_CFLAGS) $(SAN_FLAGS) -Isrc -DTEST_FILE='"$*"' -o $@ $< $(SAN_LIB_OBJS) $(LDLIBS)

# A /dev/kvm client that knows nothing of runvm (tests/preload.sh).
build/tools/kvm-hello: tests/kvm-hello/kvm-hello.c tests/kvm-hello/guest.S
	@mkdir -p build/tools
	$(CC) $(CFLAGS) -o $@ $^
TEST_TOOLS := build/tools/kvm-hello

# Differential tester of the soft CPU against the host CPU (tests/difftest.sh).
ifneq ($(SOFT_SRCS),)
build/tools/difftest: tests/difftest/difftest.c tests/difftest/gen.c tests/difftest/gen.h $(SOFT_SRCS:%.c=build/obj/%.o)
	@mkdir -p build/tools
	$(CC) $(CFLAGS) $(SOFT_CFLAGS) -Isrc -o $@ $(filter %.c %.o,$^) $(LDLIBS)
TEST_TOOLS += build/tools/difftest
endif
