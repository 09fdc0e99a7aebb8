#!/usr/bin/env bash
# make-netns-captures.sh: record bttrace's small real-traffic fixtures into fixtures/netns/.
#
# Run as root from anywhere:   sudo scripts/make-netns-captures.sh
# Needs: iproute2, ethtool, tcpdump, tshark + dumpcap (Wireshark CLI), capinfos, iptables,
#        python3 (3.9+). Takes about a minute.
#
# It builds three network namespaces, bttfix-cli (the user's machine, 198.51.100.1),
# bttfix-rtr (a router) and bttfix-srv (the test server, 203.0.113.1); see netns-topology.sh.
# scripts/btpeer.py plays Glasnost-style BitTorrent and control transfers between them while
# tcpdump / dumpcap record them, mostly on the server's veth (s0) with the Glasnost filter
# `host 198.51.100.1`. Client ports are fixed (50001...) so tests can name every 4-tuple.
# Finally it writes fixtures/netns/README.md with what each file holds, measured with capinfos
# and tshark. Idempotent: every run replaces the files (timings and byte counts vary a little
# from run to run; sizes of messages, flows, ports and who sends RSTs do not).
# The namespaces are deleted on exit, whatever happens.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "$HERE/.." && pwd)/fixtures/netns
BTPEER="python3 $HERE/btpeer.py"
P=bttfix
CLI=$P-cli RTR=$P-rtr SRV=$P-srv
CLIENT=198.51.100.1 SERVER=203.0.113.1
[[ $(id -u) == 0 ]] || { echo "run me as root (network namespaces)" >&2; exit 2; }
for tool in ip ethtool tcpdump tshark dumpcap capinfos iptables python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

source "$HERE/netns-topology.sh"
TMP=$(mktemp -d)
cleanup() { topo_down "$P"; rm -rf "$TMP"; }
trap cleanup EXIT
topo_up "$P"
mkdir -p "$OUT"

# capture_start NS FILE CMD...: run a capture command in NS in the background until capture_stop.
capture_start() {
    local ns=$1 file=$2; shift 2
    ip netns exec "$ns" "$1" -w "$file" "${@:2}" 2>"$TMP/cap.err" &
    CAP_PID=$!
    for _ in $(seq 100); do
        grep -qE 'listening on|Capturing on' "$TMP/cap.err" && { sleep 0.2; return 0; }
        sleep 0.05
    done
    cat "$TMP/cap.err" >&2; return 1
}
capture_stop() {
    # libpcap (TPACKET_V3) hands packets over in blocks retired after at most 1 s; a block still
    # open at SIGINT is lost, so wait longer than that after the last packet.
    sleep 2
    kill -INT "$CAP_PID"; wait "$CAP_PID" || true
    grep -E 'captured|dropped' "$TMP/cap.err" | sed 's/^/    /' >&2 || true
}

# flow PORT CLIENT_PORT "SERVER ARGS" "CLIENT ARGS": one transfer; server and client get the
# common arguments (kind, direction, ...) inside the two strings.
flow() {
    local port=$1 cport=$2 sargs=$3 cargs=$4
    # shellcheck disable=SC2086
    ip netns exec "$SRV" $BTPEER --role server --listen "$SERVER:$port" $sargs &
    local spid=$!
    topo_wait_listen "$SRV" "$port"
    # shellcheck disable=SC2086
    ip netns exec "$CLI" $BTPEER --role client --connect "$SERVER:$port" \
        --bind "$CLIENT:$cport" $cargs || true
    wait "$spid" || true
}

TCPDUMP_S0="tcpdump -n -i s0 -s 0 --time-stamp-precision=micro"
FILTER="host $CLIENT"
# The commands below are quoted verbatim in README.md (FIXTURE_CMDS).
declare -A CMDS

echo "== bt_download_full.pcap" >&2
capture_start "$SRV" "$OUT/bt_download_full.pcap" $TCPDUMP_S0 "$FILTER"
COMMON="--kind bt --direction download --piece-size 16397 --duration 2"
flow 6881 50001 "$COMMON --rate 100000" "$COMMON"
capture_stop
CMDS[bt_download_full.pcap]="tcpdump -n -i s0 -s 0 -w bt_download_full.pcap 'host $CLIENT'  (in $SRV)
btpeer.py --role server --listen $SERVER:6881 $COMMON --rate 100000
btpeer.py --role client --connect $SERVER:6881 --bind $CLIENT:50001 $COMMON"

echo "== bt_upload_s96.pcap" >&2
capture_start "$SRV" "$OUT/bt_upload_s96.pcap" tcpdump -n -i s0 -s 96 "$FILTER"
COMMON="--kind bt --direction upload --piece-size 262157 --duration 2"
flow 6881 50002 "$COMMON" "$COMMON --rate 500000"
capture_stop
CMDS[bt_upload_s96.pcap]="tcpdump -n -i s0 -s 96 -w bt_upload_s96.pcap 'host $CLIENT'  (in $SRV)
btpeer.py --role server --listen $SERVER:6881 $COMMON
btpeer.py --role client --connect $SERVER:6881 --bind $CLIENT:50002 $COMMON --rate 500000"

echo "== control_6881.pcap" >&2
capture_start "$SRV" "$OUT/control_6881.pcap" $TCPDUMP_S0 "$FILTER"
COMMON="--kind control --direction download --piece-size 16397 --duration 2"
flow 6881 50003 "$COMMON --rate 100000" "$COMMON"
capture_stop
CMDS[control_6881.pcap]="tcpdump -n -i s0 -s 0 -w control_6881.pcap 'host $CLIENT'  (in $SRV)
btpeer.py --role server --listen $SERVER:6881 $COMMON --rate 100000
btpeer.py --role client --connect $SERVER:6881 --bind $CLIENT:50003 $COMMON"

echo "== bt_and_control.pcapng" >&2
# Two interfaces of the router, one filter each: the BitTorrent flow is recorded where it
# enters the router from the client (rc), the control flow where it leaves towards the server (rs).
rm -f "$OUT/bt_and_control.pcapng"
capture_start "$RTR" "$OUT/bt_and_control.pcapng" dumpcap -q \
    -i rc -f "tcp port 6881" -i rs -f "tcp port 4711"
COMMON="--direction download --piece-size 16397 --duration 1"
flow 6881 50004 "--kind bt $COMMON --rate 60000" "--kind bt $COMMON" &
BT_FLOW=$!
flow 4711 50005 "--kind control $COMMON --rate 60000" "--kind control $COMMON"
wait "$BT_FLOW"
capture_stop
CMDS[bt_and_control.pcapng]="dumpcap -i rc -f 'tcp port 6881' -i rs -f 'tcp port 4711' -w bt_and_control.pcapng  (in $RTR)
btpeer.py --role server --listen $SERVER:6881 --kind bt $COMMON --rate 60000
btpeer.py --role client --connect $SERVER:6881 --bind $CLIENT:50004 --kind bt $COMMON
btpeer.py --role server --listen $SERVER:4711 --kind control $COMMON --rate 60000   (at the same time)
btpeer.py --role client --connect $SERVER:4711 --bind $CLIENT:50005 --kind control $COMMON"

echo "== any_sll.pcap" >&2
capture_start "$SRV" "$OUT/any_sll.pcap" tcpdump -n -i any -s 0 "$FILTER"
COMMON="--kind bt --direction upload --piece-size 16397 --duration 1"
flow 6881 50006 "$COMMON" "$COMMON --rate 100000"
capture_stop
CMDS[any_sll.pcap]="tcpdump -n -i any -s 0 -w any_sll.pcap 'host $CLIENT'  (in $SRV)
btpeer.py --role server --listen $SERVER:6881 $COMMON
btpeer.py --role client --connect $SERVER:6881 --bind $CLIENT:50006 $COMMON --rate 100000"

echo "== reset_by_server.pcap" >&2
capture_start "$SRV" "$OUT/reset_by_server.pcap" $TCPDUMP_S0 "$FILTER"
COMMON="--kind bt --direction download --piece-size 16397 --duration 5"
flow 6881 50007 "$COMMON --rate 100000 --abort-after 1" "$COMMON"
capture_stop
CMDS[reset_by_server.pcap]="tcpdump -n -i s0 -s 0 -w reset_by_server.pcap 'host $CLIENT'  (in $SRV)
btpeer.py --role server --listen $SERVER:6881 $COMMON --rate 100000 --abort-after 1
btpeer.py --role client --connect $SERVER:6881 --bind $CLIENT:50007 $COMMON"

echo "== refused.pcap" >&2
ip netns exec "$SRV" iptables -A INPUT -p tcp --dport 6883 -j DROP
capture_start "$SRV" "$OUT/refused.pcap" $TCPDUMP_S0 "$FILTER"
ip netns exec "$CLI" $BTPEER --role client --connect "$SERVER:6882" --bind "$CLIENT:50008" || true
ip netns exec "$CLI" $BTPEER --role client --connect "$SERVER:6883" --bind "$CLIENT:50009" \
    --connect-timeout 4 || true
capture_stop
ip netns exec "$SRV" iptables -D INPUT -p tcp --dport 6883 -j DROP
CMDS[refused.pcap]="iptables -A INPUT -p tcp --dport 6883 -j DROP  (in $SRV)
tcpdump -n -i s0 -s 0 -w refused.pcap 'host $CLIENT'  (in $SRV)
btpeer.py --role client --connect $SERVER:6882 --bind $CLIENT:50008     (nothing listens: RST)
btpeer.py --role client --connect $SERVER:6883 --bind $CLIENT:50009 --connect-timeout 4   (dropped)"

echo "== glasnost_rawip_200.pcap" >&2
capture_start "$SRV" "$TMP/full.pcap" $TCPDUMP_S0 "$FILTER"
COMMON="--kind bt --direction download --piece-size 262157 --duration 1"
flow 6881 50010 "$COMMON --rate 1000000" "$COMMON"
capture_stop
python3 "$HERE/to_glasnost_form.py" --host "$CLIENT" "$TMP/full.pcap" "$OUT/glasnost_rawip_200.pcap"
CMDS[glasnost_rawip_200.pcap]="tcpdump -n -i s0 -s 0 -w full.pcap 'host $CLIENT'  (in $SRV)
btpeer.py --role server --listen $SERVER:6881 $COMMON --rate 1000000
btpeer.py --role client --connect $SERVER:6881 --bind $CLIENT:50010 $COMMON
to_glasnost_form.py --host $CLIENT full.pcap glasnost_rawip_200.pcap"

# ---- README.md: static description plus what this run measured ------------------------------
declare -A ABOUT
ABOUT[bt_download_full.pcap]="One BitTorrent emulation, **download** (the server seeds), 16 KiB blocks (piece
messages of 16,397 B, as real clients use), server paced to 100 kB/s for 2 s; then the server
stops sending, most likely in the middle of a piece (server→client payload minus 239 set-up
bytes, modulo 16,397, tells), and closes with FIN; the client answers with FIN. Ethernet, full snaplen,
microsecond pcap, captured on the server's veth: client packets have TTL 63, server packets TTL 64.
Client 198.51.100.1:50001, server 203.0.113.1:6881. Client→server payload: 68 (handshake) + 166
(bitfield) + 5 (interested) + 17 per request; server→client: 68 + 166 + 5 (unchoke) + pieces.
No RST."
ABOUT[bt_upload_s96.pcap]="One BitTorrent emulation, **upload** (the client seeds, the server downloads, so the
server sends the first handshake, bitfield of 0x00 and interested; the client answers and sends
piece messages of 262,157 B, the 2009 test's 256 KiB blocks), client paced to 500 kB/s for 2 s.
Captured with \`-s 96\`: 96 bytes kept per packet, the rest only counted in the record length.
Client 198.51.100.1:50002, server 203.0.113.1:6881. Closed with FIN both ways. No RST."
ABOUT[control_6881.pcap]="The **control** twin of bt_download_full.pcap: same sizes, order and timing
(68, 166, 5 / 68, 166, 5, then 17-byte requests and 16,397-byte pieces) but every byte random.
Client 198.51.100.1:50003, server 203.0.113.1:6881 (the BitTorrent port). FIN both ways. No RST."
ABOUT[bt_and_control.pcapng]="pcapng written by dumpcap with **two interface description blocks**, both Ethernet:
interface 0 = rc (router side facing the client; filter \`tcp port 6881\`) holds the
BitTorrent download 198.51.100.1:50004 → 203.0.113.1:6881; interface 1 = rs (router side facing
the server; filter \`tcp port 4711\`) holds the control download 198.51.100.1:50005 →
203.0.113.1:4711. Both run at the same time, 16,397-byte pieces, 60 kB/s, 1 s. On rc client
packets have TTL 64 and server packets 63; on rs the other way round. FIN both ways. No RST."
ABOUT[any_sll.pcap]="\`tcpdump -i any\` in the server namespace: link type LINUX_SLL2 (276, Linux cooked
capture v2; libpcap 1.10 picks v2 for \"any\"). One BitTorrent **upload** (client seeds,
16,397-byte pieces, 100 kB/s, 1 s), client 198.51.100.1:50006, server 203.0.113.1:6881.
Each packet appears once (only s0 carries it). FIN both ways. No RST."
ABOUT[reset_by_server.pcap]="A BitTorrent download (server seeds at 100 kB/s, 16,397-byte pieces) that the
**server process aborts** 1 s into the piece phase, in the middle of a piece: SO_LINGER 0, then
close, so the server's kernel sends a genuine endpoint RST: RST+ACK, seq = the server's next
sequence number (right after its last data byte), ack = the client's next byte, an ordinary
non-zero window, TTL 64, TCP timestamp option present (see the listing below). Should a client
packet arrive after it, the server's kernel answers with another RST (no socket any more;
window 0, no options). Neither end sends a FIN; the client sends no RST.
Client 198.51.100.1:50007, server 203.0.113.1:6881."
ABOUT[refused.pcap]="Two connection attempts that never get established.
(1) 198.51.100.1:50008 → 203.0.113.1:6882, a closed port: SYN answered at once by RST+ACK from
the server. (2) 198.51.100.1:50009 → 203.0.113.1:6883, SYNs dropped by iptables INPUT in the
server namespace (the capture sees them, as tcpdump taps before netfilter): the SYN and its
retransmissions until the client gives up after 4 s, no answer. How many and when depends on the
kernel: with Linux 6.5+ (net.ipv4.tcp_syn_linear_timeouts = 4) about one per second, 4 SYNs in
all; older kernels back off exponentially (after 1 s and 3 s: 3 SYNs)."
ABOUT[glasnost_rawip_200.pcap]="What a 2010+ Glasnost server trace looks like: one BitTorrent download
(262,157-byte pieces, server paced to 1 MB/s for 1 s, FIN both ways), captured at full size on
the server's veth and rewritten by to_glasnost_form.py: LINKTYPE_RAW (101), file snaplen 4096,
microsecond pcap, every TCP packet cut to IP + TCP header + at most 200 payload bytes, record
length = IP total length. So a full-size data segment has caplen 20 + 32 + 200 = 252 (TCP
timestamps on: 32-byte TCP header) and len 1500; pure ACKs have caplen = len = 52; no ARP. Client 198.51.100.1:50010, server
203.0.113.1:6881. No RST."

README=$OUT/README.md
{
cat <<EOF
# Real-traffic fixtures from network namespaces

Made by \`scripts/make-netns-captures.sh\` (run as root; it says what it needs). The traffic is
real Linux TCP between network namespaces, driven by \`scripts/btpeer.py\`, which emulates
Glasnost's BitTorrent transfer and its random-byte control twin (see shared/DOMAIN.md sections
2 and 5). Topology (\`scripts/netns-topology.sh\`): client namespace (198.51.100.1, veth c0) —
router namespace (rc 198.51.100.254, rs 203.0.113.254) — server namespace (203.0.113.1, veth
s0); TSO/GSO/GRO and TX checksum offload off, so frames are at most 1514 B and checksums are
valid. Unless said otherwise a file was recorded on s0 (the server's side, like a Glasnost
trace) with the filter \`host 198.51.100.1\`, Ethernet, microsecond pcap.

Every run of the script makes new files: message sizes, flows, ports, directions and who sends
which RST stay the same; timestamps, sequence numbers and byte totals (the piece count reached
in the time) vary a little. The numbers below are those of the files as they are now
(generated $(date -u +%Y-%m-%d) by the script).

EOF
for f in bt_download_full.pcap bt_upload_s96.pcap control_6881.pcap bt_and_control.pcapng \
         any_sll.pcap reset_by_server.pcap refused.pcap glasnost_rawip_200.pcap; do
    path=$OUT/$f
    echo "## $f"
    echo
    echo "${ABOUT[$f]}"
    echo
    echo "Made with (the btpeer.py runs in $CLI / $SRV):"
    echo
    echo '```'
    echo "${CMDS[$f]}"
    echo '```'
    echo
    echo "capinfos:"
    echo
    echo '```'
    capinfos -t -E -l -c -s -u "$path" | grep -v '^File name'
    capinfos -I "$path" 2>/dev/null | grep -E 'Number of interfaces' || true
    echo '```'
    echo
    echo "\`tshark -q -z conv,tcp\` (bytes are frame bytes as captured on the wire, len):"
    echo
    echo '```'
    tshark -r "$path" -q -z conv,tcp 2>/dev/null | grep -vE '^(=+|TCP Conversations|Filter:.*)$'
    echo '```'
    echo
    echo "Facts to assert:"
    echo
    python3 - "$path" <<'PY'
import subprocess, sys, collections
path = sys.argv[1]
out = subprocess.run(["tshark", "-r", path, "-T", "fields", "-E", "separator=\t",
                      "-e", "frame.number", "-e", "ip.src", "-e", "tcp.srcport", "-e", "ip.dst",
                      "-e", "tcp.dstport", "-e", "tcp.len", "-e", "tcp.flags.syn",
                      "-e", "tcp.flags.ack", "-e", "tcp.flags.fin", "-e", "tcp.flags.reset",
                      "-e", "tcp.seq_raw", "-e", "tcp.ack_raw", "-e", "ip.ttl",
                      "-e", "tcp.window_size_value", "-e", "tcp.stream"],
                     capture_output=True, text=True, check=True).stdout
flows = collections.OrderedDict()
for line in out.splitlines():
    f = line.split("\t")
    if len(f) < 15 or not f[14]:
        continue
    num, src, sp, dst, dp, ln, syn, ack, fin, rst, seq, ackn, ttl, win, stream = f
    fl = flows.setdefault(stream, {"client": None, "pkts": 0, "pay": collections.Counter(),
                                   "fin": set(), "rst": [], "syn": 0})
    if fl["client"] is None:   # the first packet's sender; a SYN without ACK names the client
        fl["client"] = (src, sp) if not (syn == "1" and ack == "1") else (dst, dp)
    side = "client" if (src, sp) == fl["client"] else "server"
    fl["pkts"] += 1
    fl["pay"][side] += int(ln or 0)
    if syn == "1" and ack != "1":
        fl["syn"] += 1
    if fin == "1":
        fl["fin"].add(side)
    if rst == "1":
        fl["rst"].append("frame %s from %s (seq %s, ack %s, ACK flag %s, raw window %s, TTL %s)"
                         % (num, side, seq, ackn if ack == "1" else "-", ack, win, ttl))
print("- TCP flows: %d" % len(flows))
for s, fl in flows.items():
    c = "%s:%s" % fl["client"]
    print("- flow %s: client %s; %d packets; TCP payload client→server %d B, server→client %d B; "
          "SYNs from client %d; FIN from %s; RST: %s"
          % (s, c, fl["pkts"], fl["pay"]["client"], fl["pay"]["server"], fl["syn"],
             " and ".join(sorted(fl["fin"])) or "nobody", "none" if not fl["rst"] else
             "%d, from %s" % (len(fl["rst"]), ", ".join(sorted({r.split(" from ")[1].split()[0] for r in fl["rst"]})))))
    for r in fl["rst"]:
        print("  - RST %s" % r)
PY
    echo
done
} > "$README"
# tcpdump drops to its own user and dumpcap writes mode 0600: hand the files to the repo's owner.
chown "$(stat -c %u:%g "$OUT/..")" "$OUT"/*
chmod 0644 "$OUT"/*
ls -l "$OUT" >&2
echo "wrote $README" >&2
