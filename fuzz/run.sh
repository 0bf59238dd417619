#!/usr/bin/env bash
# Runs libFuzzer harnesses (build/fuzz/bin/NAME) for FUZZ_SECONDS each and
# reports, per harness, the executions, the corpus growth and the crashes.
#
#   fuzz/run.sh NAME...          (make fuzz does this)
#
# New inputs go to build/fuzz/corpus/NAME (the committed fuzz/corpus/NAME
# is only read: copy what is worth keeping there by hand, minimized with
# -merge=1), crashes to build/fuzz/crashes/NAME/. Exit status 1 if any
# harness crashed.
set -u
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
[ $# -gt 0 ] || { echo "usage: $0 NAME..." >&2; exit 2; }

total_crashes=0
summary=()
for name in "$@"; do
	bin=build/fuzz/bin/$name
	work=build/fuzz/corpus/$name
	crashes=build/fuzz/crashes/$name
	log=build/fuzz/$name.log
	mkdir -p "$work" "$crashes" "fuzz/corpus/$name"
	# Crashes, leaks, timeouts and out-of-memory; slow-unit-* files are only notes.
	count() { ls "$crashes" | grep -vc '^slow-unit-'; }
	before=$(count)
	kept_before=$(ls "$work" | wc -l)
	echo "fuzz: $name for ${seconds}s" >&2
	# -close_fd_mask=1: the serial port's output would flood the terminal.
	"$bin" -max_total_time="$seconds" -print_final_stats=1 -close_fd_mask=1 \
		-timeout=10 -rss_limit_mb=4096 -artifact_prefix="$crashes/" \
		"$work" "fuzz/corpus/$name" >"$log" 2>&1
	status=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	after=$(count)
	new=$((after - before))
	[ "$status" -ne 0 ] && [ "$new" -eq 0 ] && new=1
	total_crashes=$((total_crashes + new))
	grown=$(($(ls "$work" | wc -l) - kept_before))
	line=$(printf '%-16s %10s executions  %5d new inputs  %d crash(es)' "$name" "${execs:-?}" "$grown" "$new")
	[ "$new" -gt 0 ] && line="$line: see $crashes/ and $log"
	summary+=("$line")
	echo "$line" >&2
done
echo
printf '%s\n' "${summary[@]}"
[ "$total_crashes" -eq 0 ]
