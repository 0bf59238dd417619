#!/usr/bin/env bash
# The default Linux guest (the guest kit: Debian's cloud kernel and a
# busybox initramfs) on the software hypervisor: boot to the init marker
# and power off with status 0; run busybox commands whose output is known.
#   tests/linux.sh RUNVM
set -u
RUNVM=${1:-build/runvm}
KIT=kit
TIMEOUT=${LINUX_TIMEOUT:-120}

if [ ! -f $KIT/bzImage ] || [ ! -f $KIT/initramfs-marker.cpio.gz ]; then
	echo "SKIP linux/* (the guest kit is not built: scripts/guest-kit)"
	exit 0
fi

out=$(mktemp)
trap 'rm -f "$out" "$out.done" "$out.status"' EXIT

# boot NAME KERNEL INITRD APPEND [runvm options...] < input
boot() {
	local name=$1 kernel=$2 initrd=$3 append=$4
	shift 4
	timeout -k 5 "$TIMEOUT" "$RUNVM" --accel soft --mem 512M "$@" --kernel "$kernel" \
		--initrd "$initrd" --append "console=ttyS0 $append" >"$out" 2>&1
}

report() {
	local name=$1 ok=$2 why=$3
	if [ "$ok" = yes ]; then
		echo "PASS linux/$name"
	else
		echo "FAIL linux/$name ($why)"
		tr -d '\r' <"$out" | tail -n 25 | sed 's/^/    /'
	fi
}

check_marker() {
	local name=$1 status=$2
	if [ "$status" -ne 0 ]; then
		report "$name" no "exit status $status, wanted 0 (power-off)"
	elif ! tr -d '\r' <"$out" | grep -q '^RUNVM-INIT-OK '; then
		report "$name" no "no RUNVM-INIT-OK marker"
	else
		report "$name" yes ""
	fi
}

for cpus in 1 2; do
	boot marker-bzimage-$cpus $KIT/bzImage $KIT/initramfs-marker.cpio.gz "" --cpus $cpus </dev/null
	check_marker marker-bzimage-${cpus}cpu $?
done

if [ -f $KIT/vmlinux ]; then
	boot marker-pvh $KIT/vmlinux $KIT/initramfs-marker.cpio.gz "" </dev/null
	check_marker marker-pvh $?
fi

# Script mode: init runs what it reads on the console, then powers off.
# The script is typed only once the guest's shell reads the console
# (RUNVM-SCRIPT-READY): what a UART receives before the guest opens it is
# lost, on real hardware too.
script_input() {
	local i
	for i in $(seq $((TIMEOUT * 5))); do
		[ -e "$out.done" ] && return
		grep -q RUNVM-SCRIPT-READY "$out" && break
		sleep 0.2
	done
	cat <<'SCRIPT'
echo "sum $(sha256sum /etc/hostname | cut -d' ' -f1)"
awk 'BEGIN { x = 2; for (i = 0; i < 5; i++) x = x / 3 + 1.25; printf "awk %.6f\n", x }'
echo "cpus $(grep -c ^processor /proc/cpuinfo)"
echo "arith $((6 * 7))"
exit
SCRIPT
}
rm -f "$out.done" "$out.status"
script_input | {
	boot script $KIT/vmlinux $KIT/initramfs.cpio.gz "runvm.script=1" --cpus 2
	echo $? >"$out.status"
	touch "$out.done"
}
status=$(cat "$out.status")
rm -f "$out.done" "$out.status"
clean=$(tr -d '\r' <"$out")
want_sum=$(sha256sum guest/linux/etc/hostname | cut -d' ' -f1)
ok=yes why=""
grep -qx "sum $want_sum" <<<"$clean" || { ok=no; why="sha256sum of /etc/hostname"; }
grep -qx "awk 1.875514" <<<"$clean" || { ok=no; why="$why; floating point in awk"; }
grep -qx "cpus 2" <<<"$clean" || { ok=no; why="$why; the guest does not see 2 CPUs"; }
grep -qx "arith 42" <<<"$clean" || { ok=no; why="$why; shell arithmetic"; }
[ "$status" -eq 0 ] || { ok=no; why="$why; exit status $status"; }
report script-commands "$ok" "$why"
