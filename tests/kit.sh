#!/usr/bin/env bash
# Checks the guest kit: its files, and (when QEMU is installed) that the
# guest boots to its marker and runs a piped script. Builds the kit first if
# it is missing. Ends with an "N passed, N failed" line.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kit=$repo/kit
passed=0
failed=0

check() {
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then
        echo "PASS kit: $name"
        passed=$((passed + 1))
    else
        echo "FAIL kit: $name"
        failed=$((failed + 1))
    fi
}

has_all() {
    local f
    for f in bzImage vmlinux initramfs.cpio.gz initramfs-marker.cpio.gz; do
        [ -s "$kit/$f" ] || return 1
    done
}

is_elf64() {
    [ "$(od -A n -t x1 -N 5 "$kit/vmlinux" | tr -d ' ')" = 7f454c4602 ]
}

archive_has() {
    gzip -dc "$kit/initramfs.cpio.gz" | cpio -it --quiet 2>/dev/null |
        grep -qx "$1"
}

# QEMU's microvm on TCG cannot measure the TSC, and its boot then stalls
# now and then; giving the frequency avoids that.
qemu_boot() {
    timeout 60 qemu-system-x86_64 -M microvm -accel tcg -m 512 -nographic \
        -no-reboot -kernel "$kit/bzImage" -initrd "$1" \
        -append "console=ttyS0 reboot=t quiet tsc_early_khz=2000000 $2"
}

marker_boots() {
    qemu_boot "$kit/initramfs-marker.cpio.gz" "" </dev/null |
        tr -d '\r' >"$log"
    grep -q '^RUNVM-INIT-OK [0-9]' "$log"
}

modules_load() {
    grep -Eq 'modules: [1-9][0-9]* loaded, 0 failed' "$log"
}

# The first bytes sent before the guest's serial driver starts can be lost,
# so the script is preceded by blank lines, and it ends with "exit".
script_runs() {
    local want
    want=$(printf 'runvm\n' | sha256sum | cut -d' ' -f1)
    { printf '\n%.0s' $(seq 16); printf 'sha256sum /etc/hostname\nexit\n'; } |
        qemu_boot "$kit/initramfs.cpio.gz" runvm.script=1 |
        tr -d '\r' | sed -n '/^RUNVM-SCRIPT-READY$/,$p' |
        grep -q "^$want  /etc/hostname\$"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
has_all || "$repo/scripts/guest-kit" || true
check "kit files present" has_all
check "vmlinux is ELF64" is_elf64
check "initramfs has /init" archive_has init
check "initramfs has busybox" archive_has bin/busybox
check "initramfs has virtio_blk" archive_has \
    'lib/modules/.*/kernel/drivers/block/virtio_blk\.ko'
if command -v qemu-system-x86_64 >/dev/null; then
    check "marker boot under QEMU" marker_boots
    check "modules load under QEMU" modules_load
    check "script mode under QEMU" script_runs
else
    echo "SKIP kit: QEMU boots (qemu-system-x86_64 not installed)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
