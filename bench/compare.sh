#!/usr/bin/env bash
# compare.sh: time bttrace against tcptrace, tshark and the floor (reading the file: `cat`, or
# `zcat` for gzip'd archives) on captures it makes itself, in one run (issue 13's table).
#
# Run:   bench/compare.sh OUTDIR [BTTRACE_BIN]
#   OUTDIR receives (unless already there) large.pcap (Ethernet, every byte, ~1.2 M packets of
#   bulk BitTorrent-like and random flows, ~1.4 GB) and large-254.pcap (the same cut to 254
#   bytes a packet), from `cargo run --release --example bench_capture`, and week/, a Glasnost
#   archive: 210 raw-IP captures cut to 200 payload bytes (`bttrace glasnost-week OUT 10`, built with `--features synth`),
#   each gzip'd as the servers stored them (.dump.gz).
#   BTTRACE_BIN defaults to target/release/bttrace (built with cargo build --release).
#   RUNS=N (default 3) timed runs per tool and file, after one untimed warm-up run that fills
#   the page cache. TSHARK=0 skips tshark (slow).
# Needs: cargo, tcptrace, tshark, capinfos, gzip, GNU time as /usr/bin/time (installed with
#   apt-get if absent, which needs root), python3 for the arithmetic.
# Prints a Markdown table per capture: median wall time and peak RSS of each tool, and the
# ratios of bttrace's median over the others', measured in this same run. The commands timed:
#   BTTRACE_BIN analyze --format json FILE > /dev/null
#   tcptrace -n -l FILE > /dev/null
#   tshark -q -z conv,tcp -r FILE > /dev/null
#   cat FILE > /dev/null
#   (archive) BTTRACE_BIN analyze --format json DIR > /dev/null  vs  zcat DIR/*.dump.gz > /dev/null
# Goals (issue 13): full capture within 1.3x of cat; cut capture at most 0.25x tcptrace;
# peak RSS under 64 MB.
set -euo pipefail

OUTDIR=${1:?usage: $0 OUTDIR [BTTRACE_BIN]}
HERE=$(cd "$(dirname "$0")" && pwd)
BTTRACE=${2:-$HERE/../target/release/bttrace}
RUNS=${RUNS:-3}
TSHARK=${TSHARK:-1}

if [[ ! -x /usr/bin/time ]] || ! /usr/bin/time -f %M true >/dev/null 2>&1; then
    echo "installing GNU time" >&2
    apt-get install -y -qq time >/dev/null
fi
for tool in cargo tcptrace tshark capinfos gzip python3; do
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

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
if [[ ! -f $OUTDIR/large.pcap || ! -f $OUTDIR/large-254.pcap ]]; then
    echo "making $OUTDIR/large.pcap and large-254.pcap" >&2
    (cd "$HERE/.." && cargo run -q --release --example bench_capture -- "$OUTDIR")
fi
if ! compgen -G "$OUTDIR/week/*.dump.gz" >/dev/null; then
    echo "making the Glasnost archive $OUTDIR/week" >&2
    (cd "$HERE/.." && cargo run -q --release --features synth -- glasnost-week "$OUTDIR/week" 10)
    gzip -f "$OUTDIR"/week/*.dump
fi

have_bttrace=0
if [[ -x $BTTRACE ]]; then
    have_bttrace=1
else
    echo "bttrace is missing ($BTTRACE not found or not executable): timing the others only" >&2
fi

echo "# bttrace vs tcptrace, tshark, cat and zcat"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, median of $RUNS runs after a warm-up run;"
echo "ratios are bttrace's median over the other tool's, from this same run"
echo "(goals: full bttrace/cat <= 1.3, cut bttrace/tcptrace <= 0.25, peak RSS < 64 MB)."
for name in large.pcap large-254.pcap; do
    file=$OUTDIR/$name
    echo "timing $name ..." >&2
    read -r cat_s cat_mb < <(measure cat "$file" cat)
    read -r tt_s tt_mb < <(measure tcptrace "$file" tcptrace -n -l)
    if ((TSHARK)); then
        read -r ts_s ts_mb < <(measure tshark "$file" tshark -q -z conv,tcp -r)
    else
        ts_s=skipped ts_mb=-
    fi
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
    echo "| cat | $cat_s | $cat_mb |"
    echo
    echo "bttrace/tcptrace: $(ratio "$bt_s" "$tt_s"); bttrace/tshark: $(ratio "$bt_s" "$ts_s");" \
        "bttrace/cat: $(ratio "$bt_s" "$cat_s")"
done

dir=$OUTDIR/week
echo "timing the archive ..." >&2
read -r z_s z_mb < <(measure zcat "$dir" sh -c 'zcat "$1"/*.dump.gz' sh)
if ((have_bttrace)); then
    read -r bt_s bt_mb < <(measure bttrace-week "$dir" "$BTTRACE" analyze --format json)
else
    bt_s=missing bt_mb=-
fi
n=$(find "$dir" -name '*.dump.gz' | wc -l)
gz=$(du -sb "$dir" | cut -f1)
raw=$(zcat "$dir"/*.dump.gz | wc -c)
echo
echo "## Glasnost archive: $n raw-IP .dump.gz tests ($((gz / 1000000)) MB gzip'd, $((raw / 1000000)) MB raw)"
echo
echo "| tool | median wall time (s) | peak RSS (MB) |"
echo "|---|---:|---:|"
echo "| bttrace analyze --format json DIR | $bt_s | $bt_mb |"
echo "| zcat DIR/*.dump.gz | $z_s | $z_mb |"
echo
echo "bttrace/zcat: $(ratio "$bt_s" "$z_s")"
