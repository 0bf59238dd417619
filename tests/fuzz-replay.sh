#!/usr/bin/env bash
# Replays each fuzz harness over its committed corpus (fuzz/corpus/NAME/)
# with the sanitizer build: no new inputs, only the ones kept. Each input
# that once found a bug stays in the corpus, so the bug stays fixed.
#
#   tests/fuzz-replay.sh [NAME...]      (default: every build/fuzz/replay/*)
#
# Prints PASS/FAIL/SKIP lines; exit status 0 if none failed.
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for b in build/fuzz/replay/*; do
		[ -x "$b" ] && names+=("$(basename "$b")")
	done
fi
if [ ${#names[@]} -eq 0 ]; then
	echo "SKIP fuzz-replay/* (no replay programs: make fuzz-replay)"
	exit 0
fi

out=$(mktemp "${TMPDIR:-/tmp}/replay.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT
failed=0
for name in "${names[@]}"; do
	bin=build/fuzz/replay/$name corpus=fuzz/corpus/$name
	if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
		echo "SKIP fuzz-replay/$name (no corpus in $corpus)"
		continue
	fi
	timeout -k 5 300 "$bin" "$corpus" >"$out" 2>&1
	status=$?
	count=$(sed -n 's/^replayed \([0-9]*\) inputs$/\1/p' "$out")
	if [ "$status" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error|invariant failed' "$out"; then
		echo "PASS fuzz-replay/$name ($count inputs)"
	else
		echo "FAIL fuzz-replay/$name (exit status $status)"
		tail -n 20 "$out" | sed 's/^/    /'
		failed=1
	fi
done
exit $failed
