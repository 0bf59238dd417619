#!/usr/bin/env bash
# Differential test of the soft CPU against the host CPU, with a fixed seed
# for a few seconds (longer on demand: build/tools/difftest --seconds 600 --seed N).
set -u
if [ ! -x build/tools/difftest ]; then
	echo "SKIP difftest/host-vs-soft (the software hypervisor is not built yet)"
	exit 0
fi
out=$(timeout -k 5 120 build/tools/difftest --seed 1 --seconds "${DIFFTEST_SECONDS:-5}" 2>&1)
status=$?
# The tester must catch a difference when there is one.
if build/tools/difftest --corrupt --cases 200 >/dev/null 2>&1; then
	echo "FAIL difftest/catches-differences (a corrupted result went unnoticed)"
else
	echo "PASS difftest/catches-differences"
fi
if [ $status -eq 0 ]; then
	echo "PASS difftest/host-vs-soft ($(tail -n 1 <<<"$out"))"
else
	echo "FAIL difftest/host-vs-soft (status $status)"
	head -n 60 <<<"$out" | sed 's/^/    /'
fi
# Again with every run of pure instructions made host code, however short.
out=$(timeout -k 5 120 build/tools/difftest --seed 2 --jit 1 --max-insns 8 --seconds "${DIFFTEST_SECONDS:-5}" 2>&1)
status=$?
if [ $status -eq 0 ]; then
	echo "PASS difftest/host-vs-soft-host-code ($(tail -n 1 <<<"$out"))"
else
	echo "FAIL difftest/host-vs-soft-host-code (status $status)"
	head -n 60 <<<"$out" | sed 's/^/    /'
fi
