#!/usr/bin/env python3
"""same-results.py: what two bttrace builds report differently on the same captures.

    bench/same-results.py BASE_BIN NEW_BIN PATH...      (files or directories, as analyze takes)
    bench/same-results.py --json BASE.json NEW.json     (two saved `analyze --format json` outputs)

Runs `BIN analyze --format json PATH...` with each build (or reads the saved outputs) and
compares every value of every capture, flow, RST, test and summary row. A speed change must
leave them all alone; a decoder change shows here what it changed. Prints, per field (e.g.
`flows[].bittorrent.server.messages.piece`), how many values differ and the first few
(capture, flow, base value, new value), then a line per decoder quantity summed over all
flows (messages, piece bytes, resyncs, unparsed bytes, framing states), base and new.
Exit status 0 when everything is the same, 1 when anything differs. Standard library only.
"""
import collections
import json
import subprocess
import sys

SHOW = 4


def run(binary, paths):
    out = subprocess.run([binary, "analyze", "--format", "json", *paths],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    return json.loads(out.stdout)


def leaves(value, path, out):
    """Flattens JSON into (field path, value); list items of flows are keyed by flow id."""
    if isinstance(value, dict):
        for k, v in value.items():
            leaves(v, f"{path}.{k}" if path else k, out)
    elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        for i, v in enumerate(value):
            leaves(v, f"{path}[{i}]", out)
    else:
        out[path] = value
    return out


def field_name(path):
    """`flows[3].rsts[0].verdict` -> `flows[].rsts[].verdict`."""
    out, depth = [], 0
    for ch in path:
        if ch == "[":
            depth += 1
            out.append("[]")
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def totals(report):
    t = collections.Counter()
    for c in report["captures"]:
        for f in c.get("flows", []):
            bt = f.get("bittorrent") or {}
            for side in ("client", "server"):
                d = bt.get(side)
                if not d:
                    continue
                for k, n in (d.get("messages") or {}).items():
                    t[f"messages.{k}"] += n
                t["piece_bytes"] += d.get("piece_bytes") or 0
                t["resyncs"] += d.get("resyncs") or 0
                t["unparsed_bytes"] += d.get("unparsed_bytes") or 0
                t["hole_bytes"] += d.get("hole_bytes") or 0
                t[f"framing={d.get('framing')}"] += 1
            t[f"kind={f.get('kind')}"] += 1
            for r in f.get("rsts", []):
                t[f"rst verdict={r.get('verdict')}"] += 1
        for test in c.get("tests") or []:
            t[f"test outcome={test.get('outcome')}"] += 1
    return t


def main(argv):
    if argv[:1] == ["--json"] and len(argv) == 3:
        base, new = (json.load(open(p)) for p in argv[1:])
    elif len(argv) >= 3:
        base, new = run(argv[0], argv[2:]), run(argv[1], argv[2:])
    else:
        sys.exit(__doc__)
    diffs = collections.defaultdict(list)
    caps = zip(base["captures"], new["captures"])
    if len(base["captures"]) != len(new["captures"]):
        diffs["captures"].append(("-", "-", len(base["captures"]), len(new["captures"])))
    for b, n in caps:
        lb, ln = leaves(b, "", {}), leaves(n, "", {})
        for k in sorted(set(lb) | set(ln)):
            if lb.get(k) != ln.get(k):
                flow = k.split("]")[0] + "]" if k.startswith("flows[") else "-"
                diffs[field_name(k)].append((b["path"], flow, lb.get(k), ln.get(k)))
    for name in sorted(diffs):
        rows = diffs[name]
        print(f"{name}: {len(rows)} differ")
        for cap, flow, x, y in rows[:SHOW]:
            print(f"    {cap} {flow}: {json.dumps(x)[:80]} -> {json.dumps(y)[:80]}")
    tb, tn = totals(base), totals(new)
    print(f"{len(base['captures'])} captures; totals over all flows (base -> new):")
    for k in sorted(set(tb) | set(tn)):
        mark = "" if tb[k] == tn[k] else "   <- differs"
        print(f"    {k}: {tb[k]} -> {tn[k]}{mark}")
    print("same results" if not diffs else f"{len(diffs)} fields differ")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
