#!/usr/bin/env bash
# make-large-capture.sh: build the large captures that bttrace's speed is measured on.
#
# Run as root:   sudo bench/make-large-capture.sh OUTDIR      (e.g. /tmp/bttrace-bench)
# Needs: iproute2, ethtool, tcpdump, editcap + capinfos (Wireshark CLI), python3 (3.9+),
#        about 3 GB free in OUTDIR. Takes a minute or two.
#
# Several concurrent BitTorrent-emulation bulk flows (scripts/btpeer.py; half downloads, half
# uploads, 256 KiB and 12.5 MB blocks) run between two network namespaces through a router
# namespace (scripts/netns-topology.sh; offloads off, so frames are MTU-sized), recorded at full
# size on the server's veth. Results:
#   OUTDIR/large.pcap       Ethernet, snaplen 262144, at least 1 GB and 500k packets
#   OUTDIR/large-254.pcap   the same cut to 254 bytes per packet (editcap -F pcap -s 254)
# tcpdump must report 0 packets dropped by the kernel; if it drops any, the capture is made again
# at a lower rate (up to 3 tries). Tunables (environment): FLOWS (6), RATE per flow in bytes/s
# (10000000), TARGET_BYTES of payload in all (1300000000). Namespaces are deleted on exit.
set -euo pipefail

OUTDIR=${1:?usage: $0 OUTDIR}
FLOWS=${FLOWS:-6}
RATE=${RATE:-10000000}
TARGET_BYTES=${TARGET_BYTES:-1300000000}
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPTS=$(cd "$HERE/../scripts" && pwd)
P=bttbench
SRV=$P-srv CLI=$P-cli
SERVER=203.0.113.1
[[ $(id -u) == 0 ]] || { echo "run me as root (network namespaces)" >&2; exit 2; }
for tool in ip ethtool tcpdump editcap capinfos python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

source "$SCRIPTS/netns-topology.sh"
trap 'topo_down $P' EXIT
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
PCAP=$OUTDIR/large.pcap

# capture_once RATE: one capture of all flows at RATE bytes/s each; sets DROPS (kernel + interface).
capture_once() {
    local rate=$1 duration i port dir piece pids=()
    duration=$(python3 -c "print(round($TARGET_BYTES / ($FLOWS * $rate), 1))")
    echo "capturing $FLOWS flows at $rate B/s each for $duration s" >&2
    topo_up "$P"
    rm -f "$PCAP"
    ip netns exec "$SRV" tcpdump -n -i s0 -s 0 -B 262144 -w "$PCAP" "host 198.51.100.1" \
        2>"$OUTDIR/tcpdump.err" &
    local cap=$!
    for _ in $(seq 100); do grep -q 'listening on' "$OUTDIR/tcpdump.err" && break; sleep 0.05; done
    for ((i = 0; i < FLOWS; i++)); do
        port=$((6881 + i))
        if ((i % 2)); then dir=upload; else dir=download; fi
        if ((i % 4 < 2)); then piece=262157; else piece=12500013; fi
        local args="--kind bt --direction $dir --piece-size $piece --duration $duration"
        # shellcheck disable=SC2086
        ip netns exec "$SRV" python3 "$SCRIPTS/btpeer.py" --role server \
            --listen "$SERVER:$port" $args --rate "$rate" &
        pids+=($!)
        topo_wait_listen "$SRV" "$port"
        # shellcheck disable=SC2086
        ip netns exec "$CLI" python3 "$SCRIPTS/btpeer.py" --role client \
            --connect "$SERVER:$port" $args --rate "$rate" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || echo "a btpeer process failed" >&2; done
    sleep 2                       # libpcap delivers packets in blocks retired after <= 1 s
    kill -INT "$cap"; wait "$cap" || true
    cat "$OUTDIR/tcpdump.err" >&2
    topo_down "$P"
    local kernel iface
    kernel=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$OUTDIR/tcpdump.err")
    iface=$(sed -n 's/^\([0-9]*\) packets dropped by interface.*/\1/p' "$OUTDIR/tcpdump.err")
    DROPS=$((${kernel:-1} + ${iface:-0}))
}

rate=$RATE
for try in 1 2 3; do
    capture_once "$rate"
    ((DROPS == 0)) && break
    echo "try $try: tcpdump dropped $DROPS packets" >&2
    ((try < 3)) || { echo "still dropping packets; give a lower RATE" >&2; exit 1; }
    rate=$((rate * 6 / 10))
done
rm -f "$OUTDIR/tcpdump.err"

size=$(stat -c %s "$PCAP")
packets=$(capinfos -M -c -T "$PCAP" | awk -F'\t' 'NR == 2 {print $2}')
if ((size < 1000000000 || packets < 500000)); then
    echo "large.pcap too small ($size bytes, $packets packets); raise TARGET_BYTES" >&2
    exit 1
fi
editcap -F pcap -s 254 "$PCAP" "$OUTDIR/large-254.pcap"
echo "== 0 packets dropped by the kernel; rate $rate B/s per flow, $FLOWS flows"
capinfos -M -t -E -l -c -s -d -u -y -i "$PCAP" "$OUTDIR/large-254.pcap"
