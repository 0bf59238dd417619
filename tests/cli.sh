#!/usr/bin/env bash
# Command-line and bad-input tests: every user mistake gets a clear message
# and exit status 2, never a crash (the binary is the sanitizer build).
set -u
RUNVM=${1:-build/runvm-san}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect NAME STATUS PATTERN -- ARGS...: runs runvm, checks status and that stderr/stdout matches PATTERN.
expect() {
	local name=$1 want=$2 pattern=$3
	shift 4
	local out status
	out=$(timeout -k 5 20 "$RUNVM" "$@" </dev/null 2>&1)
	status=$?
	if [ "$status" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out" &&
	   ! grep -qE 'Sanitizer|runtime error' <<<"$out"; then
		echo "PASS cli/$name"
	else
		echo "FAIL cli/$name (status $status, wanted $want; output matched /$pattern/: $(grep -cE -- "$pattern" <<<"$out"))"
		sed 's/^/    /' <<<"$out" | tail -n 8
	fi
}

expect help 0 'usage: runvm' -- --help
expect version 0 '^runvm [0-9]' -- --version
expect seccomp-list 0 '^vcpu +[0-9]+ system calls: .*ioctl\([0-9]+ requests\)' -- --seccomp-list
expect no-guest 2 'nothing to run' --
expect unknown-option 2 "unknown option.*--frobnicate" -- --frobnicate
expect missing-argument 2 'missing argument' -- --kernel
expect bad-accel 2 'accel must be kvm, soft or auto' -- --accel xen --raw /dev/null
expect bad-cpus-zero 2 'cpus must be a number from 1 to 64' -- --cpus 0 --raw /dev/null
expect bad-cpus-many 2 'cpus must be a number from 1 to 64' -- --cpus 65 --raw /dev/null
expect bad-cpus-text 2 'cpus must be a number' -- --cpus two --raw /dev/null
expect bad-mem 2 "is not a size" -- --mem lots --raw /dev/null
expect tiny-mem 2 "out of range" -- --mem 1M --raw /dev/null
expect huge-mem 2 "out of range" -- --mem 100G --raw /dev/null
expect bad-raw-mode 2 'raw-mode must be real, protected or long' -- --raw-mode v86 --raw /dev/null
expect kernel-and-raw 2 'either --kernel or --raw' -- --kernel a --raw b
expect stray-argument 2 "unexpected argument 'extra'" -- --raw /dev/null extra
expect initrd-with-raw 2 'go with --kernel' -- --raw /dev/null --initrd x

# Input files: these fail in the loader, after the hypervisor opened; they need one.
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	acc=kvm
elif [ -f src/hv/soft/soft.mk ]; then
	acc=soft
else
	acc=
fi
if [ -n "$acc" ]; then
	head -c 4096 /dev/urandom >"$tmp/random"
	: >"$tmp/empty"
	printf 'MZ\0\0not a kernel' >"$tmp/short"
	expect missing-kernel 2 "no-such-file.*No such file" -- --accel $acc --kernel "$tmp/no-such-file"
	expect empty-kernel 2 "empty" -- --accel $acc --kernel "$tmp/empty"
	expect random-kernel 2 "not a bzImage, PVH ELF or multiboot kernel" -- --accel $acc --kernel "$tmp/random"
	expect short-kernel 2 "not a bzImage, PVH ELF or multiboot kernel" -- --accel $acc --kernel "$tmp/short"
	expect directory-kernel 2 "$tmp" -- --accel $acc --kernel "$tmp"
	expect missing-raw 2 "no-such-file" -- --accel $acc --raw "$tmp/no-such-file"
	head -c $((5 << 20)) /dev/zero >"$tmp/big"
	expect raw-too-big 2 "does not fit|too large" -- --accel $acc --mem 4M --raw-mode long --raw "$tmp/big"
else
	echo "SKIP cli/input-files (no usable /dev/kvm and no software hypervisor)"
fi
exit 0
