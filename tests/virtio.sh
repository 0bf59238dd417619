#!/usr/bin/env bash
# The virtio devices end to end, driven by the default Linux guest (the
# guest kit) with its own drivers on the software hypervisor:
#   blk      an ext4 image written and synced, read back by a second boot;
#            a read-only disk refuses writes; fstrim reaches the host as
#            holes; runvm killed with SIGKILL right after the guest's sync
#            loses nothing that was synced
#   rng      /dev/hwrng gives bytes from virtio-rng
#   console  /dev/hvc0 writes into the --console2 file; 2 MB of short
#            lines through it arrive whole, and the guest's kernel keeps
#            the device's interrupt line; 3 MiB from a client of a
#            --console2 socket arrive whole in the guest
#   net      ping and TCP both ways (4 MiB each, checksums compared) over a
#            TAP in a network namespace of the test's own
# The guest gets its commands from a read-only disk (runvm.script=/dev/vdX),
# not the serial line. Each part prints PASS, FAIL or SKIP lines.
#   tests/virtio.sh RUNVM
set -u
RUNVM=${1:-build/runvm}
KIT=kit
TIMEOUT=${VIRTIO_TIMEOUT:-300}
BUSYBOX=$KIT/work/busybox/bin/busybox
NO_BOOT="Linux does not boot on the soft hypervisor yet"

if [ ! -f $KIT/vmlinux ] || [ ! -f $KIT/initramfs.cpio.gz ]; then
	echo "SKIP virtio/* (the guest kit is not built: scripts/guest-kit)"
	exit 0
fi
if ! command -v mkfs.ext4 >/dev/null || ! command -v debugfs >/dev/null || ! command -v e2fsck >/dev/null; then
	echo "SKIP virtio/* (needs mkfs.ext4, debugfs and e2fsck from e2fsprogs: scripts/setup)"
	exit 0
fi

tmp=$(mktemp -d)
ns=
cleanup() {
	[ -z "$ns" ] || ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
out=$tmp/out

# script NAME < text: a disk image holding the guest's script, padded to whole sectors.
script() {
	local f=$tmp/$1.script size
	cat >"$f"
	size=$(stat -c %s "$f")
	truncate -s $(((size + 511) / 512 * 512)) "$f"
	echo "$f"
}

# boot SCRIPT_DEV [runvm options...]: runs the guest to power-off; status of runvm.
boot() {
	local dev=$1
	shift
	timeout -k 5 "$TIMEOUT" "$RUNVM" --accel soft --mem 512M "$@" --kernel $KIT/vmlinux \
		--initrd $KIT/initramfs.cpio.gz --append "console=ttyS0 runvm.script=$dev" \
		</dev/null >"$out" 2>&1
}

clean() { tr -d '\r' <"$out"; }
# The value after "KEY " on the guest's output line "KEY value".
value() { clean | sed -n "s/^$1 //p" | head -n 1; }
booted() { clean | grep -q '^RUNVM-SCRIPT-READY'; }

report() {
	local name=$1 ok=$2 why=${3:-}
	if [ "$ok" = yes ]; then
		echo "PASS virtio/$name"
	else
		echo "FAIL virtio/$name ($why)"
		clean | grep -v '^\[' | tail -n 20 | sed 's/^/    /'
	fi
}

# check NAME CONDITION WHY: one PASS or FAIL line.
check() {
	if eval "$2"; then report "$1" yes; else report "$1" no "$3"; fi
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
allocated() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1"))); }

# --- The disks ---------------------------------------------------------------

data=$tmp/data.img
ro=$tmp/ro.img
console2=$tmp/console2.txt
truncate -s 64M "$data"
mkfs.ext4 -q -F "$data"
truncate -s 16M "$ro"
mkfs.ext4 -q -F "$ro"
echo "read-only content" >"$tmp/hello"
debugfs -w -R "write $tmp/hello hello" "$ro" >/dev/null 2>&1
ro_sum=$(sha "$ro")
blocks_before=$(allocated "$data")

# Boot 1: vda the data disk, vdb read-only, vdc the script.
s=$(script write <<'EOF'
mkdir -p /mnt/a /mnt/b
mount -t ext4 /dev/vda /mnt/a || echo "MOUNT-FAILED"
head -c 3000000 /dev/urandom >/mnt/a/data
sync
echo "WROTE $(sha256sum /mnt/a/data | cut -d' ' -f1)"
head -c 8388608 /dev/urandom >/mnt/a/big
sync
rm /mnt/a/big
sync
fstrim /mnt/a && echo "FSTRIM-OK"
umount /mnt/a
echo "RO-FLAG $(cat /sys/block/vdb/ro)"
mount -t ext4 -o ro /dev/vdb /mnt/b && echo "RO-CONTENT $(cat /mnt/b/hello)"
umount /mnt/b
dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync 2>/dev/null && echo "RO-KERNEL wrote" || echo "RO-KERNEL refused"
blockdev --setrw /dev/vdb
dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct 2>/dev/null && echo "RO-DEVICE wrote" || echo "RO-DEVICE refused"
echo "RNG $(head -c 64 /dev/hwrng | od -An -tx1 | tr -d ' \n')"
echo "RNG-SOURCE $(cat /sys/class/misc/hw_random/rng_current)"
echo "hello from hvc0" >/dev/hvc0
echo "SCRIPT-END"
EOF
)
boot /dev/vdc --disk "$data" --disk "$ro,ro" --disk "$s,ro" --console2 "$console2"
status=$?
if ! booted; then
	if [ "$status" -eq 124 ]; then
		echo "SKIP virtio/* ($NO_BOOT: no shell within $TIMEOUT s)"
	else
		echo "SKIP virtio/* ($NO_BOOT: runvm exited with status $status before the shell)"
	fi
	clean | tail -n 5 | sed 's/^/    /'
	exit 0
fi
wrote=$(value WROTE)
check blk-ext4-write '[ "$status" -eq 0 ] && [ -n "$wrote" ] && clean | grep -q "^SCRIPT-END"' \
	"exit status $status; wrote '$wrote'"
check blk-ext4-on-host '[ "$(debugfs -R "cat /data" "$data" 2>/dev/null | sha256sum | cut -d" " -f1)" = "$wrote" ]' \
	"the host reads other bytes from the image than the guest wrote"
check blk-readonly '[ "$(value RO-FLAG)" = 1 ] && [ "$(value RO-CONTENT)" = "read-only content" ] &&
	[ "$(value RO-KERNEL)" = refused ] && [ "$(value RO-DEVICE)" = refused ] && [ "$(sha "$ro")" = "$ro_sum" ]' \
	"ro flag '$(value RO-FLAG)', kernel write $(value RO-KERNEL), device write $(value RO-DEVICE), image $( [ "$(sha "$ro")" = "$ro_sum" ] && echo unchanged || echo CHANGED)"
blocks_after=$(allocated "$data")
check blk-discard 'clean | grep -q "^FSTRIM-OK" && [ "$blocks_after" -lt $((blocks_before + 7 * 1048576)) ]' \
	"fstrim: $(clean | grep -c '^FSTRIM-OK'), image allocation $blocks_before -> $blocks_after bytes"
rng=$(value RNG)
check rng-hwrng '[ ${#rng} -eq 128 ] && [ "$(echo "$rng" | fold -w2 | sort -u | wc -l)" -gt 20 ] &&
	case "$(value RNG-SOURCE)" in virtio_rng*) true ;; *) false ;; esac' \
	"hwrng gave '$rng' from '$(value RNG-SOURCE)'"
check console2-file 'tr -d "\r" <"$console2" | grep -qx "hello from hvc0"' "the --console2 file holds: $(head -c 200 "$console2" 2>/dev/null)"

# Boot 2: the same image, read back.
s=$(script read <<'EOF'
mkdir -p /mnt/a
mount -t ext4 /dev/vda /mnt/a || echo "MOUNT-FAILED"
echo "READ $(sha256sum /mnt/a/data | cut -d' ' -f1)"
umount /mnt/a
EOF
)
boot /dev/vdb --disk "$data" --disk "$s,ro"
status=$?
check blk-ext4-read-back '[ "$status" -eq 0 ] && [ -n "$wrote" ] && [ "$(value READ)" = "$wrote" ]' \
	"exit status $status; read '$(value READ)', wrote '$wrote'"

# Boot 3: SIGKILL as soon as the guest says its sync returned; then the
# image, with its journal replayed, must hold what was synced.
s=$(script kill <<'EOF'
mkdir -p /mnt/a
mount -t ext4 /dev/vda /mnt/a || echo "MOUNT-FAILED"
head -c 2000000 /dev/urandom >/mnt/a/synced
sync
echo "SYNCED $(sha256sum /mnt/a/synced | cut -d' ' -f1)"
while true; do head -c 1048576 /dev/urandom >/mnt/a/unsynced; done
EOF
)
timeout -k 5 "$TIMEOUT" "$RUNVM" --accel soft --mem 512M --disk "$data" --disk "$s,ro" \
	--kernel $KIT/vmlinux --initrd $KIT/initramfs.cpio.gz \
	--append "console=ttyS0 runvm.script=/dev/vdb" </dev/null >"$out" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null && ! clean | grep -q '^SYNCED '; do
	sleep 0.02
done
# $pid is timeout's: runvm, its child, is the one to kill.
pkill -KILL -P $pid 2>/dev/null
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
synced=$(value SYNCED)
cp "$data" "$tmp/replayed.img"
e2fsck -fy "$tmp/replayed.img" >"$tmp/fsck" 2>&1
fsck_status=$?
got=$(debugfs -R "cat /synced" "$tmp/replayed.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
check blk-sigkill-after-sync '[ -n "$synced" ] && [ "$fsck_status" -lt 4 ] && [ "$got" = "$synced" ]' \
	"synced '$synced', found '$got' after the journal replay; e2fsck status $fsck_status"

# --- The console ---------------------------------------------------------------

# Boot 4: a flood of short lines into /dev/hvc0. The tty writes each line
# and its "\r\n" separately, and the console driver spins until each such
# chain is used: about 600,000 chains, far past the 100,000 interrupts
# after which Linux disables a line whose handler finds nothing to do
# ("irq N: nobody cared"), as a transmit interrupt per chain made it do.
# The host strips the "\r" the tty adds.
s=$(script console-flood <<'EOF'
seq 1 300000 >/tmp/lines
echo "HVC-SENT $(sha256sum /tmp/lines | cut -d' ' -f1)"
cat /tmp/lines >/dev/hvc0
echo "HVC-END"
EOF
)
boot /dev/vda --disk "$s,ro" --console2 "$console2"
status=$?
sent=$(value HVC-SENT)
got=$(tr -d '\r' <"$console2" | sha256sum | cut -d' ' -f1)
check console2-flood-content '[ "$status" -eq 0 ] && clean | grep -q "^HVC-END" && [ -n "$sent" ] && [ "$got" = "$sent" ]' \
	"exit status $status; the guest sent '$sent', the host got $(stat -c %s "$console2") bytes, '$got' without CRs"
check console2-flood-irq '! clean | grep -Eq "nobody cared|Disabling IRQ"' \
	"the guest's kernel gave up on an interrupt line: $(clean | grep -E 'nobody cared|Disabling IRQ' | head -n 2 | tr '\n' ' ')"

# Boot 5: input. A client of the --console2 socket sends 3 MiB once the
# guest holds /dev/hvc0 open in raw mode (the last close resets the mode).
if ! command -v python3 >/dev/null; then
	echo "SKIP virtio/console2-socket-to-guest (needs python3 for the socket client)"
else
	to_guest=$tmp/to-guest-console
	sock=$tmp/console.sock
	head -c 3145728 /dev/urandom >"$to_guest"
	s=$(script console-in <<'EOF'
exec 3<>/dev/hvc0
stty -F /dev/hvc0 raw -echo
echo "HVC-RX-READY"
echo "HVC-RECEIVED $(head -c 3145728 <&3 | sha256sum | cut -d' ' -f1)"
EOF
)
	boot /dev/vda --disk "$s,ro" --console2 "socket:$sock" &
	pid=$!
	# Connects, drains what the guest writes, sends the file once the guest is ready.
	timeout "$TIMEOUT" python3 - "$sock" "$to_guest" "$out" <<'EOF' &
import socket, sys, threading, time
path, data, log = sys.argv[1], open(sys.argv[2], "rb").read(), sys.argv[3]
s = socket.socket(socket.AF_UNIX)
while True:
    try:
        s.connect(path)
        break
    except OSError:
        time.sleep(0.05)
def drain():
    while s.recv(65536):
        pass
threading.Thread(target=drain, daemon=True).start()
while b"HVC-RX-READY" not in open(log, "rb").read():
    time.sleep(0.05)
s.sendall(data)
time.sleep(3600)
EOF
	client=$!
	wait $pid
	status=$?
	kill $client 2>/dev/null
	wait $client 2>/dev/null
	check console2-socket-to-guest '[ "$status" -eq 0 ] && [ "$(value HVC-RECEIVED)" = "$(sha "$to_guest")" ]' \
		"exit status $status; the guest got '$(value HVC-RECEIVED)', the host sent $(sha "$to_guest")"
fi

# --- The network ---------------------------------------------------------------

net_skip() {
	echo "SKIP virtio/net-* ($1)"
	exit 0
}
[ "$(id -u)" -eq 0 ] || net_skip "needs root for a network namespace and a TAP"
[ -c /dev/net/tun ] || net_skip "no /dev/net/tun"
command -v ip >/dev/null || net_skip "needs ip from iproute2"
[ -x "$BUSYBOX" ] || net_skip "needs the guest kit's busybox for nc on the host side"
ns=runvm-virtio-$$
if ! ip netns add "$ns" 2>/dev/null; then
	ns=
	net_skip "cannot create a network namespace"
fi
# Only addresses inside the namespace: the TAP is its only link besides lo.
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ip tuntap add dev rvtap0 mode tap || net_skip "cannot create a TAP in the namespace"
ip netns exec "$ns" ip addr add 10.0.2.1/24 dev rvtap0
ip netns exec "$ns" ip link set rvtap0 up

to_guest=$tmp/to-guest
head -c 4194304 /dev/urandom >"$to_guest"
ip netns exec "$ns" timeout "$TIMEOUT" "$BUSYBOX" nc -l -p 5000 >"$tmp/from-guest" 2>/dev/null &
recv_pid=$!
ip netns exec "$ns" timeout "$TIMEOUT" "$BUSYBOX" nc -l -p 5001 -e "$BUSYBOX" cat "$to_guest" 2>/dev/null &
send_pid=$!

# busybox nc sends a file reliably only as the output of -e PROG.
s=$(script net <<'EOF'
ip link set eth0 up
ip addr add 10.0.2.2/24 dev eth0
echo "MAC $(cat /sys/class/net/eth0/address)"
ping -c 3 -W 5 10.0.2.1 </dev/null | grep 'packets transmitted'
head -c 4194304 /dev/urandom >/tmp/x
echo "SENT $(sha256sum /tmp/x | cut -d' ' -f1)"
nc 10.0.2.1 5000 -e cat /tmp/x </dev/null
nc 10.0.2.1 5001 </dev/null >/tmp/y
echo "RECEIVED $(sha256sum /tmp/y | cut -d' ' -f1)"
EOF
)
ip netns exec "$ns" timeout -k 5 "$TIMEOUT" "$RUNVM" --accel soft --mem 512M --net tap=rvtap0,mac=52:54:00:ab:cd:ef \
	--disk "$s,ro" --kernel $KIT/vmlinux --initrd $KIT/initramfs.cpio.gz \
	--append "console=ttyS0 runvm.script=/dev/vda" </dev/null >"$out" 2>&1
status=$?
kill $recv_pid $send_pid 2>/dev/null
wait $recv_pid $send_pid 2>/dev/null
check net-mac '[ "$(value MAC)" = 52:54:00:ab:cd:ef ]' "the guest sees MAC '$(value MAC)'"
check net-ping 'clean | grep -q "3 packets transmitted, 3 packets received"' "ping: $(clean | grep 'packets transmitted')"
check net-tcp-guest-to-host '[ -n "$(value SENT)" ] && [ "$(sha "$tmp/from-guest")" = "$(value SENT)" ]' \
	"sent $(value SENT), the host got $(stat -c %s "$tmp/from-guest") bytes, $(sha "$tmp/from-guest")"
check net-tcp-host-to-guest '[ "$status" -eq 0 ] && [ "$(value RECEIVED)" = "$(sha "$to_guest")" ]' \
	"exit status $status; the guest got $(value RECEIVED), the host sent $(sha "$to_guest")"
