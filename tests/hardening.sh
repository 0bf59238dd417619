#!/usr/bin/env bash
# Hardening checks on a running runvm:
#  - every thread of a running VM is under a seccomp filter (Seccomp: 2 in
#    /proc/PID/task/*/status), named by its kind; none with --no-seccomp;
#  - the release build passes the guest suite with its (stricter) filters,
#    on each hypervisor;
#  - limits: the largest VM (64 vCPUs, 64 GiB) starts and stops; more
#    disks or network cards than the caps are refused; a host that cannot
#    give the guest its memory or file descriptors gets a clear message
#    and status 3, not a crash.
#
#   tests/hardening.sh [SANITIZER_BINARY [RELEASE_BINARY]]
#       (default build/runvm-san and build/runvm)
#
# Prints PASS/FAIL/SKIP lines; exit status 0 if none failed.
set -u
cd "$(dirname "$0")/.."
SAN=${1:-build/runvm-san}
REL=${2:-build/runvm}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hardening.XXXXXX") || exit 2
feeder=
cleanup() {
	[ -n "$feeder" ] && kill "$feeder" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# A real-mode guest that halts forever with interrupts off: cli; hlt; jmp $-2.
printf '\372\364\353\375' >"$tmp/idle.bin"
mkfifo "$tmp/input"

accels=()
if [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; then
	accels+=(kvm)
else
	echo "SKIP hardening/* (kvm) (/dev/kvm is not usable here)"
fi
[ -f src/hv/soft/soft.mk ] && accels+=(soft)

pass() { echo "PASS hardening/$1"; }
fail() {
	echo "FAIL hardening/$1: $2"
	[ -s "$tmp/out" ] && tr -cd '\11\12\15\40-\176' <"$tmp/out" | tail -n 6 | sed 's/^/    /'
}

# start_idle BINARY ACCEL OPTIONS...: runs the idle guest in the background
# with its serial input on a FIFO that stays open (so the input thread
# lives); sets $pid.
start_idle() {
	local bin=$1 accel=$2
	shift 2
	sleep 600 >"$tmp/input" &
	feeder=$!
	"$bin" --accel "$accel" --quiet "$@" --raw "$tmp/idle.bin" --raw-mode real \
		<"$tmp/input" >"$tmp/out" 2>&1 &
	pid=$!
}

# stop_idle NAME: SIGTERM, then the status must be 130 within a few seconds.
stop_idle() {
	local name=$1 status
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		fail "$name" "did not stop within 5 s of SIGTERM"
		status=-1
	else
		wait "$pid"
		status=$?
	fi
	kill "$feeder" 2>/dev/null
	wait "$feeder" 2>/dev/null
	feeder=
	return $((status == 130 ? 0 : 1))
}

# wait_threads N [VCPUS]: until the process has N threads, VCPUS of them
# vCPU threads (they start last, once the guest is about to run).
wait_threads() {
	for _ in $(seq 100); do
		if [ "$(ls /proc/$pid/task 2>/dev/null | wc -l)" -ge "$1" ] &&
		   [ "$(thread_report | grep -c '^runvm-vcpu ')" -ge "${2:-0}" ]; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# thread_report: "NAME SECCOMP" per thread of $pid.
thread_report() {
	local t
	for t in /proc/$pid/task/*; do
		printf '%s %s\n' "$(cat "$t/comm" 2>/dev/null)" \
			"$(sed -n 's/^Seccomp:[[:space:]]*//p' "$t/status" 2>/dev/null)"
	done
}

# Every thread under seccomp: main, the serial input thread, each vCPU, and
# on soft the irqchip timer. (A kernel worker KVM attaches to the process
# inherits the filter of the thread that made it.)
check_threads() {
	local bin=$1 accel=$2 cpus=$3 name="seccomp-threads ($accel, $cpus cpu, $(basename "$1"))"
	local want=$((cpus + 2))
	[ "$accel" = soft ] && want=$((want + 1))
	start_idle "$bin" "$accel" --cpus "$cpus"
	if ! wait_threads "$want" "$cpus"; then
		stop_idle "$name"
		fail "$name" "only $(ls /proc/$pid/task 2>/dev/null | wc -l) threads, wanted $want"
		return
	fi
	local report
	report=$(thread_report)
	local vcpus devices unconfined
	vcpus=$(grep -c '^runvm-vcpu 2$' <<<"$report")
	devices=$(grep -c '^runvm-device 2$' <<<"$report")
	unconfined=$(grep -vc ' 2$' <<<"$report")
	if ! stop_idle "$name"; then
		fail "$name" "exit status was not 130 after SIGTERM"
	elif [ "$unconfined" -ne 0 ]; then
		fail "$name" "threads without a filter: $(grep -v ' 2$' <<<"$report" | tr '\n' ',')"
	elif [ "$vcpus" -ne "$cpus" ] || [ "$devices" -lt 1 ]; then
		fail "$name" "$vcpus confined vCPU threads (wanted $cpus), $devices device threads"
	else
		pass "$name"
	fi
}

check_no_seccomp() {
	local bin=$1 accel=$2 name="no-seccomp ($accel)"
	start_idle "$bin" "$accel" --cpus 2 --no-seccomp
	wait_threads 4 2
	local report
	report=$(thread_report)
	if ! stop_idle "$name"; then
		fail "$name" "exit status was not 130 after SIGTERM"
	elif grep -vq ' 0$' <<<"$report"; then
		fail "$name" "filtered threads: $(tr '\n' ',' <<<"$report")"
	else
		pass "$name"
	fi
}

# The largest VM the options allow.
check_largest() {
	local bin=$1 accel=$2 name="largest-vm ($accel, 64 cpu, 64G)"
	start_idle "$bin" "$accel" --cpus 64 --mem 64G
	if ! wait_threads 66 64; then
		stop_idle "$name"
		fail "$name" "only $(ls /proc/$pid/task 2>/dev/null | wc -l) threads"
		return
	fi
	local confined
	confined=$(thread_report | grep -c '^runvm-vcpu 2$')
	if ! stop_idle "$name"; then
		fail "$name" "exit status was not 130 after SIGTERM"
	elif [ "$confined" -ne 64 ]; then
		fail "$name" "$confined of 64 vCPU threads under seccomp"
	elif grep -aqE 'Sanitizer|runtime error' "$tmp/out"; then
		fail "$name" "sanitizer report"
	else
		pass "$name"
	fi
}

# expect_refusal NAME STATUS PATTERN -- COMMAND...: the host says no.
expect_refusal() {
	local name=$1 want=$2 pattern=$3 status
	shift 4
	timeout -k 5 20 "$@" </dev/null >"$tmp/out" 2>&1
	status=$?
	if [ "$status" -ne "$want" ]; then
		fail "$name" "exit status $status, wanted $want"
	elif ! grep -qE -- "$pattern" "$tmp/out"; then
		fail "$name" "no message matching /$pattern/"
	elif grep -qE 'Sanitizer|runtime error|Segmentation|Aborted' "$tmp/out"; then
		fail "$name" "crashed"
	else
		pass "$name"
	fi
}

# Caps on what one VM may have: refused while parsing, before anything starts.
disks=() nets=()
for i in 1 2 3 4 5 6 7 8 9; do disks+=(--disk "$tmp/disk$i"); done
for i in 1 2 3 4 5; do nets+=(--net "tap=runvm$i"); done
expect_refusal "disk-cap" 2 'too many --disk options \(at most 8\)' -- \
	"$SAN" "${disks[@]}" --raw "$tmp/idle.bin"
expect_refusal "net-cap" 2 'too many --net options \(at most 4\)' -- \
	"$SAN" "${nets[@]}" --raw "$tmp/idle.bin"

for accel in "${accels[@]}"; do
	for cpus in 1 2; do
		check_threads "$SAN" "$accel" "$cpus"
	done
	check_threads "$REL" "$accel" 2
	check_no_seccomp "$SAN" "$accel"
	check_largest "$SAN" "$accel"

	# Address-space limits need the release build: ASan reserves terabytes of shadow.
	expect_refusal "memory-limit ($accel)" 3 \
		'cannot allocate 2048 MiB of guest memory.*ulimit -v' -- \
		prlimit --as=$((1 << 30)) "$REL" --accel "$accel" --mem 2G --raw "$tmp/idle.bin"
	expect_refusal "fd-limit ($accel)" 3 '^runvm: .*(Too many open files|file descriptors)' -- \
		prlimit --nofile=6 "$REL" --accel "$accel" --raw "$tmp/idle.bin"

	# The release build's filters have no sanitizer allowances: run the suite with them.
	for cpus in 1 2; do
		tests/guests.sh "$REL" "$accel" "$cpus" |
			sed -E "s#^(PASS|FAIL) guest/#\\1 hardening/release-guest/#" | grep -v "^SKIP "
	done
done
