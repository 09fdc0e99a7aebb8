#!/usr/bin/env bash
# make-middlebox-captures.sh: record pairs of captures (one at each end of the same test) of
# Glasnost-style sessions crossing a router that forges TCP resets, into fixtures/middlebox/.
#
# Run as root from anywhere:   sudo scripts/make-middlebox-captures.sh
# Needs: iproute2, ethtool, tcpdump, python3 (3.8+); tshark + capinfos for the README; and, for
# the comparison with bttrace, target/release/bttrace (cargo build --release; without it the
# README says so and the comparison is skipped). Takes about a minute.
#
# Topology (scripts/netns-topology.sh): bttmb-cli (client, 198.51.100.1, veth c0) -- bttmb-rtr
# (router, rc 198.51.100.254 / rs 203.0.113.254, IP forwarding on) -- bttmb-srv (server,
# 203.0.113.1, veth s0). In the router runs scripts/rst_injector.py, which sniffs the frames
# arriving on rc and rs and ADDS forged RSTs (it never drops or delays a real packet). For each
# injector mode (none, sandvine, port6881, gfw) one session is played: a BitTorrent download on
# port 6881 and, at the same time, its random-payload control twin on port 4711
# (scripts/btpeer.py), captured simultaneously on c0 in the client namespace and on s0 in the
# server namespace. Outputs fixtures/middlebox/<mode>-client.pcap, <mode>-server.pcap,
# <mode>-injector.log, truth.tsv (every RST of every file with its ground truth), and README.md
# (written by scripts/middlebox_truth.py: topology, commands, ground truth, bttrace's verdicts;
# it exits non-zero, and so does this script, when the captures and the injector's log disagree).
# The races between the injector and the endpoints vary from run to run: to test bttrace on many
# sessions, run it repeatedly with MIDDLEBOX_OUT=/some/dir (the fixtures stay untouched).
# Idempotent: every run replaces the files. The namespaces are deleted on exit, whatever happens.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${MIDDLEBOX_OUT:-$ROOT/fixtures/middlebox}      # MIDDLEBOX_OUT=DIR: write there instead
BTPEER="python3 $HERE/btpeer.py"
INJECTOR=$HERE/rst_injector.py
BTTRACE=${BTTRACE:-$ROOT/target/release/bttrace}
P=${MIDDLEBOX_PREFIX:-bttmb}                       # MIDDLEBOX_PREFIX=h12: the namespaces' names
CLI=$P-cli RTR=$P-rtr SRV=$P-srv
CLIENT=198.51.100.1 SERVER=203.0.113.1
# MIDDLEBOX_MODES="linux burst copy abort-client": the scenarios to play (default: the four of
# fixtures/middlebox/). A scenario is an injector mode (scripts/rst_injector.py) with options,
# or a session with no injector whose peer resets by itself (genuine endpoint RSTs).
read -r -a MODES <<<"${MIDDLEBOX_MODES:-none sandvine port6881 gfw}"
# Injector mode and options per scenario: the GFW and the burst forge 2 ms after the handshake
# (so the set-up completes first and the real flow carries on into the burst); the others at
# once, the copy 1.5 s into the piece data; the -idle variants wait for a moment when nothing is
# in flight (between two pieces), so that only the forged packet's look can give it away.
declare -A INJ_MODE=([abort-client]=none [abort-server]=none [linux-idle]=linux
                     [copy-idle]=copy)
declare -A INJ_ARGS=([none]="" [sandvine]="" [port6881]="" [gfw]="--delay 2" [linux]=""
                     [burst]="--delay 2 --count 3" [copy]="--after 1.5"
                     [linux-idle]="--delay 500 --quiet 100" [copy-idle]="--after 1.5 --quiet 100")
# The BitTorrent flow's peers' extra options per scenario: an end that resets the connection
# itself 1 s into the piece data (SO_LINGER 0, then close), while the other end still sends.
declare -A CLI_ARGS=([abort-client]="--abort-after 1")
declare -A SRV_ARGS=([abort-server]="--abort-after 1")
# btpeer.py has no read timeout: a peer whose partner was reset silently would wait for ever.
PEER_TIMEOUT=15
# The session: both flows download (the server seeds) 16,397-byte pieces at 30 kB/s for 3 s.
COMMON="--direction download --piece-size 16397 --duration 3"
RATE=30000
[[ $(id -u) == 0 ]] || { echo "run me as root (network namespaces)" >&2; exit 2; }
for tool in ip ethtool tcpdump tshark capinfos python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

source "$HERE/netns-topology.sh"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    topo_down "$P"
    rm -rf "$TMP"
}
trap cleanup EXIT
topo_up "$P"
mkdir -p "$OUT"
for mode in "${MODES[@]}"; do
    rm -f "$OUT/$mode-client.pcap" "$OUT/$mode-server.pcap" "$OUT/$mode-injector.log"
done
rm -f "$OUT/truth.tsv" "$OUT/README.md"

capture_stop() {
    kill -INT "$1"; wait "$1" || true
}

# flow PORT CLIENT_PORT KIND [SERVER_ARGS [CLIENT_ARGS]]: one download, server and client in
# their namespaces.
flow() {
    local port=$1 cport=$2 kind=$3 sargs=${4:-} cargs=${5:-}
    # shellcheck disable=SC2086
    ip netns exec "$SRV" timeout $PEER_TIMEOUT $BTPEER --role server --listen "$SERVER:$port" \
        --kind "$kind" $COMMON --rate $RATE $sargs 2>"$TMP/peer-$kind-server.err" &
    local spid=$!
    topo_wait_listen "$SRV" "$port"
    # shellcheck disable=SC2086
    ip netns exec "$CLI" timeout $PEER_TIMEOUT $BTPEER --role client --connect "$SERVER:$port" \
        --bind "$CLIENT:$cport" --kind "$kind" $COMMON $cargs 2>"$TMP/peer-$kind-client.err" \
        || true
    wait "$spid" || true
}

i=0
for mode in "${MODES[@]}"; do
    i=$((i + 1))
    bt_port=$((50000 + 100 * i + 1)) ctl_port=$((50000 + 100 * i + 2))
    echo "== $mode (client ports $bt_port bittorrent, $ctl_port control)" >&2
    topo_capture "$CLI" c0 "$OUT/$mode-client.pcap" "host $SERVER"
    CAP_C=$CAP_PID
    topo_capture "$SRV" s0 "$OUT/$mode-server.pcap" "host $CLIENT"
    CAP_S=$CAP_PID
    rm -f "$TMP/ready"
    inj_opts="--seed $i${INJ_ARGS[$mode]:+ ${INJ_ARGS[$mode]}}"
    # shellcheck disable=SC2086
    inj_mode=${INJ_MODE[$mode]:-$mode}
    ip netns exec "$RTR" python3 "$INJECTOR" --mode "$inj_mode" --client-if rc --server-if rs \
        $inj_opts --log "$OUT/$mode-injector.log" --ready-file "$TMP/ready" &
    INJ=$!
    PIDS+=("$INJ")
    for _ in $(seq 100); do [[ -e $TMP/ready ]] && break; sleep 0.05; done
    [[ -e $TMP/ready ]] || { echo "the injector did not start" >&2; exit 1; }
    flow 6881 "$bt_port" bt "${SRV_ARGS[$mode]:-}" "${CLI_ARGS[$mode]:-}" &
    BT_FLOW=$!
    flow 4711 "$ctl_port" control
    wait "$BT_FLOW"
    cat "$TMP"/peer-bt-{client,server}.err "$TMP"/peer-control-{client,server}.err \
        >"$TMP/btpeer-$mode.txt"
    sed 's/^/    /' "$TMP/btpeer-$mode.txt" >&2
    # libpcap (TPACKET_V3) hands packets over in blocks retired after at most 1 s; a block still
    # open at SIGINT is lost, so wait longer than that after the last packet.
    sleep 2
    capture_stop "$CAP_C"
    capture_stop "$CAP_S"
    kill -INT "$INJ"; wait "$INJ" || true
    PIDS=()
    grep -v '^#' "$OUT/$mode-injector.log" | sed 's/^/    forged: /' >&2 || true
    # The commands, quoted in README.md.
    cat >"$TMP/cmds-$mode.txt" <<EOF
tcpdump -n -i c0 -s 0 --time-stamp-precision=micro -U -w $mode-client.pcap 'host $SERVER'   (in $CLI)
tcpdump -n -i s0 -s 0 --time-stamp-precision=micro -U -w $mode-server.pcap 'host $CLIENT'   (in $SRV)
rst_injector.py --mode $inj_mode --client-if rc --server-if rs $inj_opts --log $mode-injector.log   (in $RTR)
then at the same time (servers in $SRV, clients in $CLI, each under timeout $PEER_TIMEOUT):
btpeer.py --role server --listen $SERVER:6881 --kind bt $COMMON --rate $RATE ${SRV_ARGS[$mode]:-}
btpeer.py --role client --connect $SERVER:6881 --bind $CLIENT:$bt_port --kind bt $COMMON ${CLI_ARGS[$mode]:-}
btpeer.py --role server --listen $SERVER:4711 --kind control $COMMON --rate $RATE
btpeer.py --role client --connect $SERVER:4711 --bind $CLIENT:$ctl_port --kind control $COMMON
2 s after both clients ended: SIGINT to both tcpdumps, then to the injector
EOF
done

# tcpdump ran as root (-Z root); hand the files to the repo's owner.
chown "$(stat -c %u:%g "$ROOT/fixtures")" "$OUT" "$OUT"/*
chmod 0644 "$OUT"/*.pcap "$OUT"/*.log
python3 "$HERE/middlebox_truth.py" --dir "$OUT" --bttrace "$BTTRACE" --prefix "$P" \
    --cmds "$TMP" --readme "$OUT/README.md" --tsv "$OUT/truth.tsv" "${MODES[@]}"
chown "$(stat -c %u:%g "$ROOT/fixtures")" "$OUT" "$OUT"/*
ls -l "$OUT" >&2
