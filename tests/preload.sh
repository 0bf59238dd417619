#!/usr/bin/env bash
# An unmodified /dev/kvm program (tests/kvm-hello) runs on the software
# hypervisor through LD_PRELOAD=build/libsoftkvm.so and prints the same as
# on the host's /dev/kvm, in real, protected, paged and long mode.
set -u
HELLO=build/tools/kvm-hello
LIB=build/libsoftkvm.so
hw_virt=$(grep -qwE 'vmx|svm' /proc/cpuinfo && echo yes || echo no)

expected() {
	case $1 in
	-r) echo 'Hello, world! (real mode)' ;;
	-s | -p) echo 'Hello, world! (32-bit mode)' ;;
	-l) echo 'Hello, world! (64-bit mode)' ;;
	esac
	echo 'halted with eax=42'
}

for mode in -r -s -p -l; do
	name=preload/kvm-hello$mode
	if [ ! -f "$LIB" ]; then
		echo "SKIP $name (the software hypervisor is not built yet)"
		continue
	fi
	soft=$(LD_PRELOAD=$PWD/$LIB timeout -k 5 20 "$HELLO" $mode 2>&1)
	soft_status=$?
	if [ $soft_status -ne 0 ] || [ "$soft" != "$(expected $mode)" ]; then
		echo "FAIL $name (status $soft_status on the soft hypervisor)"
		sed 's/^/    /' <<<"$soft" | tail -n 5
		continue
	fi
	if [ ! -w /dev/kvm ]; then
		echo "PASS $name (soft only: no usable /dev/kvm to compare with)"
		continue
	fi
	if [ "$mode" = -p ] && [ "$hw_virt" = no ]; then
		# This host's KVM (no VT-x/AMD-V) triple-faults on 32-bit paging.
		echo "PASS $name (soft only: this host's KVM cannot run 32-bit paging)"
		continue
	fi
	kvm=$(timeout -k 5 20 "$HELLO" $mode 2>&1)
	if [ "$kvm" = "$soft" ]; then
		echo "PASS $name"
	else
		echo "FAIL $name (outputs differ)"
		diff <(echo "$kvm") <(echo "$soft") | sed 's/^/    /' | head
	fi
done
