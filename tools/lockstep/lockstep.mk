# build/lockstep: one guest single-stepped on two hypervisors at once
# (tests/lockstep.sh). It is linked against the VMM's objects except
# main(), as the unit tests are, so it runs the VMM's own loaders and
# devices.
LOCKSTEP_SRCS := $(wildcard tools/lockstep/*.c)
LOCKSTEP_OBJS := $(LOCKSTEP_SRCS:%.c=build/obj/%.o)

$(LOCKSTEP_OBJS): CFLAGS += -Isrc

build/lockstep: $(LOCKSTEP_OBJS) $(LIB_SRCS:%.c=build/obj/%.o)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

TEST_TOOLS += build/lockstep
-include $(LOCKSTEP_OBJS:.o=.d)
