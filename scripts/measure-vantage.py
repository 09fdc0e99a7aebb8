#!/usr/bin/env python3
"""measure-vantage: how two bttrace builds judge the RSTs of middlebox capture runs, per
vantage and per injector kind, against the runs' ground truth.

Each DIR is the output of scripts/make-middlebox-captures.sh (MIDDLEBOX_OUT=DIR): pairs
<scenario>-client.pcap / <scenario>-server.pcap and truth.tsv (every RST with its truth,
`forged` or `endpoint`, from the two captures and the injector's log). For every build
(--bin NAME=PATH, repeatable) it runs `analyze --format json` on every capture and counts,
per scenario, vantage (the capture's end: client or server) and truth, the verdicts
forged / endpoint / inconclusive. With --compare NAME it also runs `NAME compare` on every
pair and counts the proofs (forged / endpoint / unproven / not_received) per truth.

Prints Markdown tables; exits 1 if any build called a genuine RST `forged` (the worst bug).

Usage: measure-vantage.py --bin old=/tmp/old/bttrace --bin new=target/release/bttrace
                          [--compare new] DIR...
Standard library only.
"""

import argparse
import collections
import csv
import json
import os
import subprocess
import sys


def verdicts(binary, path):
    out = subprocess.run([binary, "analyze", "--format", "json", path], capture_output=True,
                         text=True)
    if out.returncode not in (0, 1):
        raise RuntimeError("%s on %s: exit %d: %s" % (binary, path, out.returncode, out.stderr))
    got = {}
    for cap in json.loads(out.stdout)["captures"]:
        for fl in cap.get("flows") or []:
            for r in fl.get("rsts") or []:
                got[r["frame"]] = r.get("verdict")
    return got


def proofs(binary, client, server):
    out = subprocess.run([binary, "compare", "--format", "json", client, server],
                         capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise RuntimeError("compare %s %s: exit %d: %s" % (client, server, out.returncode,
                                                            out.stderr))
    got = {}
    for pair in json.loads(out.stdout).get("pairs") or []:
        for r in pair.get("rsts") or []:
            got[(r["capture"], r["frame"])] = r["proven"]
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--compare", metavar="NAME", help="also run this build's compare")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    bins = dict(b.split("=", 1) for b in a.bin)
    # (build, scenario, vantage, truth) -> Counter(verdict)
    counts = collections.defaultdict(collections.Counter)
    proof_counts = collections.defaultdict(collections.Counter)
    false_forged = []
    for d in a.dirs:
        rows = list(csv.DictReader(open(os.path.join(d, "truth.tsv")), delimiter="\t"))
        files = sorted({r["file"] for r in rows})
        got = {(name, f): verdicts(path, os.path.join(d, f))
               for name, path in bins.items() for f in files}
        proven = {}
        if a.compare:
            for scen in sorted({f.rsplit("-", 1)[0] for f in files}):
                p = proofs(bins[a.compare], os.path.join(d, scen + "-client.pcap"),
                           os.path.join(d, scen + "-server.pcap"))
                proven.update({(scen, cap, fr): v for (cap, fr), v in p.items()})
        for r in rows:
            scen, vantage = r["file"][:-len(".pcap")].rsplit("-", 1)
            frame = int(r["frame"])
            for name in bins:
                v = got[(name, r["file"])].get(frame) or "missing"
                counts[(name, scen, vantage, r["truth"])][v] += 1
                if r["truth"] == "endpoint" and v == "forged":
                    false_forged.append("%s: %s/%s frame %d" % (name, d, r["file"], frame))
            if a.compare:
                p = proven.get((scen, vantage, frame), "missing")
                proof_counts[(scen, r["truth"])][p] += 1
    print("| build | scenario | vantage | truth | RSTs | forged | endpoint | inconclusive |")
    print("|---|---|---|---|---|---|---|---|")
    for key in sorted(counts, key=lambda k: (k[1], k[2], k[3], k[0])):
        c = counts[key]
        print("| %s | %s | %s | %s | %d | %d | %d | %d |" % (
            key + (sum(c.values()), c["forged"], c["endpoint"], c["inconclusive"])))
    print()
    print("| build | vantage | truth | RSTs | forged | endpoint | inconclusive |")
    print("|---|---|---|---|---|---|---|")
    tot = collections.defaultdict(collections.Counter)
    for (name, _scen, vantage, truth), c in counts.items():
        tot[(name, vantage, truth)].update(c)
    for key in sorted(tot, key=lambda k: (k[1], k[2], k[0])):
        c = tot[key]
        print("| %s | %s | %s | %d | %d | %d | %d |" % (
            key + (sum(c.values()), c["forged"], c["endpoint"], c["inconclusive"])))
    if a.compare:
        print()
        print("| compare (%s) | truth | RSTs | forged | endpoint | unproven | not_received | not listed |"
              % a.compare)
        print("|---|---|---|---|---|---|---|---|")
        for key in sorted(proof_counts):
            c = proof_counts[key]
            print("| %s | %s | %d | %d | %d | %d | %d | %d |" % (
                key + (sum(c.values()), c["forged"], c["endpoint"], c["unproven"],
                       c["not_received"], c["missing"])))
    if false_forged:
        print("\ngenuine RSTs called forged:\n  " + "\n  ".join(false_forged))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
