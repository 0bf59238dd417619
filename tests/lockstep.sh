#!/usr/bin/env bash
# Lockstep: small test guests single-stepped on the host's /dev/kvm and on
# runvm's soft hypervisor at once (build/lockstep), which must not diverge;
# a KVM-against-KVM run that must agree with itself; and a divergence
# injected on purpose, which lockstep must report at its step.
#
# Prints PASS lockstep/NAME, FAIL lockstep/NAME (with its report)
# or SKIP lockstep/NAME (reason). LOCKSTEP_TIMEOUT bounds each run (s).
set -u
cd "$(dirname "$0")/.." || exit 2

LOCKSTEP=build/lockstep
LG=build/lockstep-guest
timeout_s=${LOCKSTEP_TIMEOUT:-300}

if [ ! -x "$LOCKSTEP" ]; then
	echo "SKIP lockstep (build/lockstep is not built: make lockstep)"
	exit 0
fi

# Without VT-x/AMD-V this host's /dev/kvm emulates all code but CPL-3
# long-mode code itself; some of it cannot be single-stepped there.
hw_virt() {
	grep -qwE 'vmx|svm' /proc/cpuinfo 2>/dev/null
}

# The runs. Columns: name | side A | side B | guest options | limit of a
# host KVM without VT-x/AMD-V (then the run is skipped, with this reason).
run_table() {
	cat <<EOF
real         | kvm | soft | --raw $LG/real.bin --raw-mode real |
protected    | kvm | soft | --raw $LG/protected.bin --raw-mode protected |
long         | kvm | soft | --raw $LG/long.bin --raw-mode long |
multiboot    | kvm | soft | --kernel $LG/multiboot.elf --steps 3000 |
user         | kvm | soft | --raw $LG/user.bin --raw-mode long | host KVM triple-faults single-stepping IRETQ to CPL 3
guest-real   | kvm | soft | --raw build/guest/real.bin --raw-mode real |
kvm-self     | kvm | kvm  | --raw $LG/protected.bin --raw-mode protected |
EOF
}

trim() {
	printf '%s' "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//'
}

out=$(mktemp "${TMPDIR:-/tmp}/lockstep.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT INT TERM

failed=0

# Runs lockstep; sets $status, output in $out.
run_lockstep() {
	timeout -k 5 "$timeout_s" "$LOCKSTEP" --testdev "$@" </dev/null >"$out" 2>&1
	status=$?
}

# Why lockstep could not run a hypervisor (exit status 4), from its message.
unavailable() {
	grep -m1 -E 'cannot open|no software hypervisor|does not exist|permission' "$out" |
		sed 's/^[a-z]*: //'
}

# The report of a failed run: the divergence without the rows that agree.
fail() {
	echo "FAIL lockstep/$1: $2"
	if grep -a -q '^lockstep: divergence' "$out"; then
		sed -n '/^lockstep: divergence/,$p' "$out" |
			awk '/ \(A\) +[a-z]+ \(B\)$/ { table = 1 } !table || /<--$|^ *[a-z]+ +\(A\)|RAM/' |
			head -n 40 | sed 's/^/    /'
	else
		tail -n 15 "$out" | sed 's/^/    /'
	fi
	failed=$((failed + 1))
}

tab=$(run_table)
while IFS='|' read -r name a b opts limit; do
	name=$(trim "$name") a=$(trim "$a") b=$(trim "$b") limit=$(trim "$limit")
	[ -n "$name" ] || continue
	if [ -n "$limit" ] && ! hw_virt; then
		echo "SKIP lockstep/$name ($limit; CPU without VT-x/AMD-V)"
		continue
	fi
	# $opts is split into options on purpose.
	# shellcheck disable=SC2086
	run_lockstep --a "$a" --b "$b" $opts
	case $status in
	0) echo "PASS lockstep/$name ($a vs $b, $(grep -a -o '[0-9]* instructions, no divergence' "$out" | cut -d' ' -f1) instructions)" ;;
	4) echo "SKIP lockstep/$name ($(unavailable))" ;;
	124|137) fail "$name" "timed out after ${timeout_s}s" ;;
	1) fail "$name" "$a and $b diverge" ;;
	*) fail "$name" "exit status $status" ;;
	esac
done <<EOF
$tab
EOF

# The self-test: a divergence injected after step 500 must be reported
# there. Either hypervisor on both sides will do.
inject=500
for hv in kvm soft; do
	run_lockstep --a $hv --b $hv --inject-divergence $inject --raw "$LG/real.bin" --raw-mode real
	[ "$status" -eq 4 ] || break
done
if [ "$status" -eq 4 ]; then
	echo "SKIP lockstep/inject ($(unavailable))"
elif [ "$status" -eq 1 ] && grep -a -q "^lockstep: divergence at step $inject: rbx differs" "$out"; then
	echo "PASS lockstep/inject (reported at step $inject, $hv vs $hv)"
else
	fail inject "the divergence injected after step $inject was not reported there (status $status)"
fi

[ "$failed" -eq 0 ]
