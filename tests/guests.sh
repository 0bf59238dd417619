#!/bin/sh
# The guest suite: runs every test guest of guest/ under runvm.
#
#   tests/guests.sh RUNVM_BINARY ACCEL CPUS
#
# Prints one line per guest:
#   PASS guest/NAME (ACCEL, CPUS cpu)
#   FAIL guest/NAME (ACCEL, CPUS cpu): why      (then its last output lines)
#   SKIP guest/NAME (reason)
# A guest passes when runvm exits with status 1 (the guest wrote 0 to the
# debug-exit port) and printed no FAIL line. Exit status 0 if none failed.
set -u

if [ $# -ne 3 ]; then
	echo "usage: $0 RUNVM_BINARY ACCEL CPUS" >&2
	exit 2
fi
runvm=$1 accel=$2 cpus=$3
case $cpus in
	''|*[!0-9]*) echo "$0: CPUS must be a number" >&2; exit 2 ;;
esac
if [ ! -x "$runvm" ]; then
	echo "$0: $runvm is not an executable" >&2
	exit 2
fi

# Overridable for testing this script: where the images are, the timeout
# per guest, the KVM device.
images=${GUEST_DIR:-build/guest}
timeout_s=${GUEST_TIMEOUT:-20}

# The guests. Columns: name | image | mode | extra runvm options |
# minimum vCPUs | host-KVM limit: why this host's KVM cannot run the guest
# when the CPU has no VT-x/AMD-V (then /dev/kvm emulates all non-CPL-3 code
# itself); such a guest is skipped there, and only there.
guest_table() {
	cat <<'EOF'
real          | real.bin          | real      |  | 1 |
prot32        | prot32.bin        | protected |  | 1 |
prot32_int    | prot32_int.bin    | protected |  | 1 | host KVM cannot emulate IRET, INT n, INT3, INTO, BOUND in protected mode
prot32_paging | prot32_paging.bin | protected |  | 1 | host KVM supports paging only in long mode
long64        | long64.bin        | long      |  | 1 |
long_int3     | long_int3.bin     | long      |  | 1 | host KVM cannot emulate INT3 or INT n in 64-bit mode
long_user     | long_user.bin     | long      |  | 1 |
long_syscall  | long_syscall.bin  | long      |  | 1 | host KVM runs CPL-3 code natively: host selectors, no CR4.TSD, SYSCALL and INT n not virtualized
hlt           | hlt.bin           | long      |  | 1 |
sti_shadow    | sti_shadow.bin    | long      |  | 1 | host KVM delivers interrupts late after STI in emulated CPL-0 code
irq_pic       | irq_pic.bin       | protected |  | 1 |
irq_apic      | irq_apic.bin      | long      |  | 1 |
apic_eoi      | apic_eoi.bin      | long      |  | 1 | host KVM local APIC keeps no in-service state: ISR, EOI order, level-triggered remote IRR
smp           | smp.bin           | long      |  | 1 |
virtio_rng    | virtio_rng.bin    | long      | --rng | 1 |
EOF
}

# Whether this host's /dev/kvm can be opened, and whether the CPU has
# hardware virtualization (without it, the host-KVM limits apply).
kvm_dev=${KVM_DEVICE:-/dev/kvm}
kvm_usable() {
	[ -c "$kvm_dev" ] && (exec 3<>"$kvm_dev") 2>/dev/null
}
hw_virt() {
	grep -qwE 'vmx|svm' /proc/cpuinfo 2>/dev/null
}

no_kvm=
host_limited=
if [ "$accel" = kvm ]; then
	kvm_usable || no_kvm=1
	hw_virt || host_limited=1
fi

trim() {
	printf '%s' "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//'
}

out=$(mktemp "${TMPDIR:-/tmp}/guests.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT INT TERM

failed=0
tab=$(guest_table)
while IFS='|' read -r name image mode extra mincpus limit; do
	name=$(trim "$name") image=$(trim "$image") mode=$(trim "$mode")
	extra=$(trim "$extra") mincpus=$(trim "$mincpus") limit=$(trim "$limit")
	[ -n "$name" ] || continue

	if [ -n "$no_kvm" ]; then
		echo "SKIP guest/$name (no usable /dev/kvm)"
		continue
	fi
	if [ -n "$limit" ] && [ -n "$host_limited" ]; then
		echo "SKIP guest/$name ($limit; CPU without VT-x/AMD-V)"
		continue
	fi
	if [ "$cpus" -lt "$mincpus" ]; then
		echo "SKIP guest/$name (needs $mincpus cpus)"
		continue
	fi
	tag="guest/$name ($accel, $cpus cpu)"
	if [ ! -f "$images/$image" ]; then
		echo "FAIL $tag: $images/$image missing (make guests)"
		failed=$((failed + 1))
		continue
	fi

	# $extra is split into options on purpose.
	# shellcheck disable=SC2086
	timeout -k 5 "$timeout_s" "$runvm" --quiet --accel "$accel" \
		--cpus "$cpus" --testdev $extra \
		--raw "$images/$image" --raw-mode "$mode" \
		</dev/null >"$out" 2>&1
	status=$?

	why=
	case $status in
		1) ;;
		124|137) why="timed out after ${timeout_s}s" ;;
		*) why="exit status $status" ;;
	esac
	if [ -z "$why" ] && grep -q '^FAIL' "$out"; then
		why="FAIL lines in the output"
	fi
	if [ -z "$why" ]; then
		echo "PASS $tag"
	else
		echo "FAIL $tag: $why"
		if [ -s "$out" ]; then
			tail -n 20 "$out" | tr -d '\r' | sed 's/^/    /'
		else
			echo "    (no output)"
		fi
		failed=$((failed + 1))
	fi
done <<EOF
$tab
EOF

[ "$failed" -eq 0 ]
