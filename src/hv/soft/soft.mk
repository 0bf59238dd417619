# The soft hypervisor (src/hv/soft): the KVM ABI in userspace with an
# x86-64 CPU of its own, its in-kernel irqchip included.
SOFT_SRCS += $(wildcard src/hv/soft/*.c src/hv/soft/*/*.c)
SOFT_CFLAGS += -DRUNVM_HAVE_SOFT
