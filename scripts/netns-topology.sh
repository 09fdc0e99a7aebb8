# netns-topology.sh: the three network namespaces bttrace's capture scripts record traffic in.
# Source it from bash (needs root, iproute2 and ethtool); it defines functions only:
#   topo_up PREFIX      create PREFIX-cli, PREFIX-rtr, PREFIX-srv (deleting stale ones first)
#   topo_down PREFIX    delete them (safe to call twice; use it in an EXIT trap)
#   topo_wait_listen NS PORT   wait until a TCP socket listens on PORT inside NS
#   topo_capture NS IFACE FILE FILTER   tcpdump on IFACE inside NS into FILE, in the background,
#                       returning once it listens; sets CAP_PID and appends it to the caller's
#                       PIDS array; its messages go to $TMP/cap-IFACE.err (TMP set by the caller)
#
#   PREFIX-cli                  PREFIX-rtr                        PREFIX-srv
#   c0 198.51.100.1/24 ---- rc 198.51.100.254/24
#                               rs 203.0.113.254/24 ---- s0 203.0.113.1/24
#
# The client and the server are one routed hop apart, so packets that crossed the "network"
# arrive with TTL 63 and a capture on s0 (the server side) sees the server's own packets with
# TTL 64, as at a real Glasnost server. The router namespace is also the place for a future
# middlebox (iptables, an RST injector). On every veth end TSO, GSO, GRO and TX checksum
# offload are off, so captured packets are MTU-sized (1514 B frames) with valid checksums.

topo_down() {
    local p=$1 ns
    for ns in "$p-cli" "$p-rtr" "$p-srv"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
}

topo_up() {
    local p=$1 dev
    topo_down "$p"
    ip netns add "$p-cli"
    ip netns add "$p-rtr"
    ip netns add "$p-srv"
    ip link add c0 netns "$p-cli" type veth peer name rc netns "$p-rtr"
    ip link add s0 netns "$p-srv" type veth peer name rs netns "$p-rtr"
    ip -n "$p-cli" addr add 198.51.100.1/24 dev c0
    ip -n "$p-rtr" addr add 198.51.100.254/24 dev rc
    ip -n "$p-rtr" addr add 203.0.113.254/24 dev rs
    ip -n "$p-srv" addr add 203.0.113.1/24 dev s0
    ip netns exec "$p-rtr" sysctl -qw net.ipv4.ip_forward=1
    for dev in "$p-cli:c0" "$p-rtr:rc" "$p-rtr:rs" "$p-srv:s0"; do
        ip netns exec "${dev%%:*}" ethtool -K "${dev#*:}" tso off gso off gro off tx off >/dev/null
        ip -n "${dev%%:*}" link set "${dev#*:}" up
    done
    for ns in "$p-cli" "$p-rtr" "$p-srv"; do ip -n "$ns" link set lo up; done
    ip -n "$p-cli" route add default via 198.51.100.254
    ip -n "$p-srv" route add default via 203.0.113.254
    # Resolve neighbours now (a SYN to closed port 9, answered by RST), so that no ARP exchange
    # lands in the middle of a capture.
    ip netns exec "$p-cli" timeout 2 bash -c 'exec 3<>/dev/tcp/203.0.113.1/9' 2>/dev/null || true
}

topo_wait_listen() {
    local ns=$1 port=$2 i
    for i in $(seq 100); do
        ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
        sleep 0.05
    done
    echo "nothing listens on port $port in $ns" >&2
    return 1
}

topo_capture() {
    local ns=$1 dev=$2 file=$3 filter=$4 err=${TMP:?}/cap-$2.err
    ip netns exec "$ns" tcpdump -n -i "$dev" -s 0 --time-stamp-precision=micro -Z root -U \
        -w "$file" "$filter" 2>"$err" &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    for _ in $(seq 100); do
        grep -q 'listening on' "$err" && { sleep 0.2; return 0; }
        sleep 0.05
    done
    cat "$err" >&2
    return 1
}
