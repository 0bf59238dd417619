#!/usr/bin/env bash
# Differential test of the soft CPU against the host CPU, with a fixed seed
# for a few seconds (longer on demand: build/tools/difftest --seconds 600 --seed N).
set -u
if [ ! -x build/tools/difftest ]; then
	echo "SKIP difftest/host-vs-soft (the software hypervisor is not built yet)"
	exit 0
fi

# compare NAME ARGS...: runs the tester with ARGS for a few seconds; PASS or FAIL NAME.
compare() {
	local name=$1 out status
	shift
	out=$(timeout -k 5 120 build/tools/difftest "$@" --seconds "${DIFFTEST_SECONDS:-5}" 2>&1)
	status=$?
	if [ $status -eq 0 ]; then
		echo "PASS difftest/$name ($(tail -n 1 <<<"$out"))"
	else
		echo "FAIL difftest/$name (status $status)"
		head -n 60 <<<"$out" | sed 's/^/    /'
	fi
}

# The tester must catch a difference when there is one.
if build/tools/difftest --corrupt --cases 200 >/dev/null 2>&1; then
	echo "FAIL difftest/catches-differences (a corrupted result went unnoticed)"
else
	echo "PASS difftest/catches-differences"
fi
compare host-vs-soft --seed 1
# Again with every run of instructions made host code, however short.
compare host-vs-soft-host-code --seed 2 --jit 1 --max-insns 8
