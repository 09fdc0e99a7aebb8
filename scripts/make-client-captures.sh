#!/usr/bin/env bash
# make-client-captures.sh: record real BitTorrent clients (transmission-cli and aria2c) seeding
# and leeching a torrent of random data between two network namespaces, into fixtures/clients/.
#
# Run as root from anywhere:   sudo scripts/make-client-captures.sh [--readme-only]
# (--readme-only: record nothing, rewrite fixtures/clients/README.md from the files there;
# OUT=DIR in the environment writes to DIR instead of fixtures/clients/; ONLY="NAME ..." records
# only those files and rewrites README.md for all)
# Needs: iproute2, ethtool, tcpdump, tshark, capinfos, python3 (3.9+), transmission-cli and
#        transmission-create (Debian: transmission-cli), aria2c (Debian: aria2), iptables (for
#        the loss capture). Takes ~5 minutes.
#
# Topology (scripts/netns-topology.sh): bttcl-cli (198.51.100.1) - bttcl-rtr - bttcl-srv
# (203.0.113.1). A tiny HTTP tracker (scripts/mini-tracker.py) runs in the router namespace on
# 203.0.113.254:6969, so its traffic never matches the capture filter
#     tcp and host 198.51.100.1 and host 203.0.113.1
# which keeps only the peer-wire TCP between the two clients (DHT is UDP, so it is left out too).
# The tracker gives the peer list only to the address named with --tell, so exactly one side
# learns of the other and opens the one peer-wire connection; the announce interval is an hour,
# so nobody re-announces. One client seeds in the server namespace, the other leeches in the
# client namespace; tcpdump records on the server's veth s0. The seeder is rate-limited (50 kB/s)
# and the leecher is stopped (SIGINT, a clean shutdown: FIN) after $DURATION seconds, long
# before the 3 MiB are through, so each full-size file stays under ~1 MB.
#
# The data: 3 MiB from Python's random.Random(20240601) (the same bytes every run), one file,
# 64 KiB pieces (48 pieces), made into a torrent by transmission-create with the tracker's URL.
# Its info-hash is the same every run (creation date is outside the info dictionary).
#
# Idempotent: every run replaces the files in fixtures/clients/ and its README.md. Timings,
# ports of the initiating side, peer-ids, MSE keys and how far the download gets vary from run
# to run; who connects to whom, the encryption, the message kinds sent and the listening ports
# (transmission 51413, aria2 6881) do not. The namespaces are deleted on exit, whatever happens.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$(cd "$HERE/.." && pwd)/fixtures/clients}   # OUT=DIR in the environment: write there
P=bttcl
CLI=$P-cli RTR=$P-rtr SRV=$P-srv
CLIENT=198.51.100.1 SERVER=203.0.113.1 TRACKER=203.0.113.254:6969
TR_PORT=51413 ARIA_PORT=6881
RATE_KB=50          # seeder's upload limit, kB/s
DURATION=${DURATION:-24}   # seconds from the leecher's start to its shutdown
README_ONLY=
[[ ${1:-} == --readme-only ]] && README_ONLY=1   # rewrite README.md from the files present
FILTER="tcp and host $CLIENT and host $SERVER"
[[ $(id -u) == 0 ]] || { echo "run me as root (network namespaces)" >&2; exit 2; }
for tool in ip ethtool tcpdump tshark capinfos python3 transmission-cli transmission-create aria2c; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

source "$HERE/netns-topology.sh"
TMP=$(mktemp -d)
chmod 755 "$TMP"
cleanup() { topo_down "$P"; rm -rf "$TMP"; }
trap cleanup EXIT
topo_up "$P"
mkdir -p "$OUT"

# ---- the torrent ------------------------------------------------------------------------------
DATA=bttrace-random-3MiB.bin
mkdir -p "$TMP/data"
python3 -c "import random,sys; open(sys.argv[1],'wb').write(random.Random(20240601).randbytes(3 << 20))" \
    "$TMP/data/$DATA"
transmission-create -o "$TMP/t.torrent" -t "http://$TRACKER/announce" -s 64 "$TMP/data/$DATA" >/dev/null
INFO_HASH=$(python3 - "$TMP/t.torrent" <<'PY'
import hashlib, sys
d = open(sys.argv[1], "rb").read()
i = d.index(b"4:infod") + 6
def skip(p):          # end of the bencoded value at p
    c = d[p:p+1]
    if c == b"i": return d.index(b"e", p) + 1
    if c in (b"l", b"d"):
        p += 1
        while d[p:p+1] != b"e": p = skip(p)
        return p + 1
    n = d.index(b":", p); return n + 1 + int(d[p:n])
print(hashlib.sha1(d[i:skip(i)]).hexdigest())
PY
)

# ---- the clients --------------------------------------------------------------------------------
# Each run gets fresh state in $TMP/run: a transmission config dir, download dirs, aria2's DHT file.
# transmission-cli reads settings.json from its -g dir: uTP, LPD, port mapping off (uTP would be
# UDP and out of the filter), DHT and PEX on (so that port and ut_pex extended messages appear).
transmission_settings() {
    mkdir -p "$1"
    cat >"$1/settings.json" <<EOF
{"dht-enabled": true, "pex-enabled": true, "lpd-enabled": false, "utp-enabled": false,
 "port-forwarding-enabled": false, "blocklist-enabled": false, "rpc-enabled": false,
 "peer-port": $TR_PORT, "message-level": 2}
EOF
}
# tr_cmd / aria_cmd print a client's command line (quoted verbatim in README.md, where $RUN
# stands for the run's directory).
tr_cmd() {   # tr_cmd seed|leech plain|rc4|mse-plain
    local enc=-et
    [[ $2 == rc4 ]] && enc=-er
    if [[ $1 == seed ]]; then
        echo "transmission-cli -g \$RUN/tr -w \$RUN/data $enc -u $RATE_KB -p $TR_PORT \$RUN/t.torrent"
    else
        echo "transmission-cli -g \$RUN/tr -w \$RUN/dl $enc -p $TR_PORT \$RUN/t.torrent"
    fi
}
aria_cmd() {   # aria_cmd seed|leech plain|rc4|mse-plain
    local c="aria2c --no-conf=true --listen-port=$ARIA_PORT --enable-dht=true"
    c+=" --dht-listen-port=$ARIA_PORT --dht-file-path=\$RUN/dht.dat --bt-enable-lpd=false"
    c+=" --summary-interval=0 --console-log-level=warn --log=\$RUN/aria2.log --log-level=info"
    [[ $2 == rc4 ]] && c+=" --bt-require-crypto=true --bt-min-crypto-level=arc4"
    if [[ $1 == seed ]]; then
        c+=" -d \$RUN/data --check-integrity=true --seed-ratio=0.0"
        c+=" --max-overall-upload-limit=${RATE_KB}K"
    else
        c+=" -d \$RUN/dl --seed-time=0"
    fi
    echo "$c \$RUN/t.torrent"
}

# capture NAME SEEDER ENC TELL [S96NAME]: one recording (plus, with S96NAME, a second tcpdump
# at -s 96 of the same packets; with LOSS=1 in its environment, the router drops packets, see
# LOSS_RULES). SEEDER (tr|aria2) seeds in $SRV, the other
# client leeches in $CLI; ENC is plain (transmission -et, aria2 defaults), rc4 (transmission -er,
# aria2 --bt-require-crypto --bt-min-crypto-level=arc4) or mse-plain (plain settings, but the
# side told of the other is aria2, which always opens with an MSE handshake and then accepts
# transmission's choice of plaintext); TELL (client|server) is the side the tracker tells, the
# one that opens the TCP connection.
declare -A CMDS PIDS
# The router's drops for the loss capture (iptables FORWARD rules in $RTR; the tracker is the
# router's own address, so its traffic is never forwarded): 3 % of the packets coming from the
# server side (rs), at random, and every 4th packet with payload (IP length over 52 = 20 + 32
# header bytes) coming from the client side (rc), so that the client's lost data is sure to show.
LOSS_RULES=("FORWARD -i rs -p tcp -m statistic --mode random --probability 0.03 -j DROP"
            "FORWARD -i rc -p tcp -m length --length 53:65535 -m statistic --mode nth --every 4 --packet 3 -j DROP")
# start_role seed|leech: run the seeder in $SRV or the leecher in $CLI, in the background.
start_role() {
    local ns=$SRV cmd=$seed_cmd
    if [[ $1 == leech ]]; then ns=$CLI; cmd=$leech_cmd; fi
    ip netns exec "$ns" env RUN="$RUN" bash -c "exec $cmd" >"$RUN/$1.out" 2>&1 </dev/null &
    PIDS[$1]=$!
}
capture() {
    local name=$1 seeder=$2 enc=$3 tell=$4 cut=${5:-}
    local tell_ip=$CLIENT
    [[ $tell == server ]] && tell_ip=$SERVER
    echo "== $name" >&2
    RUN=$TMP/run
    rm -rf "$RUN"; mkdir -p "$RUN/dl"
    cp -r "$TMP/data" "$RUN/data"; cp "$TMP/t.torrent" "$RUN/"
    transmission_settings "$RUN/tr"
    if [[ $seeder == tr ]]; then
        seed_cmd=$(tr_cmd seed "$enc"); leech_cmd=$(aria_cmd leech "$enc")
    else
        seed_cmd=$(aria_cmd seed "$enc"); leech_cmd=$(tr_cmd leech "$enc")
    fi
    chmod -R a+rwX "$RUN"
    local tcpd="tcpdump -n -i s0 -s 0 --time-stamp-precision=micro -w $name '$FILTER'"
    [[ -n $cut ]] && tcpd+="
tcpdump -n -i s0 -s 96 --time-stamp-precision=micro -w $cut '$FILTER'   (at the same time)"
    local lossline="" rule
    if [[ -n ${LOSS:-} ]]; then
        for rule in "${LOSS_RULES[@]}"; do lossline+="
iptables -A $rule"; done
    fi
    CMDS[$name]="# in $RTR (the tracker; --tell: only $tell_ip is given a peer)$lossline
python3 scripts/mini-tracker.py --listen $TRACKER --tell $tell_ip
# in $SRV
$tcpd
# in $SRV, the seeder, and in $CLI, the leecher: the one not told starts first, the
# other once the first has announced; the leecher is stopped with SIGINT $DURATION s after
# that, the seeder 3 s later
$seed_cmd
$leech_cmd"
    [[ -n $cut ]] && CMDS[$cut]=${CMDS[$name]}
    [[ -n $README_ONLY ]] && return 0
    # ONLY="NAME ..." in the environment: record only these (the others are left as they are).
    [[ -n ${ONLY:-} && " $ONLY " != *" $name "* ]] && return 0

    if [[ -n ${LOSS:-} ]]; then
        # shellcheck disable=SC2086
        for rule in "${LOSS_RULES[@]}"; do ip netns exec "$RTR" iptables -A $rule; done
    fi

    ip netns exec "$RTR" python3 "$HERE/mini-tracker.py" --listen "$TRACKER" --tell "$tell_ip" \
        --log "$RUN/tracker.log" &
    local trk=$!
    topo_wait_listen "$RTR" "${TRACKER#*:}"

    # One tcpdump at full size and, with CUT, a second one at -s 96 on the same interface at
    # the same time: two recordings of the very same packets.
    local caps=() f snap
    for f in "$name" $cut; do
        snap=0; [[ $f == "$cut" ]] && snap=96
        rm -f "$OUT/$f"
        ip netns exec "$SRV" tcpdump -n -i s0 -s "$snap" --time-stamp-precision=micro \
            -w "$OUT/$f" "$FILTER" 2>"$RUN/tcpdump-$f.err" &
        caps+=($!)
        for _ in $(seq 100); do grep -q 'listening on' "$RUN/tcpdump-$f.err" && break; sleep 0.05; done
    done
    sleep 0.2

    # The side the tracker does not tell starts first; the told side once the first has
    # announced (the seeder only after checking its data), so that the told side's one
    # announce finds it.
    local first=seed second=leech first_ip=$SERVER
    if [[ $tell == server ]]; then first=leech second=seed first_ip=$CLIENT; fi
    start_role "$first"
    for _ in $(seq 300); do
        grep -q "announce $first_ip:.*event=started" "$RUN/tracker.log" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "announce $first_ip:.*event=started" "$RUN/tracker.log" \
        || { cat "$RUN/$first.out" >&2; return 1; }
    start_role "$second"
    sleep "$DURATION"
    kill -INT "${PIDS[leech]}"; wait "${PIDS[leech]}" || true
    sleep 3
    kill -INT "${PIDS[seed]}"; wait "${PIDS[seed]}" || true
    # libpcap (TPACKET_V3) retires a block after at most 1 s: wait past that before stopping.
    sleep 2
    kill -INT "${caps[@]}"; wait "${caps[@]}" || true
    kill "$trk"; wait "$trk" 2>/dev/null || true
    if [[ -n ${LOSS:-} ]]; then
        ip netns exec "$RTR" iptables -L FORWARD -v -n \
            | awk '/statistic/ {print "    router dropped " $1 " packets coming in on " $6}' >&2
        # shellcheck disable=SC2086
        for rule in "${LOSS_RULES[@]}"; do ip netns exec "$RTR" iptables -D $rule; done
    fi
    for f in "$name" $cut; do
        grep -E 'captured|dropped' "$RUN/tcpdump-$f.err" | sed "s/^/    $f: /" >&2 || true
    done
    sed 's/^/    tracker: /' "$RUN/tracker.log" >&2

    return 0
}

#       full-size file          seeder enc       told   -s 96 twin
capture tr_seed_plain.pcap      tr     plain     server tr_seed_plain_s96.pcap
capture tr_seed_rc4.pcap        tr     rc4       client
capture aria2_seed_plain.pcap   aria2  plain     client
capture tr_seed_mse_plain.pcap  tr     mse-plain client
capture aria2_seed_rc4.pcap     aria2  rc4       client
LOSS=1 capture tr_seed_plain_loss.pcap tr plain server

# ---- README.md ----------------------------------------------------------------------------------
declare -A ABOUT
ABOUT[tr_seed_plain.pcap]="**transmission seeds, aria2 leeches, plaintext.** transmission-cli in the server
namespace (203.0.113.1, listening on $TR_PORT, \`-et\`: prefer unencrypted, upload limit
$RATE_KB kB/s) seeds; aria2c in the client namespace (198.51.100.1, listening on $ARIA_PORT) leeches.
The tracker tells only the seeder, so **transmission opens the connection**: TCP client
203.0.113.1:(ephemeral), TCP server 198.51.100.1:$ARIA_PORT, and it opens it with a plaintext
BitTorrent handshake (a transmission that prefers plaintext initiates in plaintext; aria2 as
initiator would always start with MSE, see tr_seed_mse_plain.pcap). Full snaplen."
ABOUT[tr_seed_plain_s96.pcap]="**The same packets as tr_seed_plain.pcap**, recorded by a second tcpdump on s0 at
the same time with **\`-s 96\`**, so the full-size file is the ground truth for this one: at
most 96 bytes of each frame are kept (14 Ethernet + 20 IP + 32 TCP with timestamps = 66 header bytes, so at most
**30 bytes of TCP payload** per packet), the rest only counted in the record length."
ABOUT[tr_seed_rc4.pcap]="**transmission seeds, aria2 leeches, encryption required.** transmission-cli \`-er\`,
aria2c \`--bt-require-crypto=true --bt-min-crypto-level=arc4\`. The tracker tells the leecher,
so **aria2 opens the connection** (198.51.100.1:(ephemeral) → 203.0.113.1:$TR_PORT) with an
MSE/PE handshake (Ya + PadA, Yb + PadB, ...) and RC4 is selected: after the key exchange every
byte both ways is RC4-encrypted, the BitTorrent handshake included. No plaintext
\`\\x13BitTorrent protocol\` anywhere. Full snaplen."
ABOUT[aria2_seed_plain.pcap]="**aria2 seeds, transmission leeches, plaintext** (the reverse of tr_seed_plain.pcap).
aria2c in the server namespace (203.0.113.1, listening on $ARIA_PORT, upload limit ${RATE_KB}K
= $RATE_KB KiB/s) seeds; transmission-cli \`-et\` in the client namespace (198.51.100.1, port
$TR_PORT) leeches. The tracker tells the leecher, so **transmission opens the connection**
(198.51.100.1:(ephemeral) → 203.0.113.1:$ARIA_PORT) with a plaintext handshake. Full snaplen."
ABOUT[aria2_seed_rc4.pcap]="**aria2 seeds, transmission leeches, encryption required**, on the BitTorrent port.
aria2c \`--bt-require-crypto=true --bt-min-crypto-level=arc4\` seeds in the server namespace
(203.0.113.1, listening on $ARIA_PORT); transmission-cli \`-er\` leeches in the client
namespace. The tracker tells the leecher, so **transmission opens the connection**
(198.51.100.1:(ephemeral) → 203.0.113.1:$ARIA_PORT) with an MSE/PE handshake; RC4 is selected,
so no byte after the key exchange is plaintext. Because the server port is 6881, tshark labels
the encrypted payload BitTorrent (by port) and shows it as continuation data. Full snaplen."
ABOUT[tr_seed_plain_loss.pcap]="**tr_seed_plain.pcap with packet loss**: the same clients, settings and direction
(transmission seeds and opens the connection in plaintext, aria2 leeches), but the router drops
3 % of the packets coming from the seeder's side, at random, and every 4th packet with payload
coming from the leecher's side (iptables \`statistic\` match, rules below). Because the capture
is on the server's (seeder's) side, a seeder's segment the router dropped appears **twice**, the
original and its **retransmission**; a leecher's segment the router dropped is never seen, only
its retransmission, **after later data** (out of order in the capture); a dropped ACK makes the
other side retransmit data the capture already holds (tshark: spurious retransmission). Which
packets were dropped differs from run to run: tshark's TCP analysis below says what this file
holds. Full snaplen."
ABOUT[tr_seed_mse_plain.pcap]="**MSE negotiated, plaintext selected.** Settings as tr_seed_plain.pcap (transmission
\`-et\` seeds, aria2 defaults leeches), but the tracker tells the leecher, so **aria2 opens the
connection** (198.51.100.1:(ephemeral) → 203.0.113.1:$TR_PORT). aria2 as initiator always starts
with an MSE/PE handshake offering RC4 and plaintext (crypto_provide 3); transmission, preferring
plaintext, selects plaintext (crypto_select 1). So each direction begins with the MSE
negotiation (DH public key + random padding, then the encrypted VC/crypto fields), and after it
the BitTorrent handshake and all messages are **plaintext**: a plaintext handshake preceded by a
preamble of a few hundred bytes. Full snaplen."

README=$OUT/README.md
{
cat <<EOF
# Real BitTorrent clients between network namespaces

Made by \`scripts/make-client-captures.sh\` (run as root; it says what it needs) with
**$(transmission-cli --version 2>&1 | head -1)** (Debian package transmission-cli
$(dpkg-query -W -f '${Version}' transmission-cli 2>/dev/null || echo '?')) and **$(aria2c --version | head -1)**
(Debian package aria2 $(dpkg-query -W -f '${Version}' aria2 2>/dev/null || echo '?')); facts below from
**$(tshark --version 2>/dev/null | head -1 | sed 's/\.$//')**.

Topology (\`scripts/netns-topology.sh\`, prefix \`$P\`): client namespace (198.51.100.1, veth c0)
— router namespace (198.51.100.254 / 203.0.113.254) — server namespace (203.0.113.1, veth s0);
TSO/GSO/GRO and TX checksum offload off, so frames are at most 1514 B with valid checksums.
Every file was recorded by tcpdump on **s0** (the server's side: server packets TTL 64, client
packets TTL 63), Ethernet, microsecond pcap, with the filter \`$FILTER\`: only the
peer-wire TCP between the two clients. The HTTP tracker (\`scripts/mini-tracker.py\`) runs in
the router namespace on $TRACKER, so its traffic never matches; DHT (UDP) does not either;
uTP, LPD and port mapping are off in both clients.

The torrent: one file \`$DATA\`, 3 MiB (3,145,728 B) of \`random.Random(20240601).randbytes\`,
64 KiB pieces (48), made with \`transmission-create -o t.torrent -t http://$TRACKER/announce -s 64 $DATA\`;
info-hash **$INFO_HASH** (the same every run). The seeder is limited to $RATE_KB kB/s; the leecher is
stopped with SIGINT $DURATION s after the second client started (a clean shutdown: it closes the
connection with FIN; when the seeder is still sending, the leecher's kernel answers with an RST),
the seeder 3 s later. So no file holds the whole torrent, and the last piece message is cut
short. Both clients speak the Fast extension (BEP 6), the extension protocol (BEP 10) and DHT
(BEP 5), so the message kinds on the wire are: handshake, extended (handshake and ut_pex),
have_all (seeder) / have_none (leecher) instead of a bitfield, allowed_fast, port, interested,
unchoke, request, piece, have. Not present: keep_alive (the clients send one after 2 minutes of
silence), choke, not_interested, bitfield, cancel, suggest, reject.

Every run of the script makes new files: the flows, who opens them, the ports the clients
listen on (transmission $TR_PORT, aria2 $ARIA_PORT), the encryption and the message kinds stay
the same; the initiator's ephemeral port, peer-ids, MSE keys and padding, timings and how far
the download gets vary. The numbers below are those of the files as they are now (generated
$(date -u +%Y-%m-%d) by the script).

| file | seeds (server ns, 203.0.113.1) | leeches (client ns, 198.51.100.1) | opens the TCP connection | encryption | snaplen |
|---|---|---|---|---|---|
| tr_seed_plain.pcap | transmission (port $TR_PORT) | aria2 (port $ARIA_PORT) | transmission (seeder) | none: plaintext from byte 0 | full |
| tr_seed_plain_s96.pcap | the same packets as tr_seed_plain.pcap | | | | 96 B |
| tr_seed_rc4.pcap | transmission | aria2 | aria2 (leecher) | MSE/PE, RC4 both ways | full |
| aria2_seed_plain.pcap | aria2 (port $ARIA_PORT) | transmission (port $TR_PORT) | transmission (leecher) | none: plaintext from byte 0 | full |
| tr_seed_mse_plain.pcap | transmission | aria2 | aria2 (leecher) | MSE/PE negotiation, then plaintext | full |
| aria2_seed_rc4.pcap | aria2 | transmission | transmission (leecher) | MSE/PE, RC4 both ways, server port 6881 | full |
| tr_seed_plain_loss.pcap | transmission | aria2 | transmission (seeder) | none; the router drops packets both ways | full |

To re-run one capture by hand: make the namespaces with \`topo_up $P\` (source
netns-topology.sh), put t.torrent and the data in \$RUN (readable by everyone: tcpdump and the
clients need it), and run the commands below in the namespaces named.

EOF
for f in tr_seed_plain.pcap tr_seed_plain_s96.pcap tr_seed_rc4.pcap aria2_seed_plain.pcap \
         tr_seed_mse_plain.pcap aria2_seed_rc4.pcap tr_seed_plain_loss.pcap; do
    path=$OUT/$f
    echo "## $f"
    echo
    echo "${ABOUT[$f]}"
    echo
    echo "Made with:"
    echo
    echo '```'
    echo "${CMDS[$f]}"
    echo '```'
    echo
    echo "capinfos:"
    echo
    echo '```'
    capinfos -t -E -l -c -s -u "$path" | grep -v '^File name'
    echo '```'
    echo
    echo "\`tshark -q -z conv,tcp\`:"
    echo
    echo '```'
    tshark -r "$path" -q -z conv,tcp 2>/dev/null | grep -vE '^(=+|TCP Conversations|Filter:.*)$'
    echo '```'
    echo
    echo "From tshark (\`-T fields -e tcp.stream -e ip.src -e tcp.srcport -e tcp.len -e tcp.flags\`"
    echo "and, for the BitTorrent dissector, \`-Y bittorrent -e bittorrent.msg.type\` etc.; see"
    echo "fixtures/oracle-bt.md for where the dissector and bttrace differ and why):"
    echo
    python3 - "$path" <<'PY'
import collections, subprocess, sys
path = sys.argv[1]
def fields(*f, filt=None):
    cmd = ["tshark", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
           "-E", "aggregator=,"]
    if filt:
        cmd += ["-Y", filt]
    for x in f:
        cmd += ["-e", x]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [l.split("\t") for l in out.splitlines()]
flows = collections.OrderedDict()
for num, stream, src, sp, dst, dp, ln, syn, ack, fin, rst, an in fields(
        "frame.number", "tcp.stream", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport",
        "tcp.len", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset",
        "tcp.analysis.flags"):
    fl = flows.setdefault(stream, {"client": None, "server": None, "pkts": 0,
                                   "pay": collections.Counter(), "fin": [], "rst": [],
                                   "an": collections.Counter()})
    if fl["client"] is None:
        a, b = "%s:%s" % (src, sp), "%s:%s" % (dst, dp)
        fl["client"], fl["server"] = (b, a) if syn == "1" and ack == "1" else (a, b)
    side = "client" if "%s:%s" % (src, sp) == fl["client"] else "server"
    fl["pkts"] += 1
    fl["pay"][side] += int(ln or 0)
    if fin == "1":
        fl["fin"].append("%s (frame %s)" % (side, num))
    if rst == "1":
        fl["rst"].append(num)
# tshark's TCP analysis, per sender: the expert flags that tell retransmissions and gaps.
EXPERT = [("tcp.analysis.retransmission", "retransmission"),
          ("tcp.analysis.fast_retransmission", "fast retransmission"),
          ("tcp.analysis.spurious_retransmission", "spurious retransmission"),
          ("tcp.analysis.out_of_order", "out-of-order"),
          ("tcp.analysis.lost_segment", "previous segment not captured"),
          ("tcp.analysis.ack_lost_segment", "ACKed unseen segment")]
for field, label in EXPERT:
    for stream, src, sp in fields("tcp.stream", "ip.src", "tcp.srcport", filt=field):
        fl = flows[stream]
        side = "client" if "%s:%s" % (src, sp) == fl["client"] else "server"
        fl["an"][(side, label)] += 1
names = {"0": "choke", "1": "unchoke", "2": "interested", "3": "not_interested", "4": "have",
         "5": "bitfield", "6": "request", "7": "piece", "8": "cancel", "9": "port",
         "13": "suggest", "14": "have_all", "15": "have_none", "16": "reject",
         "17": "allowed_fast", "20": "extended"}
bt = collections.defaultdict(collections.Counter)
cont = collections.Counter()
for stream, src, sp, mtypes, mlens, hs, cd in fields(
        "tcp.stream", "ip.src", "tcp.srcport", "bittorrent.msg.type", "bittorrent.msg.length",
        "bittorrent.protocol.name", "bittorrent.continuous_data", filt="bittorrent"):
    side = "client" if "%s:%s" % (src, sp) == flows[stream]["client"] else "server"
    c = bt[(stream, side)]
    c["handshake"] += len([x for x in hs.split(",") if x])
    types = [x for x in mtypes.split(",") if x]
    for t in types:
        c[names.get(t, "unknown(%s)" % t)] += 1
    c["keep_alive"] += len([x for x in mlens.split(",") if x == "0"])
    if cd and not hs and not mlens:
        cont[(stream, side)] += 1
print("- TCP flows: %d" % len(flows))
for s, fl in flows.items():
    print("- flow %s: client (initiator) %s, server %s; %d packets; TCP payload (retransmitted "
          "bytes counted again) client→server %d B, server→client %d B; FIN: %s; RST: %s"
          % (s, fl["client"], fl["server"], fl["pkts"], fl["pay"]["client"], fl["pay"]["server"],
             ", ".join(fl["fin"]) or "none",
             "%d (frames %s)" % (len(fl["rst"]), ", ".join(fl["rst"])) if fl["rst"] else "none"))
    for side in ("client", "server"):
        an = ", ".join("%s %d" % (label, fl["an"][(side, label)]) for _, label in EXPERT
                       if fl["an"][(side, label)])
        print("  - tshark's TCP analysis of the %s's packets (a fast or spurious retransmission is "
              "also counted as a retransmission): %s" % (side, an or "nothing flagged"))
    for side in ("client", "server"):
        c = {k: v for k, v in bt.get((s, side), {}).items() if v}
        what = ", ".join("%s %d" % (k, v) for k, v in sorted(c.items())) or "no message"
        if cont[(s, side)]:
            what += "; %d frames of \"continuation data\" only" % cont[(s, side)]
        print("  - tshark's BitTorrent dissector, sent by the %s: %s" % (side, what))
PY
    echo
done
} > "$README"
# tcpdump drops to its own user: hand the files to the repo's owner.
chown "$(stat -c %u:%g "$OUT/..")" "$OUT"/*
chmod 0644 "$OUT"/*
ls -l "$OUT" >&2
echo "wrote $README" >&2
