#!/usr/bin/env bash
# memory.sh: peak resident memory of `bttrace analyze --format json` on captures built to
# attack its memory bounds (bench/gen_hostile.py), next to the bound the README documents.
#
# Run:   bench/memory.sh [OUTDIR]        (default /tmp/bttrace-memory; needs ~2 GB there)
#   BTTRACE_BIN=path uses that binary instead of building target/release/bttrace;
#   LIMIT=seconds kills a run that takes longer (default 900; the peak so far is reported).
#   CASES="syn-flood bulk" bench/memory.sh   only some cases (names as in the table below)
#   Captures are kept in OUTDIR and reused by later runs (delete OUTDIR to free the space);
#   KEEP=1 also keeps each case's JSON output.
# Needs: cargo (builds target/release/bttrace), python3, GNU time as /usr/bin/time.
# Takes about 5-10 minutes on a 2-core machine, most of it generating the captures.
#
# Cases:
#   syn-flood      1,000,000 SYNs, each a distinct connection
#   syn-reuse      1,000,000 SYNs with fresh ISNs on 16 four-tuples (connection reuse)
#   reorder        4 bulk flows x 25,000 segments reversed within windows of 2,000, with
#                  duplicates and overlaps
#   bulk-x1/x2/x4  8 BitTorrent bulk flows; the same pattern continued 1, 2 and 4 times: the
#                  file doubles, the peak must not
#   ooo-2k/ooo-4k  2,000 / 4,000 flows each holding 145 KB in its out-of-order buffer (each
#                  within the per-flow bound)
#   series-20k/40k 20,000 / 40,000 flows of two 1-byte packets 409.5 s apart (each flow's
#                  goodput series at its 4,096-bin bound)
#   text-2k/4k     2,000 / 4,000 flows each sending 64 KiB of text lines
#   concurrent-250k/500k  250,000 / 500,000 connections open at once, every handshake
#                  complete (beyond the 100,000-flow bound: retired connections are
#                  remembered, their later packets counted to them)
#   swapped        a 20 MB download whose 290 kB blocks arrive swapped in pairs
#   two-queues     the same download captured on two queues written one after the other
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-/tmp/bttrace-memory}
BIN=$ROOT/target/release/bttrace
ALL="syn-flood syn-reuse reorder bulk-x1 bulk-x2 bulk-x4 ooo-2k ooo-4k series-20k series-40k text-2k text-4k concurrent-250k concurrent-500k swapped two-queues"
CASES=${CASES:-$ALL}
mkdir -p "$OUT"

if [[ ! -x /usr/bin/time ]] || ! /usr/bin/time -f %M true >/dev/null 2>&1; then
    echo "GNU time is needed as /usr/bin/time (apt-get install time)" >&2
    exit 2
fi

if [[ -n "${BTTRACE_BIN:-}" ]]; then
    BIN=$BTTRACE_BIN
else
    echo "building bttrace (release)" >&2
    (cd "$ROOT" && cargo build --release --quiet --bin bttrace)
fi
LIMIT=${LIMIT:-900}

# case -> generator arguments
declare -A GEN=(
    [syn-flood]="syn-flood 1"
    [syn-reuse]="syn-reuse 1"
    [reorder]="reorder 1"
    [bulk-x1]="bulk 1"
    [bulk-x2]="bulk 2"
    [bulk-x4]="bulk 4"
    [ooo-2k]="ooo-flows 1"
    [ooo-4k]="ooo-flows 2"
    [series-20k]="sparse-series 1"
    [series-40k]="sparse-series 2"
    [text-2k]="text-flows 1"
    [text-4k]="text-flows 2"
    [concurrent-250k]="concurrent 1"
    [concurrent-500k]="concurrent 2"
    [swapped]="swapped-blocks 1"
    [two-queues]="two-queues 1"
)
# case -> the README's bound for it ("Bounds")
declare -A BOUND=(
    [syn-flood]="<= 100,000 flows kept (--max-flows); no decoder state per SYN"
    [syn-reuse]="<= 100,000 flows kept (--max-flows); no decoder state per SYN"
    [reorder]="out-of-order buffer <= 256 KiB + 512 pieces per direction"
    [bulk-x1]="flat: memory does not grow with capture size (~4 MB on 1.38 GB)"
    [bulk-x2]="flat: memory does not grow with capture size (~4 MB on 1.38 GB)"
    [bulk-x4]="flat: memory does not grow with capture size (~4 MB on 1.38 GB)"
    [ooo-2k]="256 KiB per direction per flow, 32 MiB for all flows"
    [ooo-4k]="256 KiB per direction per flow, 32 MiB for all flows"
    [series-20k]="4096 bins per direction per flow, 16 MiB for all flows"
    [series-40k]="4096 bins per direction per flow, 16 MiB for all flows"
    [text-2k]="64 KiB of text per direction, 16 MiB for all flows"
    [text-4k]="64 KiB of text per direction, 16 MiB for all flows"
    [concurrent-250k]="<= 100,000 flows kept; retired connections remembered in 16 B each"
    [concurrent-500k]="<= 100,000 flows kept; retired connections remembered in 16 B each"
    [swapped]="out-of-order buffer per direction and 32 MiB for all flows"
    [two-queues]="out-of-order buffer per direction and 32 MiB for all flows"
)

rows=()
for c in $CASES; do
    [[ -n "${GEN[$c]:-}" ]] || { echo "unknown case $c (known: $ALL)" >&2; exit 2; }
    read -r gen scale <<<"${GEN[$c]}"
    pcap=$OUT/$c.pcap
    if [[ ! -s $pcap ]]; then
        echo "generating $c" >&2
        python3 "$HERE/gen_hostile.py" "$gen" "$pcap" "$scale"
    fi
    echo "analysing $c" >&2
    json=$OUT/$c.json
    status=ok
    # SIGTERM (not KILL): timeout then reaps bttrace and GNU time still sees its peak.
    /usr/bin/time -f '%M %e' -o "$OUT/$c.time" timeout "$LIMIT" \
        "$BIN" analyze --format json "$pcap" >"$json" 2>"$OUT/$c.err" || status="failed"
    if grep -q "status 124" "$OUT/$c.time"; then
        status="stopped after ${LIMIT} s"
    fi
    # The last line (GNU time puts "Command exited with non-zero status" lines first).
    read -r rss_kb secs < <(tail -n1 "$OUT/$c.time")
    size=$(stat -c %s "$pcap")
    # A run stopped by the time limit wrote no JSON: these are then "-".
    flows=$( (grep -o '"roles":' "$json" || true) | wc -l)
    frames=$( (grep -o '"frames":[0-9]*' "$json" || true) | head -1 | cut -d: -f2)
    retired=$( (grep -o '"flows_retired":{"flows":[0-9]*' "$json" || true) | grep -o '[0-9]*$' || true)
    if [[ $status != ok ]]; then
        flows="-" frames="-" retired="-"
    fi
    rows+=("$(printf '| %s | %s MB | %s | %s | %s | **%s MB** | %s s (%s) | %s |' "$c" \
        "$((size / 1000000))" "${frames:-?}" "$flows" "${retired:-0}" \
        "$(python3 -c "print(f'{$rss_kb/1024:.1f}')")" "$secs" "$status" "${BOUND[$c]}")")
    [[ -n "${KEEP:-}" ]] || rm -f "$json"
done

echo
echo "| case | capture | frames | flows listed | flows retired | peak RSS | time | documented bound |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
