#!/bin/bash
# Runs a raw test guest under QEMU, to compare with runvm:
#   guest/tools/qemu-run.sh build/guest/NAME.bin real|protected|long [CPUS [QEMU options]]
# e.g. `... long 2 -accel tcg`. qemu-shim.S enters the image in the raw
# loader's documented state. Exit status as runvm's: (debug-exit value << 1) | 1.
# Differences to expect: QEMU routes the PIT to I/O APIC pin 2, not 0.
set -eu
if [ $# -lt 2 ]; then
	echo "usage: $0 IMAGE real|protected|long [CPUS [QEMU options]]" >&2
	exit 2
fi
image=$1 mode=$2
shift 2
cpus=1
if [ $# -gt 0 ]; then
	cpus=$1
	shift
fi
case $mode in
	real) n=0 ;; protected) n=1 ;; long) n=2 ;;
	*) echo "$0: unknown mode $mode" >&2; exit 2 ;;
esac
dir=$(dirname "$0")
shim=build/guest/tools/qemu-shim-$mode.elf
mkdir -p build/guest/tools
if [ ! -f "$shim" ] || [ "$dir/qemu-shim.S" -nt "$shim" ]; then
	gcc -m32 -c -DSHIM_MODE=$n -o "$shim.o" "$dir/qemu-shim.S"
	ld -m elf_i386 -Ttext=0x200000 -e _start -o "$shim" "$shim.o"
fi
exec qemu-system-x86_64 -M pc -m 64 -smp "$cpus" -display none -no-reboot \
	-serial stdio -monitor none \
	-device isa-debug-exit,iobase=0xf4,iosize=4 -device pc-testdev \
	-kernel "$shim" -initrd "$image" "$@" </dev/null
