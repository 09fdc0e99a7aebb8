#!/usr/bin/env bash
# compare.sh: time bttrace against tcptrace and tshark on the large captures (the goal:
# bttrace takes at most half of tcptrace's time).
#
# Run:   bench/compare.sh OUTDIR [BTTRACE_BIN]
#   OUTDIR holds large.pcap and large-254.pcap from bench/make-large-capture.sh;
#   BTTRACE_BIN defaults to target/release/bttrace (build it with cargo build --release).
#   RUNS=N (default 5) timed runs per tool and file, after one untimed warm-up run that fills
#   the page cache.
# Needs: tcptrace, tshark, GNU time as /usr/bin/time (installed with apt-get if absent, which
#   needs root), python3 for the arithmetic. Root is not needed otherwise.
# Prints a Markdown table per capture: median wall time and peak RSS of each tool, and the
# ratios bttrace/tcptrace and bttrace/tshark of the medians measured in this same run. The
# commands timed:
#   BTTRACE_BIN analyze --format json FILE > /dev/null
#   tcptrace -n -l FILE > /dev/null
#   tshark -q -z conv,tcp -r FILE > /dev/null
# Without a bttrace binary the other two are still timed and bttrace is reported missing.
set -euo pipefail

OUTDIR=${1:?usage: $0 OUTDIR [BTTRACE_BIN]}
HERE=$(cd "$(dirname "$0")" && pwd)
BTTRACE=${2:-$HERE/../target/release/bttrace}
RUNS=${RUNS:-5}

if [[ ! -x /usr/bin/time ]] || ! /usr/bin/time -f %M true >/dev/null 2>&1; then
    echo "installing GNU time" >&2
    apt-get install -y -qq time >/dev/null
fi
for tool in tcptrace tshark python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

failed() { echo "failed -"; echo "$1 failed:" >&2; tail -n3 "$TMP/$1.err" >&2; }
ratio() {
    python3 -c "import sys; a, b = sys.argv[1:]; print('%.2f' % (float(a) / float(b)))" \
        "$1" "$2" 2>/dev/null || echo n/a
}

# measure NAME FILE CMD...: warm-up once, then RUNS timed runs; prints "median_s max_rss_mb",
# or "failed -" (and the command's last stderr lines on stderr) when the command exits non-zero.
measure() {
    local name=$1 file=$2; shift 2
    local times=() rss=() t0 t1 i
    "$@" "$file" >/dev/null 2>"$TMP/$name.err" || { failed "$name"; return; }
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        /usr/bin/time -f %M -o "$TMP/rss" "$@" "$file" >/dev/null 2>>"$TMP/$name.err" \
            || { failed "$name"; return; }
        t1=$(date +%s%N)
        times+=($((t1 - t0)))
        rss+=($(tail -n1 "$TMP/rss"))
    done
    python3 - "${times[*]}" "${rss[*]}" <<'PY'
import statistics, sys
times = [int(x) / 1e9 for x in sys.argv[1].split()]
rss = [int(x) / 1024 for x in sys.argv[2].split()]
print("%.3f %.0f" % (statistics.median(times), max(rss)))
PY
}

have_bttrace=0
if [[ -x $BTTRACE ]]; then
    have_bttrace=1
else
    echo "bttrace is missing ($BTTRACE not found or not executable): timing the others only" >&2
fi

echo "# bttrace vs tcptrace vs tshark"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, median of $RUNS runs after a warm-up run;"
echo "ratios are bttrace's median over the other tool's, from this same run (goal: bttrace/tcptrace <= 0.5)."
for name in large.pcap large-254.pcap; do
    file=$OUTDIR/$name
    [[ -f $file ]] || { echo "missing $file (run bench/make-large-capture.sh $OUTDIR)" >&2; exit 2; }
    echo "timing $name ..." >&2
    read -r tt_s tt_mb < <(measure tcptrace "$file" tcptrace -n -l)
    read -r ts_s ts_mb < <(measure tshark "$file" tshark -q -z conv,tcp -r)
    if ((have_bttrace)); then
        read -r bt_s bt_mb < <(measure bttrace "$file" "$BTTRACE" analyze --format json)
    else
        bt_s=missing bt_mb=-
    fi
    size=$(stat -c %s "$file")
    packets=$(capinfos -M -c -T "$file" | awk -F'\t' 'NR == 2 {print $2}')
    echo
    echo "## $name ($((size / 1000000)) MB, $packets packets)"
    echo
    echo "| tool | median wall time (s) | peak RSS (MB) |"
    echo "|---|---:|---:|"
    echo "| bttrace analyze --format json | $bt_s | $bt_mb |"
    echo "| tcptrace -n -l | $tt_s | $tt_mb |"
    echo "| tshark -q -z conv,tcp | $ts_s | $ts_mb |"
    echo
    echo "bttrace/tcptrace: $(ratio "$bt_s" "$tt_s"); bttrace/tshark: $(ratio "$bt_s" "$ts_s")"
done
