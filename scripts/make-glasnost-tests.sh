#!/usr/bin/env bash
# make-glasnost-tests.sh: Glasnost-style BitTorrent tests through an emulated ISP middlebox, as
# Glasnost's server recorded them: for each scenario, the server-side capture in Glasnost's form,
# the server's log beside it, and expected.json, the summary row bttrace must give.
#
# Run as root from anywhere:   sudo scripts/make-glasnost-tests.sh [OUTDIR]
#   OUTDIR defaults to fixtures/glasnost/. SCENARIOS="none sandvine" limits the run;
#   ATTEMPTS=n (default 4) caps the reruns of a scenario; KEEP=1 keeps the work files (full
#   captures at both ends, summaries, router counters) of every attempt.
# Needs: iproute2 (ip, tc with htb), iptables (string, connmark and mark matches; CONNMARK,
# MARK, CLASSIFY and TTL targets), ethtool, tcpdump, python3 3.8+. Takes about 6 minutes (more
# when a scenario has to be rerun).
#
# Topology (scripts/netns-topology.sh, prefix btgl): btgl-cli (198.51.100.1, c0) -- btgl-rtr
# (rc 198.51.100.254 / rs 203.0.113.254, IP forwarding: the ISP's middlebox) -- btgl-srv
# (203.0.113.1, s0). All traffic stays inside these namespaces. The router also stands for the
# path: it takes HOPS off the TTL of every packet it forwards, as the routers between a user
# and a Glasnost server would, the ISP's box being one of them (see HOPS and BOX_AT below).
#
# Per scenario (fresh namespaces each time):
#   1. the middlebox: nothing | iptables DROP of port 6881 | string match + CONNMARK, then
#      CLASSIFY into a slow htb class on the router's egress interface(s) |
#      scripts/rst_injector.py (through `glasnost_test.py inject`, which repeats a forgery that
#      lost its race and gives the forged packets the TTL they arrive with);
#   2. tcpdump on s0 (the server's capture, whole packets) and on c0 (the client's, for the
#      ground truth only);
#   3. `glasnost_test.py server` in btgl-srv (it writes the log, counting resets with its own
#      sniffer) and `glasnost_test.py client` in btgl-cli (the test: 8 r transfers);
#   4. `glasnost_truth.py verify`: did the middlebox do what the scenario says, and nothing else?
#      If not, the scenario is rerun (up to 4 attempts; then the script fails);
#   5. `to_glasnost_form.py --host 198.51.100.1`: the capture in Glasnost's form, named after
#      the log (glasnost_<ip>_<host>_<ts>.dump, or bt_... for the 2009 generation).
# Outputs OUTDIR/<scenario>/{<stem>.dump, <stem>.log, expected.json, truth.json[, injector.log]}
# and OUTDIR/README.md (glasnost_truth.py readme, with bttrace's results when
# target/release/bttrace exists; BTTRACE=path overrides). Namespaces, rules and processes are
# removed on exit, whatever happens.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$ROOT/fixtures/glasnost}
BTTRACE=${BTTRACE:-$ROOT/target/release/bttrace}
GT="python3 $HERE/glasnost_test.py"
TRUTH="python3 $HERE/glasnost_truth.py"
P=btgl
CLI=$P-cli RTR=$P-rtr SRV=$P-srv
CLIENT=198.51.100.1 SERVER=203.0.113.1
ALL_SCENARIOS="none port6881-blocked bt-throttled upload-throttled sandvine port6881-rst"
read -r -a RUN <<<"${SCENARIOS:-$ALL_SCENARIOS}"
ATTEMPTS=${ATTEMPTS:-4}
DURATION=2            # seconds each seeder sends
RATE=25000            # bytes/s, the seeder's pace
THROTTLE_KBIT=40      # a fifth of RATE (25,000 B/s = 200 kbit/s)
# The path: the client's packets cross HOPS routers to the server; the ISP's middlebox is the
# BOX_AT-th of them (the router namespace, which decrements the TTL of what it forwards by the
# routers it stands for). Real packets arrive with TTL 64 - HOPS at either end; what the box
# forges arrives with 64 - (HOPS - BOX_AT) at the server and 64 - (BOX_AT - 1) at the client.
HOPS=12
BOX_AT=3
REAL_TTL=$((64 - HOPS))
FORGED_TTL_SERVER=$((64 - (HOPS - BOX_AT)))
FORGED_TTL_CLIENT=$((64 - (BOX_AT - 1)))
# The 2009 BitTorrent test (bt_ names, its own log, neutral port 4711, two repetitions as in
# the study's Appendix A) for the ISPs of the study's time; the 2010+ replayer (glasnost_
# names, three repetitions) for the rest.
declare -A GEN=([none]=bt2009 [port6881-blocked]=bt2009 [sandvine]=bt2009)
declare -A REPS=([none]=2 [port6881-blocked]=2 [sandvine]=2)

[[ $(id -u) == 0 ]] || { echo "run me as root (network namespaces)" >&2; exit 2; }
for tool in ip tc iptables ethtool tcpdump python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
for s in "${RUN[@]}"; do
    [[ " $ALL_SCENARIOS " == *" $s "* ]] || { echo "unknown scenario: $s" >&2; exit 2; }
done

source "$HERE/netns-topology.sh"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    topo_down "$P"
    if [[ -n ${KEEP:-} ]]; then echo "work files kept in $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT"

rtr() { ip netns exec "$RTR" "$@"; }
# A middlebox rule that cannot be set up stops the whole run (rerunning would not help).
must() { ip netns exec "$RTR" "$@" || { echo "the middlebox could not be set up: $*" >&2; exit 2; }; }

# The middlebox of a scenario, in the router namespace.
middlebox() {
    local s=$1 dev
    # The routers the box stands for (itself included: forwarding takes one more off).
    must iptables -t mangle -A PREROUTING -i rc -j TTL --ttl-dec $((HOPS - 1))
    must iptables -t mangle -A PREROUTING -i rs -j TTL --ttl-dec $((HOPS - 1))
    case $s in
    none | sandvine | port6881-rst) ;;
    port6881-blocked)
        must iptables -A FORWARD -p tcp --dport 6881 -j DROP
        must iptables -A FORWARD -p tcp --sport 6881 -j DROP
        ;;
    bt-throttled | upload-throttled)
        # Mark a connection once a packet carries "BitTorrent protocol" (CONNMARK); every later
        # packet of it gets the mark back from conntrack, in both directions.
        must iptables -t mangle -A FORWARD -j CONNMARK --restore-mark
        must iptables -t mangle -A FORWARD -p tcp -m string --algo bm --string "BitTorrent protocol" \
            -j CONNMARK --set-mark 1
        must iptables -t mangle -A FORWARD -p tcp -m string --algo bm --string "BitTorrent protocol" \
            -j MARK --set-mark 1
        # rs carries client->server (uploads), rc server->client (downloads). Marked packets
        # leaving a throttled interface go to the slow htb class: iptables CLASSIFY sets the
        # packet's priority to 1:10, which htb takes as the class directly (no tc filter, so
        # no classifier module such as cls_fw is needed).
        local devs=(rs)
        [[ $s == bt-throttled ]] && devs=(rs rc)
        for dev in "${devs[@]}"; do
            must iptables -t mangle -A POSTROUTING -o "$dev" -m mark --mark 1 \
                -j CLASSIFY --set-class 1:10
            must tc qdisc add dev "$dev" root handle 1: htb default 20
            must tc class add dev "$dev" parent 1: classid 1:1 htb rate 1gbit quantum 1514
            must tc class add dev "$dev" parent 1:1 classid 1:10 htb rate ${THROTTLE_KBIT}kbit \
                ceil ${THROTTLE_KBIT}kbit burst 1600 cburst 1600 quantum 1514
            must tc class add dev "$dev" parent 1:1 classid 1:20 htb rate 900mbit ceil 1gbit quantum 1514
            must tc qdisc add dev "$dev" parent 1:10 handle 10: pfifo limit 8
        done
        ;;
    esac
}

router_stats() {
    {
        echo "## iptables -L FORWARD -v -n -x"
        rtr iptables -L FORWARD -v -n -x
        echo "## iptables -t mangle -L -v -n -x"
        rtr iptables -t mangle -L -v -n -x
        for dev in rc rs; do
            echo "## tc -s qdisc show dev $dev"
            rtr tc -s qdisc show dev $dev
            echo "## tc -s class show dev $dev"
            rtr tc -s class show dev $dev
        done
    } 2>&1
}

stop_pid() { kill -INT "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# run_once SCENARIO DIR: one attempt; leaves everything in DIR; returns verify's status.
run_once() {
    local s=$1 d=$2 gen=${GEN[$1]:-replayer} reps=${REPS[$1]:-3} mode=""
    mkdir -p "$d"
    topo_up "$P"
    middlebox "$s"
    # Glasnost's own filter at the server: host <client ip>.
    topo_capture "$SRV" s0 "$d/server-full.pcap" "host $CLIENT"; local cap_s=$CAP_PID
    topo_capture "$CLI" c0 "$d/client-full.pcap" "host $SERVER"; local cap_c=$CAP_PID
    local inj=""
    case $s in sandvine) mode=sandvine ;; port6881-rst) mode=port6881 ;; esac
    if [[ -n $mode ]]; then
        rm -f "$d/ready"
        # Not through rtr(): a backgrounded function is a subshell that would not pass SIGINT on.
        ip netns exec "$RTR" python3 "$HERE/glasnost_test.py" inject --mode "$mode" \
            --client-if rc --server-if rs \
            --repeat 2 --seed 7 --ttl-to-server $FORGED_TTL_SERVER \
            --ttl-to-client $FORGED_TTL_CLIENT --log "$d/injector.log" --ready-file "$d/ready" &
        inj=$!
        PIDS+=("$inj")
        for _ in $(seq 100); do [[ -e $d/ready ]] && break; sleep 0.05; done
        [[ -e $d/ready ]] || { echo "the injector did not start" >&2; return 1; }
    fi
    ip netns exec "$SRV" $GT server --gen "$gen" --iface s0 --host-name "client.$s.example" \
        --out-dir "$d" --summary "$d/server.json" --rate $RATE --seed 11 >"$d/stem" 2>"$d/server.err" &
    local srv=$!
    PIDS+=("$srv")
    topo_wait_listen "$SRV" 19970
    ip netns exec "$CLI" timeout 600 $GT client --gen "$gen" --server $SERVER --reps "$reps" \
        --duration $DURATION --rate $RATE --summary "$d/client.json" --seed 13 2>"$d/client.err" \
        || echo "the client exited with $?" >&2
    wait "$srv" || echo "the server exited with $?" >&2
    # libpcap hands packets over in blocks retired after at most 1 s: wait before stopping.
    sleep 2
    stop_pid "$cap_s"
    stop_pid "$cap_c"
    [[ -n $inj ]] && stop_pid "$inj"
    router_stats >"$d/router.txt"
    PIDS=()
    topo_down "$P"
    $TRUTH verify --scenario "$s" --server-pcap "$d/server-full.pcap" \
        --client-pcap "$d/client-full.pcap" --server-summary "$d/server.json" \
        --client-summary "$d/client.json" ${mode:+--injector-log "$d/injector.log"} \
        --router "$d/router.txt" --truth "$d/truth.json" --expected "$d/expected.json" \
        --real-ttl $REAL_TTL --forged-ttl-server $FORGED_TTL_SERVER \
        --forged-ttl-client $FORGED_TTL_CLIENT
}

for s in "${RUN[@]}"; do
    ok=""
    for attempt in $(seq $ATTEMPTS); do
        d=$TMP/$s-$attempt
        echo "== $s (attempt $attempt)" >&2
        if run_once "$s" "$d"; then ok=$d; break; fi
        echo "== $s: the run did not do what the scenario says; running it again" >&2
    done
    [[ -n $ok ]] || { echo "$s: no attempt behaved as intended; giving up" >&2; exit 1; }
    stem=$(tail -n1 "$ok/stem")
    dest=$OUT/$s
    rm -rf "$dest"
    mkdir -p "$dest"
    python3 "$HERE/to_glasnost_form.py" --host $CLIENT --command-port 19970 \
        "$ok/server-full.pcap" "$dest/$stem.dump"
    cp "$ok/$stem.log" "$ok/expected.json" "$ok/truth.json" "$dest/"
    [[ -f $ok/injector.log ]] && cp "$ok/injector.log" "$dest/"
    size=$(stat -c %s "$dest/$stem.dump")
    echo "== $s: $dest/$stem.dump ($size bytes)" >&2
    (( size < 600000 )) || echo "warning: $stem.dump is over 600 kB" >&2
done

owner=$(stat -c %u:%g "$ROOT/fixtures")
chown -R "$owner" "$OUT"
bt=""
[[ -x $BTTRACE ]] && bt=$BTTRACE || echo "no $BTTRACE: README without bttrace's results" >&2
$TRUTH readme --dir "$OUT" --took "$SECONDS" ${bt:+--bttrace "$bt"} || true
chown -R "$owner" "$OUT"
