#!/usr/bin/env python3
"""crosscheck-bt.py: compare bttrace's BitTorrent peer-wire decoding with tshark's dissector.

For each capture it counts BitTorrent messages per TCP flow (4-tuple), per sending side
(client = the side bttrace calls the client, normally the TCP initiator) and per kind, once
from tshark's BitTorrent dissector and once from bttrace's JSON report, and prints the rows
where the two differ plus a per-capture summary of what agrees. The whole table (every row
where either tool counted something) goes to a TSV file.

    scripts/crosscheck-bt.py [--bttrace PATH] [--tsv FILE|-] [--detail] [CAPTURE...]

Default captures: fixtures/clients/*, fixtures/netns/*, fixtures/ndpi/bittorrent*.pcap*,
fixtures/arkime/bt-tcp.pcap; the TSV then goes to fixtures/oracle-bt.tsv (columns capture,
client, server, sender, kind, tshark, bttrace; one row per flow, sender and kind that either
tool counted; sorted by capture, client, server, sender, kind). With captures named on the
command line no TSV is written unless --tsv says where. fixtures/oracle-bt.md explains every
difference found in the default set.

--detail lines the two tools' messages up, per flow and sender, as sequences of signatures
(kind plus the fields both decode: piece index / begin / length, port, bitfield length,
extended sub-id) with difflib, and lists every message only one tool reported, with its frame
(tshark: the frame in which the message was dissected, i.e. where its reassembly completed;
bttrace: the frame holding its first byte) -- including differences that cancel out in the
counts. Messages both report at different places of the sequence (tshark dissects segments
in arrival order, bttrace in sequence order) are listed as reordered, and messages both report
where bttrace's frame is after tshark's (impossible for the same bytes) are listed too.

Kinds are bttrace's names: handshake, keep_alive, choke, unchoke, interested, not_interested,
have, bitfield, request, piece, cancel, port, suggest, have_all, have_none, reject,
allowed_fast, extended, unknown. tshark's `bittorrent.msg.type` numbers map to them (13-17 are
BEP 6, 20 is BEP 10); a `bittorrent.msg` of length 0 without a type is a keep-alive; a
BitTorrent layer with `bittorrent.protocol.name` is a handshake; Azureus messaging-protocol
messages (`bittorrent.azureus_msg`) count as `azureus:<NAME>`. tshark's messages are read from
its PDML (`tshark -r FILE -Y bittorrent -T pdml`), so several messages in one frame each count.
tshark runs with its defaults (single pass, TCP reassembly on, the BitTorrent heuristic on
TCP, ports 6881-6889 registered); frames whose BitTorrent layer is only "continuation data"
carry no message and are reported separately. bttrace's messages come from
`bttrace analyze --format json --messages FILE`: every listed message with a kind, plus the
handshakes (listed without a kind); the per-kind totals are checked against each direction's
`messages` object.

Needs tshark (4.0 was used) and a built bttrace (cargo build --release). Standard library only.
"""
import argparse
import collections
import difflib
import glob
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPES = {0: "choke", 1: "unchoke", 2: "interested", 3: "not_interested", 4: "have",
         5: "bitfield", 6: "request", 7: "piece", 8: "cancel", 9: "port", 13: "suggest",
         14: "have_all", 15: "have_none", 16: "reject", 17: "allowed_fast", 20: "extended"}
KIND_ORDER = ["handshake", "keep_alive"] + [TYPES[k] for k in sorted(TYPES)] + ["unknown"]


def default_captures():
    pats = ["fixtures/clients/*", "fixtures/netns/*", "fixtures/ndpi/bittorrent*.pcap*",
            "fixtures/arkime/bt-tcp.pcap"]
    out = []
    for p in pats:
        for f in sorted(glob.glob(os.path.join(ROOT, p))):
            if f.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")):
                out.append(os.path.relpath(f, ROOT))
    return out


def endpoint(ip, port):
    return "[%s]:%s" % (ip, port) if ":" in ip else "%s:%s" % (ip, port)


def kind_key(k):
    return (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k)


def tshark_messages(path):
    """Every BitTorrent message tshark's dissector shows, in frame order:
    [(frame, src_endpoint, dst_endpoint, signature)], plus {(src, dst): frames} of frames
    whose BitTorrent layer is only continuation data. A signature is (kind, fields...)."""
    cmd = ["tshark", "-n", "-r", path, "-Y", "bittorrent", "-T", "pdml"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        # tshark exits non-zero on a file cut short but prints what it read: keep that.
        print("  (tshark exit %d: %s)" % (r.returncode, " ".join(r.stderr.split())[:200]))
    msgs = []
    cont = collections.defaultdict(list)
    first = {}
    for pkt in ET.fromstring(r.stdout or "<pdml/>").iter("packet"):
        top = {}
        for f in pkt.iter("field"):
            if f.get("name") in ("frame.number", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst",
                                 "tcp.srcport", "tcp.dstport", "tcp.flags.syn",
                                 "tcp.flags.ack"):
                # Tunnelled packets carry several addresses; the innermost (last) wins.
                top[f.get("name")] = f.get("show")
        num = int(top.get("frame.number", 0))
        src = endpoint(top.get("ipv6.src") or top.get("ip.src", ""), top.get("tcp.srcport"))
        dst = endpoint(top.get("ipv6.dst") or top.get("ip.dst", ""), top.get("tcp.dstport"))
        n = 0
        for proto in pkt.iter("proto"):
            if proto.get("name") != "bittorrent":
                continue
            names = {f.get("name") for f in proto.iter("field")}
            if "bittorrent.protocol.name" in names:
                msgs.append((num, src, dst, ("handshake",)))
                n += 1
            for m in proto:
                if m.get("name") not in ("bittorrent.msg", "bittorrent.azureus_msg"):
                    continue
                v = {}
                for f in m.iter("field"):
                    v.setdefault(f.get("name"), f.get("show"))
                if m.get("name") == "bittorrent.azureus_msg":
                    sig = ("azureus:" + (v.get("bittorrent.msg.aztype") or "?"),)
                elif "bittorrent.msg.type" not in v:
                    if v.get("bittorrent.msg.length") != "0":
                        continue
                    sig = ("keep_alive",)
                else:
                    sig = signature(int(v["bittorrent.msg.type"]), v)
                msgs.append((num, src, dst, sig))
                n += 1
            if "bittorrent.continuous_data" in names and not n:
                cont[(src, dst)].append(num)
    return msgs, cont


def num(x):
    return int(x, 0) if x is not None else None


def signature(t, v):
    """tshark message fields -> (kind, fields...) comparable with bttrace_signature."""
    k = TYPES.get(t, "unknown")
    idx, begin, ln = (num(v.get("bittorrent.piece.index")), num(v.get("bittorrent.piece.begin")),
                      num(v.get("bittorrent.piece.length")))
    if k in ("have", "suggest", "allowed_fast"):
        return (k, idx)
    if k in ("request", "cancel", "reject"):
        return (k, idx, begin, ln)
    if k == "piece":
        return (k, idx, begin)
    if k == "port":
        return (k, num(v.get("bittorrent.port")))
    if k == "bitfield":
        return (k, num(v.get("bittorrent.msg.length")) - 1)
    if k == "extended":
        return (k, num(v.get("bittorrent.extended.id")))
    if k == "unknown":
        return (k, t)
    return (k,)


def bttrace_signature(kind, text):
    """bttrace --messages text -> (kind, fields...)."""
    f = dict(x.split("=", 1) for x in text.split() if "=" in x and not x.startswith("m="))
    g = lambda n: int(f[n]) if n in f and f[n].isdigit() else None
    if kind in ("have", "suggest", "allowed_fast"):
        return (kind, g("piece"))
    if kind in ("request", "cancel", "reject"):
        return (kind, g("piece"), g("begin"), g("length"))
    if kind == "piece":
        return (kind, g("piece"), g("begin"))
    if kind == "port":
        return (kind, int(text.split()[1]))
    if kind == "bitfield":
        return (kind, g("len"))
    if kind == "extended":
        return (kind, 0 if text.startswith("Extended handshake") else g("id"))
    if kind == "unknown":
        return (kind, g("id"))
    return (kind,)


def tshark_counts(path):
    """{frozenset(endpoints): {"first": (src, dst), "msgs": {sender: [(frame, sig)]},
    "continuation": {sender: [frames]}}}"""
    msgs, cont = tshark_messages(path)
    flows = {}

    def flow(src, dst):
        return flows.setdefault(frozenset((src, dst)), {"first": (src, dst),
                                                        "msgs": collections.defaultdict(list),
                                                        "continuation": {}})
    for frame, src, dst, sig in msgs:
        flow(src, dst)["msgs"][src].append((frame, sig))
    for (src, dst), frames in sorted(cont.items(), key=lambda x: x[1][0]):
        flow(src, dst)["continuation"][src] = frames
    return flows


def bttrace_flows(bttrace, path):
    """{frozenset(endpoints): {"client": ep, "server": ep, "msgs": {side: [(frame, sig)]},
    "notes": {side: [str]}}}"""
    cmd = [bttrace, "analyze", "--format", "json", "--messages", path]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rep = json.loads(out)
    flows = {}
    for cap in rep["captures"]:
        for fl in cap.get("flows") or []:
            key = frozenset((fl["client"], fl["server"]))
            e = flows.setdefault(key, {"client": fl["client"], "server": fl["server"],
                                       "msgs": collections.defaultdict(list),
                                       "notes": collections.defaultdict(list)})
            # The same 4-tuple twice (port reuse): keep the first instance's orientation.
            flip = fl["client"] != e["client"]
            other = {"client": "server", "server": "client"}
            listed = collections.Counter()
            for m in fl.get("messages") or []:
                k = m.get("message")
                if k is None and m.get("description", "").startswith("Handshake"):
                    k = "handshake"
                if k is None:
                    continue
                side = other[m["sender"]] if flip else m["sender"]
                listed[(m["sender"], k)] += 1
                e["msgs"][side].append((m["frame"], bttrace_signature(k, m["description"])))
            bt = fl.get("bittorrent") or {}
            for side in ("client", "server"):
                d = bt.get(side) or {}
                s = other[side] if flip else side
                for k, n in (d.get("messages") or {}).items():
                    if listed[(side, k)] != n:
                        e["notes"][s].append("listed %d %s but counted %d" % (listed[(side, k)], k, n))
                if bool(d.get("handshake")) != bool(listed[(side, "handshake")]):
                    e["notes"][s].append("handshake object and message list disagree")
                bits = ["framing=%s" % d.get("framing")]
                if d.get("preamble_bytes") is not None:
                    bits.append("preamble=%s" % d["preamble_bytes"])
                if d.get("lost_at") is not None:
                    bits.append("lost_at=%s (%s)" % (d["lost_at"], d.get("lost_reason")))
                for f, name in (("resyncs", "resyncs"), ("unparsed_bytes", "unparsed"),
                                ("hole_bytes", "holes")):
                    if d.get(f):
                        bits.append("%s=%s" % (name, d[f]))
                if d and bits != ["framing=ok"]:
                    e["notes"][s].append(" ".join(bits))
    return flows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("captures", nargs="*")
    ap.add_argument("--bttrace", default=os.path.join(ROOT, "target/release/bttrace"))
    ap.add_argument("--tsv", help="write the full table here ('-' for none; default: "
                    "fixtures/oracle-bt.tsv for the default captures, none for named ones)")
    ap.add_argument("--detail", action="store_true",
                    help="list each message only one tool reported")
    a = ap.parse_args()
    bttrace = os.path.abspath(a.bttrace)
    if a.tsv is None:
        a.tsv = "-" if a.captures else os.path.join(ROOT, "fixtures/oracle-bt.tsv")
    tsv = a.tsv if a.tsv == "-" else os.path.abspath(a.tsv)
    caps = [os.path.abspath(c) for c in a.captures] if a.captures else None
    os.chdir(ROOT)
    caps = [os.path.relpath(c, ROOT) for c in caps] if caps else default_captures()
    if not os.path.exists(bttrace):
        sys.exit("no bttrace at %s: run cargo build --release" % bttrace)

    rows = []
    total = collections.Counter()
    for path in caps:
        ts = tshark_counts(path)
        bt = bttrace_flows(bttrace, path)
        keys = sorted(set(ts) | set(bt), key=lambda k: sorted(k))
        cap_rows, details, extra = [], [], []
        for key in keys:
            t, b = ts.get(key), bt.get(key)
            if b:
                client, server = b["client"], b["server"]
            else:   # bttrace kept no such flow: the first sender tshark saw is the client
                client, server = t["first"][0], t["first"][1]
            side_of = {client: "client", server: "server"}
            tm = {"client": [], "server": []}
            if t:
                for ep, lst in t["msgs"].items():
                    tm[side_of.get(ep, ep)] = lst
                for ep, frames in sorted(t["continuation"].items()):
                    extra.append("  %s -> %s: tshark shows %d %s frames only as continuation data"
                                 " (first %s)" % (client, server, len(frames), side_of.get(ep, ep),
                                                  frames[0]))
            bm = b["msgs"] if b else {"client": [], "server": []}
            if b:
                for side in ("client", "server"):
                    for note in b["notes"].get(side, []):
                        extra.append("  %s -> %s: bttrace, %s: %s" % (client, server, side, note))
            for side in ("client", "server"):
                tc = collections.Counter(sig[0] for _, sig in tm.get(side, []))
                bc = collections.Counter(sig[0] for _, sig in bm.get(side, []))
                for k in sorted(set(tc) | set(bc), key=kind_key):
                    cap_rows.append((path, client, server, side, k, tc[k], bc[k]))
                if a.detail:
                    details += align(client, server, side, tm.get(side, []), bm.get(side, []))
        rows += cap_rows
        diff = [r for r in cap_rows if r[5] != r[6]]
        same = [r for r in cap_rows if r[5] == r[6]]
        print("== %s: %d flows (tshark: %d with BitTorrent; bttrace: %d flows); "
              "%d rows agree (%d messages), %d differ"
              % (path, len(keys), len(ts), len(bt), len(same), sum(r[5] for r in same),
                 len(diff)))
        total["agree_rows"] += len(same)
        total["agree_msgs"] += sum(r[5] for r in same)
        total["diff_rows"] += len(diff)
        if diff:
            print("  %-24s %-24s %-6s %-15s %7s %7s" % ("client", "server", "sender", "kind",
                                                         "tshark", "bttrace"))
            for r in diff:
                print("  %-24s %-24s %-6s %-15s %7d %7d" % r[1:])
        for x in extra + details:
            print(x)
    print("== total: %d rows agree (%d messages), %d rows differ"
          % (total["agree_rows"], total["agree_msgs"], total["diff_rows"]))
    if tsv != "-":
        rows.sort(key=lambda r: (r[0], r[1], r[2], r[3], kind_key(r[4])))
        with open(tsv, "w") as f:
            f.write("capture\tclient\tserver\tsender\tkind\ttshark\tbttrace\n")
            for r in rows:
                f.write("\t".join(str(x) for x in r) + "\n")
        print("wrote %s (%d rows)" % (os.path.relpath(tsv, ROOT), len(rows)))


def fmt(sig):
    return sig[0] + ("(%s)" % ",".join("-" if x is None else str(x) for x in sig[1:])
                     if len(sig) > 1 else "")


def align(client, server, side, tm, bm):
    """Messages only one tool reported (difflib over signatures), as printable lines. A message
    both report but in a different place of the sequence (tshark dissects segments in arrival
    order, bttrace in sequence order) is paired up again and listed as reordered."""
    out = []
    name = flowname(client, server)
    ta = [sig for _, sig in tm]
    ba = [sig for _, sig in bm]
    t_only, b_only = [], []
    sm = difflib.SequenceMatcher(a=ta, b=ba, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2)):
                if bm[j][0] > tm[i][0]:
                    out.append("    %s %s: %s at bttrace frame %d but tshark frame %d"
                               % (name, side, fmt(ta[i]), bm[j][0], tm[i][0]))
            continue
        t_only += range(i1, i2)
        b_only += range(j1, j2)
    for i in list(t_only):
        j = next((j for j in b_only if ba[j] == ta[i]), None)
        if j is not None:
            t_only.remove(i)
            b_only.remove(j)
            out.append("    %s %s: reordered:    %s (tshark frame %d, bttrace frame %d)"
                       % (name, side, fmt(ta[i]), tm[i][0], bm[j][0]))
    for i in t_only:
        out.append("    %s %s: tshark only:  frame %-6d %s" % (name, side, tm[i][0], fmt(ta[i])))
    for j in b_only:
        out.append("    %s %s: bttrace only: frame %-6d %s" % (name, side, bm[j][0], fmt(ba[j])))
    return out


def flowname(client, server):
    return "%s->%s" % (client, server)


if __name__ == "__main__":
    main()
