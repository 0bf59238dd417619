#!/bin/sh
# Runs a raw test guest under QEMU for comparison with runvm:
#   guest/tools/qemu-run.sh build/guest/NAME.bin real|protected|long [CPUS] [QEMU options]
# Exit status as runvm's: (debug-exit value << 1) | 1.
set -eu
image=$1 mode=$2
cpus=${3:-1}
[ $# -ge 3 ] && shift 3 || shift $#
case $mode in
	real) n=0 ;; protected) n=1 ;; long) n=2 ;;
	*) echo "usage: $0 IMAGE real|protected|long [CPUS] [QEMU options]" >&2; exit 2 ;;
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
