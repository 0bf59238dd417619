#!/usr/bin/env bash
# The hostile-guest suite: guests of guest/hostile/ that attack runvm
# (device storms, IPIs to absent CPUs, DMA addresses outside RAM, triple
# faults, exception loops) on each hypervisor. runvm must survive each,
# end with the expected status and message, print no sanitizer or seccomp
# report, and never hang.
#
#   tests/hostile.sh [RUNVM_BINARY]     (default build/runvm-san)
#
# Prints PASS/FAIL/SKIP lines; exit status 0 if none failed.
set -u
cd "$(dirname "$0")/.."
RUNVM=${1:-build/runvm-san}
images=${GUEST_DIR:-build/guest}/hostile
timeout_s=${HOSTILE_TIMEOUT:-30}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

out=$(mktemp "${TMPDIR:-/tmp}/hostile.XXXXXX") || exit 2
disk=$(mktemp "${TMPDIR:-/tmp}/hostile-disk.XXXXXX") || exit 2
trap 'rm -f "$out" "$disk"' EXIT
truncate -s 1M "$disk"

# The cases. Columns: name | guest | runvm options (@DISK@: a scratch disk
# image) | how it ends (exit:
# by itself; term: it would run forever, so SIGTERM after 1 s) | expected
# status | a line the output must have.
cases() {
	cat <<'EOF2'
pio-storm            | pio_storm      | --testdev --cpus 2 | exit | 1   | PASS pio storm
mmio-storm           | mmio_storm     | --testdev --cpus 2 | exit | 1   | ^PASS mmio storm
ipi-absent-1cpu      | ipi_absent     | --cpus 1           | exit | 1   | ^PASS logical and broadcast ipis
ipi-absent-2cpu      | ipi_absent     | --cpus 2           | exit | 1   | ^PASS logical and broadcast ipis
dma-outside-ram      | dma_outside    | --testdev          | exit | 1   | ^PASS testdev flush outside ram
triple-fault-stop    | triple_fault   | --no-reboot        | exit | 4   | triple fault \(KVM_EXIT_SHUTDOWN\)$
triple-fault-reboot  | triple_fault   |                    | exit | 1   | ^PASS rebooted after a triple fault
pf-in-pf-handler     | pf_recursive   | --no-reboot        | exit | 4   | triple fault \(KVM_EXIT_SHUTDOWN\)$
exception-loop       | exception_loop |                    | term | 130 | ^looping on #GP
virtio-hostile-queues | virtio_hostile | --disk @DISK@ --console2 /dev/null --rng | exit | 1 | ^PASS virtio devices found
EOF2
}

kvm_usable() {
	[ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null
}

trim() {
	printf '%s' "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//'
}

# run_case ACCEL NAME GUEST OPTIONS ENDS STATUS PATTERN
run_case() {
	local accel=$1 name=$2 guest=$3 opts=$4 ends=$5 want=$6 pattern=$7
	local id="hostile/$name ($accel)" image="$images/$guest.bin" status
	opts=${opts//@DISK@/$disk}
	if [ ! -f "$image" ]; then
		echo "FAIL $id: $image is missing (make guests)"
		return
	fi
	# shellcheck disable=SC2086
	if [ "$ends" = term ]; then
		timeout -k 5 "$timeout_s" "$RUNVM" --accel "$accel" --quiet $opts --raw "$image" \
			</dev/null >"$out" 2>&1 &
		local pid=$!
		sleep 1
		local t0=$SECONDS
		# timeout passes SIGTERM on to runvm; a hang shows as its 124.
		kill -TERM "$pid" 2>/dev/null
		wait "$pid"
		status=$?
		if [ $((SECONDS - t0)) -gt 3 ]; then
			echo "FAIL $id: took $((SECONDS - t0)) s to stop after SIGTERM"
			return
		fi
	else
		timeout -k 5 "$timeout_s" "$RUNVM" --accel "$accel" --quiet $opts --raw "$image" \
			</dev/null >"$out" 2>&1
		status=$?
	fi
	local why=
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		why="hung: killed after ${timeout_s}s"
	elif [ "$status" -ne "$want" ]; then
		why="exit status $status, wanted $want"
	elif grep -aqE 'Sanitizer|runtime error|LeakSanitizer' "$out"; then
		why="sanitizer report"
	elif grep -aq 'runvm: seccomp:' "$out"; then
		why="seccomp violation"
	elif ! grep -aqE -- "$pattern" "$out"; then
		why="no line matching /$pattern/"
	fi
	if [ -z "$why" ]; then
		echo "PASS $id"
	else
		echo "FAIL $id: $why"
		tr -cd '\11\12\15\40-\176' <"$out" | tail -n 8 | sed 's/^/    /'
	fi
}

for accel in kvm soft; do
	if [ "$accel" = kvm ] && ! kvm_usable; then
		echo "SKIP hostile/* (kvm) (/dev/kvm is not usable here)"
		continue
	fi
	if [ "$accel" = soft ] && [ ! -f src/hv/soft/soft.mk ]; then
		echo "SKIP hostile/* (soft) (the software hypervisor is not built)"
		continue
	fi
	while IFS='|' read -r name guest opts ends want pattern; do
		run_case "$accel" "$(trim "$name")" "$(trim "$guest")" "$(trim "$opts")" \
			"$(trim "$ends")" "$(trim "$want")" "$(trim "$pattern")"
	done < <(cases)
done
