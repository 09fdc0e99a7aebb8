#!/usr/bin/env python3
"""middlebox_truth: the ground truth of every RST in fixtures/middlebox/, and bttrace's verdicts.

For each mode there are two captures of the same session, <mode>-client.pcap (taken on the
client's veth) and <mode>-server.pcap (on the server's veth), and the injector's log. A RST in
one file is
  - sent by an endpoint if the end it claims to come from really sent it: the claimed sender's
    own capture shows that packet leaving it (same addresses, ports, flags, seq, ack, IP ID and
    window, TTL one more than at the receiver after the router's hop, at most 50 ms earlier); a
    RST from the capturing host itself is its own kernel's, and is matched the same way in the
    other file;
  - forged if the claimed sender's capture never shows it leaving.
Then every forged RST must match one line of the injector's log (same fields, TTL as sent, at
most 50 ms after the logged time), every log line exactly one forged RST, and no endpoint RST a
log line; any disagreement is reported as an error in the output and the exit status.

With --bttrace BIN it runs `BIN analyze --format json FILE` on every file and compares each
RST's verdict with the truth. It writes --tsv (one row per RST) and --readme (the fixtures'
README.md: topology, commands, injector versions, ground truth, bttrace's results).

Usage: middlebox_truth.py --dir fixtures/middlebox [--bttrace target/release/bttrace]
                          [--cmds DIR] [--readme README.md] [--tsv truth.tsv] MODE...
Standard library only (plus tshark/capinfos, optional, for the README's capture summaries).
"""

import argparse
import collections
import hashlib
import json
import os
import struct
import subprocess
import sys
import time

CLIENT, SERVER = "198.51.100.1", "203.0.113.1"
END_ADDR = {"client": CLIENT, "server": SERVER}
PORT_KIND = {6881: "bittorrent", 4711: "control"}
MATCH_S = 0.05

Pkt = collections.namedtuple(
    "Pkt", "frame ts src sport dst dport flags seq ack ttl ipid win plen")


def read_pcap(path):
    """IPv4/TCP packets of a classic pcap file (micro- or nanosecond; Ethernet or raw IP),
    numbered by frame as Wireshark numbers them."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("%s: not a classic pcap file" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    if linktype not in (1, 101, 12, 14):
        raise ValueError("%s: link type %d, expected Ethernet or raw IP" % (path, linktype))
    pos, frame = 24, 0
    while pos + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", data[pos:pos + 16])
        pkt = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        frame += 1
        if linktype == 1:
            if pkt[12:14] != b"\x08\x00":
                continue
            ip = pkt[14:]
        else:
            ip = pkt
        if len(ip) < 40 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", ip[ihl:ihl + 16])
        out.append(Pkt(frame, sec + frac / (1e9 if nano else 1e6),
                       "%d.%d.%d.%d" % tuple(ip[12:16]), sport, "%d.%d.%d.%d" % tuple(ip[16:20]),
                       dport, flags, seq, ack, ip[8], struct.unpack("!H", ip[4:6])[0], win,
                       total - ihl - (off >> 4) * 4))
    return out


def flag_text(flags):
    return "".join(c for bit, c in ((2, "S"), (1, "F"), (4, "R"), (8, "P"), (16, "A"))
                   if flags & bit)


def same_packet(a, b):
    return (a.src, a.sport, a.dst, a.dport, a.flags, a.seq, a.ack, a.ipid, a.win) == \
           (b.src, b.sport, b.dst, b.dport, b.flags, b.seq, b.ack, b.ipid, b.win)


def read_log(path):
    """The injector's log: (header lines, forged packets as dicts)."""
    head, forged = [], []
    if not os.path.exists(path):
        return head, forged
    for n, line in enumerate(open(path), 1):
        line = line.rstrip("\n")
        if line.startswith("#"):
            head.append(line[2:])
            continue
        f = line.split("\t")
        if len(f) < 13:
            continue
        forged.append({"line": n, "ts": float(f[0]), "iface": f[2], "src": f[3],
                       "sport": int(f[4]), "dst": f[5], "dport": int(f[6]), "flags": f[7],
                       "seq": int(f[8]), "ack": int(f[9]), "ttl": int(f[10]), "ipid": int(f[11]),
                       "win": int(f[12]), "note": f[13] if len(f) > 13 else "", "used": False})
    return head, forged


def truth_for_pair(mode, d, errors):
    """Rows, one per RST in both files of the pair."""
    pk = {end: read_pcap(os.path.join(d, "%s-%s.pcap" % (mode, end)))
          for end in ("client", "server")}
    head, log = read_log(os.path.join(d, "%s-injector.log" % mode))
    used = {end: set() for end in pk}      # frames of the sender's file already matched
    rows = []
    t0 = {end: (pk[end][0].ts if pk[end] else 0) for end in pk}
    for end in ("client", "server"):
        other = "server" if end == "client" else "client"
        here, there = END_ADDR[end], END_ADDR[other]
        for p in pk[end]:
            if not p.flags & 4:
                continue
            if p.src == here:
                sender, sender_end = "this host (%s)" % end, end
            elif p.src == there:
                sender, sender_end = "the %s" % other, other
            else:
                errors.append("%s-%s.pcap frame %d: RST from an unknown address %s"
                              % (mode, end, p.frame, p.src))
                continue
            row = {"mode": mode, "file": "%s-%s.pcap" % (mode, end), "frame": p.frame,
                   "time": p.ts, "rel": p.ts - t0[end],
                   "direction": "%s→%s" % (("client", "server") if p.src == CLIENT
                                           else ("server", "client")),
                   "flow": PORT_KIND.get(p.dport if p.src == CLIENT else p.sport, "?"),
                   "tuple": "%s:%d > %s:%d" % (p.src, p.sport, p.dst, p.dport),
                   "flags": flag_text(p.flags), "seq": p.seq, "ack": p.ack, "ttl": p.ttl,
                   "ipid": p.ipid, "win": p.win, "pkt": p}
            if sender_end == end:
                # Leaving the capturing host: it must arrive at the other end (TTL - 1).
                cands = [q for q in pk[other] if q.flags & 4 and same_packet(p, q)
                         and q.ttl == p.ttl - 1 and 0 <= q.ts - p.ts <= MATCH_S
                         and q.frame not in used[other]]
                row["truth"] = "endpoint"
                row["how"] = "sent by this host's kernel (leaves through the capture point)"
                if cands:
                    row["how"] += "; arrives at the %s as frame %d" % (other, cands[0].frame)
                else:
                    errors.append("%s frame %d: a RST this host sent never reached the %s"
                                  % (row["file"], p.frame, other))
            else:
                cands = [q for q in pk[other] if q.flags & 4 and same_packet(p, q)
                         and q.ttl == p.ttl + 1 and 0 <= p.ts - q.ts <= MATCH_S
                         and q.frame not in used[other]]
                if cands:
                    used[other].add(cands[0].frame)
                    row["truth"] = "endpoint"
                    row["how"] = "the %s sent it: leaves it as frame %d of %s-%s.pcap" % (
                        other, cands[0].frame, mode, other)
                else:
                    row["truth"] = "forged"
                    row["how"] = "never leaves the %s (not in %s-%s.pcap)" % (other, mode, other)
            # Injector log cross-check.
            hits = [l for l in log if not l["used"] and
                    (l["src"], l["sport"], l["dst"], l["dport"], l["seq"], l["ack"], l["ttl"],
                     l["ipid"], l["win"], l["flags"]) ==
                    (p.src, p.sport, p.dst, p.dport, p.seq, p.ack, p.ttl, p.ipid, p.win,
                     flag_text(p.flags)) and 0 <= p.ts - l["ts"] <= MATCH_S]
            if row["truth"] == "forged":
                if hits:
                    hits[0]["used"] = True
                    row["how"] += "; injector log line %d" % hits[0]["line"]
                else:
                    errors.append("%s frame %d: forged but not in the injector's log"
                                  % (row["file"], p.frame))
            elif hits:
                errors.append("%s frame %d: an endpoint's RST matches injector log line %d"
                              % (row["file"], p.frame, hits[0]["line"]))
            rows.append(row)
    for l in log:
        if not l["used"]:
            errors.append("%s-injector.log line %d: forged packet seen in no capture"
                          % (mode, l["line"]))
    return rows, head, log, pk


def run_bttrace(binary, path):
    """{frame: rst dict} from bttrace's JSON, plus the flows' vantage per port."""
    out = subprocess.run([binary, "analyze", "--format", "json", path], capture_output=True,
                         text=True)
    if out.returncode not in (0, 1):
        raise RuntimeError("%s on %s: exit %d: %s" % (binary, path, out.returncode, out.stderr))
    data = json.loads(out.stdout)
    rsts, vantage = {}, {}
    for cap in data["captures"]:
        for fl in cap.get("flows") or []:
            vantage[str(fl.get("port"))] = fl.get("vantage")
            for r in fl.get("rsts") or []:
                rsts[r["frame"]] = r
    return rsts, vantage


def md_table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def capinfos(path):
    try:
        out = subprocess.run(["capinfos", "-c", "-s", "-u", path], capture_output=True,
                             text=True).stdout
        return "; ".join(" ".join(l.split()) for l in out.splitlines()
                         if not l.startswith("File name"))
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--bttrace")
    ap.add_argument("--cmds", help="directory with cmds-<mode>.txt and btpeer-<mode>.txt")
    ap.add_argument("--readme")
    ap.add_argument("--prefix", default="bttmb", help="the namespaces' name prefix")
    ap.add_argument("--tsv")
    ap.add_argument("modes", nargs="+")
    a = ap.parse_args()

    errors, pairs = [], {}
    for mode in a.modes:
        pairs[mode] = truth_for_pair(mode, a.dir, errors)

    have_bttrace = bool(a.bttrace) and os.access(a.bttrace, os.X_OK)
    bt_version = ""
    verdicts, vantages = {}, {}
    if have_bttrace:
        bt_version = subprocess.run([a.bttrace, "--version"], capture_output=True,
                                    text=True).stdout.strip()
        for mode in a.modes:
            for end in ("client", "server"):
                f = "%s-%s.pcap" % (mode, end)
                verdicts[f], vantages[f] = run_bttrace(a.bttrace, os.path.join(a.dir, f))

    all_rows = [r for m in a.modes for r in pairs[m][0]]
    for r in all_rows:
        b = verdicts.get(r["file"], {}).get(r["frame"])
        r["bttrace"] = b["verdict"] if b else ("(not reported)" if have_bttrace else "")
        r["evidence"] = ",".join(b["evidence"]) if b else ""
        r["findings"] = b.get("findings", []) if b else []
        if have_bttrace and not b:
            errors.append("%s frame %d: bttrace reports no RST there" % (r["file"], r["frame"]))
    if have_bttrace:
        for f, rs in verdicts.items():
            known = {r["frame"] for r in all_rows if r["file"] == f}
            for fr in sorted(set(rs) - known):
                errors.append("%s frame %d: bttrace reports a RST the truth has not" % (f, fr))

    if a.tsv:
        with open(a.tsv, "w") as f:
            f.write("\t".join(("file", "frame", "time", "direction", "flow", "tuple", "flags",
                               "seq", "ack", "ttl", "ip_id", "window", "truth", "how",
                               "bttrace_verdict", "bttrace_evidence")) + "\n")
            for r in all_rows:
                f.write("\t".join(str(x) for x in (
                    r["file"], r["frame"], "%.6f" % r["time"], r["direction"], r["flow"],
                    r["tuple"], r["flags"], r["seq"], r["ack"], r["ttl"], r["ipid"], r["win"],
                    r["truth"], r["how"], r["bttrace"], r["evidence"])) + "\n")

    # Summary on stdout.
    summary = []
    for mode in a.modes:
        for end in ("client", "server"):
            f = "%s-%s.pcap" % (mode, end)
            rows = [r for r in all_rows if r["file"] == f]
            c = collections.Counter((r["truth"], r["bttrace"]) for r in rows)
            summary.append((f, len(rows),
                            sum(1 for r in rows if r["truth"] == "forged"),
                            sum(1 for r in rows if r["truth"] == "endpoint"), c))
    for f, n, nf, ne, c in summary:
        print("%-22s RSTs %2d forged %2d endpoint %2d  %s" % (
            f, n, nf, ne, " ".join("%s->%s:%d" % (k[0], k[1], v) for k, v in sorted(c.items()))))
    wrong = [r for r in all_rows if have_bttrace and r["bttrace"] in ("forged", "endpoint")
             and r["bttrace"] != r["truth"]]
    for r in wrong:
        print("MISJUDGED %s frame %d: truth %s, bttrace %s [%s]" % (
            r["file"], r["frame"], r["truth"], r["bttrace"], r["evidence"]))
    for e in errors:
        print("ERROR " + e, file=sys.stderr)

    if a.readme:
        write_readme(a, pairs, all_rows, summary, wrong, errors, have_bttrace, bt_version,
                     vantages)
    return 1 if errors else 0


def write_readme(a, pairs, all_rows, summary, wrong, errors, have_bttrace, bt_version, vantages):
    here = os.path.dirname(os.path.abspath(__file__))
    inj_path = os.path.join(here, "rst_injector.py")
    inj_sha = hashlib.sha256(open(inj_path, "rb").read()).hexdigest()[:16] \
        if os.path.exists(inj_path) else "?"
    L = []
    w = L.append
    first = min((p.ts for m in a.modes for end in ("client", "server") for p in pairs[m][3][end]),
                default=None)
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    stamp = "This file written %s" % now
    if first is not None:
        stamp = "Captures recorded %s; this file written %s" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(first)), now)
    w("""# Forged and genuine resets, captured at both ends

Made by `scripts/make-middlebox-captures.sh` (run as root; about a minute), which also runs
`scripts/middlebox_truth.py` to write this file and `truth.tsv`. %s.
Every run replaces the files: sizes, ports, flows and the injectors' behaviour stay the same;
timestamps, sequence numbers, IP IDs and the races between the injector and the endpoints (so
the number of genuine resets that follow the forged ones) vary a little.

## Topology

```
@P@-cli                    @P@-rtr (IP forwarding on)            @P@-srv
c0 198.51.100.1/24 ---- rc 198.51.100.254/24
                        rs 203.0.113.254/24 ---- s0 203.0.113.1/24
                        rst_injector.py: sniffs frames arriving on rc and rs
                        (AF_PACKET), sends forged frames out of rc / rs
```

Three network namespaces made by `scripts/netns-topology.sh` (TSO/GSO/GRO and TX checksum
offload off on every veth). The client and the server are one routed hop apart: packets from
the far end arrive with TTL 63, a host's own packets leave with TTL 64. The router's kernel
forwards every real packet; `scripts/rst_injector.py` (standard-library Python, raw AF_PACKET
sockets) only adds forged RSTs, built whole (Ethernet, IPv4 and TCP headers, both checksums
right, no TCP options) and sent straight out of the interface facing their receiver, so they
pass no other hop: a forged RST arrives with the TTL the injector wrote. The endpoints' kernels
answer what they get as Linux does (a segment for a socket that was reset gets a RST with
window 0, no options, IP ID 0).

Each pair is one session: a BitTorrent download on port 6881 and, at the same time, its
random-payload control twin on port 4711 (`scripts/btpeer.py`; the server seeds 16,397-byte
piece messages at 30 kB/s for 3 s), captured at the same time by tcpdump on c0 inside the
client namespace (`<mode>-client.pcap`, filter `host 203.0.113.1`) and on s0 inside the server
namespace (`<mode>-server.pcap`, filter `host 198.51.100.1`): Ethernet, full snaplen,
microsecond pcap. All namespaces share the host's clock, so timestamps compare across the two
files and with the injector's log.

## The injector's modes

`rst_injector.py` version and SHA-256 (first 16 hex digits) when these files were made:
`%s`. The log's first line gives the version and options each run used.

- **none**: forges nothing (baseline).
- **sandvine**: after a BitTorrent handshake and then a bitfield (message id 5) in a flow, one
  RST+ACK to each end: to the server claiming the client and to the client claiming the server.
  seq = the claimed sender's next sequence number as seen at the router (exact: the receiver
  accepts it), ack = the receiver's next sequence number; TTL 64 (the real sender's packets
  arrive with 63), IP ID 0x1234 (4660) fixed, no DF, window 0. The control flow has no handshake
  and is never touched.
- **port6881**: on the first data segment of any flow to or from port 6881 (the client's
  handshake), a plain RST (no ACK flag, ack 0) to each end, shaped like Linux's own reply for a
  closed socket: to the server claiming the client with seq = the client's next sequence number,
  to the client claiming the server with seq = the segment's ack number. TTL 64, IP ID 0,
  window 0. Only the TTL (and the other end's capture) gives it away.
- **linux**: Sandvine-like, dressed as a Linux reset: after a handshake and a bitfield, one
  RST+ACK to each end claiming the other (numbers as in sandvine), IP ID 0, DF, window 0, no
  options, TTL 64. **linux-idle**: the same, `--delay 500 --quiet 100`: sent once nothing has
  passed either way for 100 ms (in these sessions, which pace their data evenly, that is after
  the closing FINs), so no real packet races it and only the hop count gives it away.
- **burst**: GFW-like, 2 ms after a BitTorrent handshake, 3 RST+ACKs (`--count 3`) to the
  handshake's receiver claiming its sender, seq = its next, +1460, +2920; random TTL (40-200)
  and IP ID each, window 0.
- **copy**: 1.5 s after the seeder's first piece message (`--after 1.5`), one RST+ACK to the
  downloader claiming the seeder, copying the seeder's look as the downloader sees it: its last
  TTL less the router's hop, its last IP ID + 1, its DF bit and window; seq = its next, ack =
  the downloader's next. Only the real seeder's data still arriving after it (and the seeder's
  own capture) gives it away.
- **abort-client**, **abort-server**: no injector (mode none); that end's btpeer resets the
  BitTorrent connection itself 1 s into the piece data (`--abort-after 1`: SO_LINGER 0, then
  close): genuine endpoint resets, while the other end is still sending.
- **gfw**: 2 ms after a BitTorrent handshake (`--delay 2`), a burst of 3 to 5 RST and RST+ACK
  (at least one of each, in random order, with sleeps of 0.2-1 ms between them, a few ms on a
  busy machine) towards the handshake's receiver (the server) claiming its sender (the client):
  seq = the client's next sequence number, then +1460, +2920, ...; a random TTL (40-200), IP ID
  and window each; ack = the server's next sequence number on RST+ACK, 0 on RST. The real
  packets still pass. Nothing is sent to the client.

What a single capture can show here: the injector sits one hop from each end, so the
sandvine and port6881 resets arrive with TTL 64 where the claimed sender's packets arrive with
63, a difference of one hop only; the gfw resets carry random TTLs (40-200) and IP IDs. There is
no link delay (the round trip is tens of microseconds, shorter than the injector's reaction),
so timing says nothing; the endpoints race the injector on a shared, loaded CPU, which is why the
genuine resets that follow the forged ones differ from run to run.

## How the ground truth is derived

For every RST in either file: if the end it claims to come from has the packet leaving it in its
own capture (same addresses, ports, flags, seq, ack, IP ID and window; TTL one higher; at most
50 ms earlier), an endpoint's kernel sent it; a RST from the capturing host itself is that host's
(and must show up at the other end). Otherwise it is **forged**. Then every forged RST must match a
line of the injector's log (all fields, TTL as sent), every log line exactly one forged RST, and
no endpoint RST a log line. %s

""" % (stamp,
       "%s, sha256 %s" % (next((h.split(" mode=")[0] for m in a.modes for h in pairs[m][1]
                                 if h.startswith("rst_injector")), "?"), inj_sha),
       "All of these checks passed for the files here." if not errors else
       "**Checks that failed:** " + "; ".join(errors)))

    for mode in a.modes:
        rows, head, log, pk = pairs[mode]
        w("## %s\n" % mode)
        inj = next((h for h in head if h.startswith("rst_injector")), "?")
        w("Injector: `%s`\n" % inj)
        if a.cmds and os.path.exists(os.path.join(a.cmds, "cmds-%s.txt" % mode)):
            w("Commands:\n\n```\n%s```\n" % open(os.path.join(a.cmds, "cmds-%s.txt" % mode)).read())
        if a.cmds and os.path.exists(os.path.join(a.cmds, "btpeer-%s.txt" % mode)):
            w("What the peers said:\n\n```\n%s```\n"
              % open(os.path.join(a.cmds, "btpeer-%s.txt" % mode)).read())
        for end in ("client", "server"):
            f = "%s-%s.pcap" % (mode, end)
            info = capinfos(os.path.join(a.dir, f))
            w("`%s`: %s\n" % (f, info or "%d TCP packets" % len(pk[end])))
        w("Flows, as the client's capture saw them:\n")
        for port, kind in sorted(PORT_KIND.items()):
            fl = [p for p in pk["client"] if port in (p.sport, p.dport)]
            down = sum(p.plen for p in fl if p.src == SERVER)
            fins = sorted({"client" if p.src == CLIENT else "server" for p in fl if p.flags & 1})
            rsts = collections.Counter("client" if p.src == CLIENT else "server"
                                       for p in fl if p.flags & 4)
            w("- %s (port %d): %d packets, %d B of payload server→client; FIN from %s; RST "
              "claiming %s" % (kind, port, len(fl), down, " and ".join(fins) or "nobody",
                               ", ".join("the %s: %d" % kv for kv in sorted(rsts.items()))
                               or "nobody"))
        w("")
        trig = [h for h in head if " trigger " in h or "would-trigger" in h]
        if trig:
            w("Injector triggers:\n\n```\n%s\n```\n" % "\n".join(trig))
        if log:
            w("Forged packets in `%s-injector.log` (time, interface, tuple, flags, seq, ack, TTL, "
              "IP ID, window):\n" % mode)
            w(md_table(["line", "time", "iface", "tuple", "flags", "seq", "ack", "TTL", "IP ID",
                        "window"],
                       [(l["line"], "%.6f" % l["ts"], l["iface"], "%s:%d > %s:%d" % (
                           l["src"], l["sport"], l["dst"], l["dport"]), l["flags"], l["seq"],
                         l["ack"], l["ttl"], l["ipid"], l["win"]) for l in log]) + "\n")
        else:
            w("The injector forged nothing.\n")
        if rows:
            w("Every RST in the two files (rel = seconds since the file's first packet):\n")
            hdr = ["file", "frame", "rel s", "direction", "flow", "flags", "seq", "ack", "TTL",
                   "IP ID", "win", "truth", "how we know"]
            if have_bttrace:
                hdr += ["bttrace", "bttrace evidence"]
            w(md_table(hdr, [[r["file"], r["frame"], "%.6f" % r["rel"], r["direction"], r["flow"],
                              r["flags"], r["seq"], r["ack"], r["ttl"], r["ipid"], r["win"],
                              "**forged**" if r["truth"] == "forged" else "endpoint", r["how"]]
                             + ([r["bttrace"], r["evidence"].replace(",", ", ")]
                                if have_bttrace else []) for r in rows]) + "\n")
        else:
            w("No RST in either file.\n")

    w("## bttrace's verdicts against the truth\n")
    if not have_bttrace:
        w("bttrace was not run (no binary at `%s`; `cargo build --release`, then rerun "
          "`scripts/middlebox_truth.py`).\n" % a.bttrace)
    else:
        w("`%s`, `bttrace analyze --format json FILE` on each file alone (vantage `auto`). "
          "Columns: RSTs whose truth is forged, then how bttrace judged them; the same for "
          "endpoint RSTs. A **false forged** (an endpoint's RST called forged) is the error "
          "that matters most; `endpoint` for a forged RST is the other error; `inconclusive` "
          "is allowed either way.\n" % bt_version)
        rows = []
        for f, n, nf, ne, c in summary:
            rows.append([f, n, nf, c[("forged", "forged")], c[("forged", "endpoint")],
                         c[("forged", "inconclusive")], ne, c[("endpoint", "forged")],
                         c[("endpoint", "endpoint")], c[("endpoint", "inconclusive")],
                         ", ".join("%s: %s" % kv for kv in sorted(vantages.get(f, {}).items()))])
        tot = [sum(r[i] for r in rows) for i in range(1, 10)]
        rows.append(["**all**"] + tot + [""])
        w(md_table(["file", "RSTs", "forged (truth)", "→ forged", "→ endpoint",
                    "→ inconclusive", "endpoint (truth)", "→ forged", "→ endpoint",
                    "→ inconclusive", "bttrace's vantage per port"], rows) + "\n")
        if not wrong:
            w("No misjudgement: bttrace never called an endpoint's RST forged nor a forged RST "
              "endpoint.\n")
        else:
            w("Misjudgements (with bttrace's findings):\n")
            for r in wrong:
                w("- `%s` frame %d (%s, %s flow, %s seq %d ack %d TTL %d): truth **%s**, bttrace "
                  "**%s** (%s).%s" % (
                      r["file"], r["frame"], r["direction"], r["flow"], r["flags"], r["seq"],
                      r["ack"], r["ttl"], r["truth"], r["bttrace"], r["how"],
                      "".join("\n  - `%s` (%s): %s" % (x["code"], x["strength"], x["text"])
                              for x in r["findings"])))
            w("")
        inc = [r for r in all_rows if r["bttrace"] == "inconclusive"]
        if inc:
            w("Inconclusive (allowed, listed for tuning):\n")
            for r in inc:
                w("- `%s` frame %d (%s, truth %s): %s" % (r["file"], r["frame"], r["direction"],
                                                          r["truth"], r["evidence"] or "-"))
            w("")
    with open(a.readme, "w") as f:
        f.write("\n".join(L).rstrip().replace("@P@", a.prefix) + "\n")


if __name__ == "__main__":
    sys.exit(main())
