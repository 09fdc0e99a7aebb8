#!/usr/bin/env python3
"""glasnost_truth: the ground truth of a Glasnost-style test run through a middlebox, the summary
row bttrace must give for it, and (for the fixtures' README) what bttrace gave.

Subcommands:

  verify  --scenario S --server-pcap FULL.pcap --client-pcap CLIENT.pcap
          --server-summary server.json --client-summary client.json
          [--injector-log inj.log] [--router router.txt] --truth truth.json --expected expected.json
      Checks, from the full captures taken at both ends (Ethernet, whole packets), the emulation's
      summaries, the injector's log and the router's counters, that the middlebox did what the
      scenario says (every BitTorrent transfer reset by a forged RST, every transfer to port 6881
      unanswered, the marked transfers slowed to a fifth, ...) and that nothing else happened
      (no other RST, the control flows untouched, the server's log counting the resets the
      capture shows). Writes truth.json (per transfer: what the middlebox did, rates, RSTs) and
      expected.json (the summary row bttrace must give, and why). Exit status 1, with the reasons
      on standard error, when the run did not behave as intended (the caller reruns it).

  readme  --dir OUTDIR [--bttrace target/release/bttrace] [--readme OUTDIR/README.md]
      Runs `bttrace analyze --format json` (and the text report) on every scenario's capture,
      compares its summary row with expected.json, and writes the fixtures' README.md: how they
      were made, each scenario's ground truth, capture sizes, and bttrace's result against the
      expectation, with the evidence for every mismatch. Exit status 0 even with mismatches (they
      are bttrace's to fix); 2 when a capture or an expected.json is missing.

Standard library only.
"""

import argparse
import collections
import datetime
import json
import os
import re
import subprocess
import sys

# Both ends' captures are read as middlebox_truth reads its own (Ethernet or raw IP).
from middlebox_truth import read_pcap

CLIENT, SERVER = "198.51.100.1", "203.0.113.1"
APP_PORT = 6881
SETUP = 239                 # the seeder's handshake + bitfield + unchoke
CELLS = ["block_bt_app_port", "block_bt_other_port", "throttle_bt_upload_app_port",
         "throttle_bt_upload_other_port", "throttle_bt_download_app_port",
         "throttle_bt_download_other_port"]

# ------------------------------------------------------------------------------ scenarios

SCENARIOS = collections.OrderedDict([
    ("none", {
        "middlebox": "nothing: the router forwards every packet",
        "summary": {"block_bt_app_port": "no", "block_bt_other_port": "no",
                    "throttle_bt_upload_app_port": "no", "throttle_bt_upload_other_port": "no",
                    "throttle_bt_download_app_port": "no", "throttle_bt_download_other_port": "no",
                    "blocking_basis": [], "throttling_basis": []},
        "why": "No interference: every transfer, BitTorrent and control, on both ports and in both "
               "directions, ran its full duration at the sender's rate, without a reset.",
    }),
    ("port6881-blocked", {
        "middlebox": "iptables on the router drops every TCP packet to or from port 6881 "
                     "(FORWARD -p tcp --dport 6881 -j DROP and --sport 6881 -j DROP)",
        "summary": {"block_bt_app_port": "yes", "block_bt_other_port": "no",
                    "throttle_bt_upload_app_port": "n/a", "throttle_bt_upload_other_port": "no",
                    "throttle_bt_download_app_port": "n/a", "throttle_bt_download_other_port": "no",
                    "blocking_basis": ["port"], "throttling_basis": []},
        "why": "Every connection to port 6881 (BitTorrent and control alike) was dropped at the "
               "router: the client's SYNs never reached the server, so no transfer on the "
               "BitTorrent port was ever possible (blocked, by port: BitTorrent on the neutral "
               "port worked); with nothing completed there the port-6881 throttle cells are "
               "n/a; on the neutral port BitTorrent and control ran alike.",
    }),
    ("bt-throttled", {
        "middlebox": "iptables string match on \"BitTorrent protocol\" marks the connection "
                     "(CONNMARK), and an htb class on both of the router's egress interfaces "
                     "limits marked connections to a fifth of the sender's rate",
        "summary": {"block_bt_app_port": "no", "block_bt_other_port": "no",
                    "throttle_bt_upload_app_port": "yes", "throttle_bt_upload_other_port": "yes",
                    "throttle_bt_download_app_port": "yes", "throttle_bt_download_other_port": "yes",
                    "blocking_basis": [], "throttling_basis": ["protocol"]},
        "why": "Every BitTorrent transfer, on both ports and in both directions, was slowed to "
               "about a fifth of its control twin's rate by payload match; no connection was "
               "reset or refused; the control flows ran at the sender's rate.",
    }),
    ("upload-throttled", {
        "middlebox": "as bt-throttled, but the htb limit sits only on the router's interface "
                     "towards the server: only the client-to-server direction (uploads) of "
                     "marked connections is slowed",
        "summary": {"block_bt_app_port": "no", "block_bt_other_port": "no",
                    "throttle_bt_upload_app_port": "yes", "throttle_bt_upload_other_port": "yes",
                    "throttle_bt_download_app_port": "no", "throttle_bt_download_other_port": "no",
                    "blocking_basis": [], "throttling_basis": ["direction", "protocol"]},
        "why": "BitTorrent uploads on both ports were slowed to about a fifth of the control "
               "flows' rate; BitTorrent downloads and every control flow ran at the sender's "
               "rate; nothing was reset.",
    }),
    ("sandvine", {
        "middlebox": "rst_injector.py sandvine (via glasnost_test.py inject --repeat 2): after a "
                     "BitTorrent handshake and bitfield, a forged RST+ACK to each end",
        "summary": {"block_bt_app_port": "yes", "block_bt_other_port": "yes",
                    "throttle_bt_upload_app_port": "n/a", "throttle_bt_upload_other_port": "n/a",
                    "throttle_bt_download_app_port": "n/a", "throttle_bt_download_other_port": "n/a",
                    "blocking_basis": ["protocol"], "throttling_basis": []},
        "why": "Every BitTorrent transfer, on both ports and in both directions, was reset by "
               "forged RSTs right after the bitfield exchange, before any piece data; every "
               "control flow (same sizes and timing, random bytes) ran to completion: blocking "
               "by protocol, whatever the port. No BitTorrent transfer completed, so no "
               "throttling comparison is possible (n/a).",
    }),
    ("port6881-rst", {
        "middlebox": "rst_injector.py port6881 (via glasnost_test.py inject --repeat 2): on the "
                     "first data segment of any connection to port 6881, a forged RST to each end",
        "summary": {"block_bt_app_port": "yes", "block_bt_other_port": "no",
                    "throttle_bt_upload_app_port": "n/a", "throttle_bt_upload_other_port": "no",
                    "throttle_bt_download_app_port": "n/a", "throttle_bt_download_other_port": "no",
                    "blocking_basis": ["port"], "throttling_basis": []},
        "why": "Every transfer on port 6881, BitTorrent and control alike, was reset by forged "
               "RSTs at its first data segment; every transfer on the neutral port ran to "
               "completion: blocking by port. Nothing completed on port 6881 (n/a there); on "
               "the neutral port BitTorrent and control ran alike.",
    }),
])

# ------------------------------------------------------------------------------ captures

def conn_packets(pkts, cport, sport):
    return [p for p in pkts if (p.src == CLIENT and p.sport == cport and p.dport == sport)
            or (p.dst == CLIENT and p.dport == cport and p.sport == sport)]


def half(pkts, from_client):
    """One direction of a connection: SYN count, bytes of stream, data phase (past the seeder's
    set-up) start, end and bytes."""
    mine = [p for p in pkts if (p.src == CLIENT) == from_client]
    isn = next((p.seq for p in mine if p.flags & 0x02), None)
    if isn is None:
        isn = next(((p.seq - 1) & 0xFFFFFFFF for p in mine if p.plen), None)
    end, first, last = 0, None, None
    for p in mine:
        if not p.plen or isn is None or p.flags & 0x04:
            continue
        rel_end = (p.seq + p.plen - isn - 1) & 0xFFFFFFFF
        if rel_end > end:
            end = rel_end
            if end > SETUP:
                first = first if first is not None else p.ts
                last = p.ts
    return {"syns": sum(1 for p in mine if p.flags & 0x02 and not p.flags & 0x10),
            "synacks": sum(1 for p in mine if p.flags & 0x12 == 0x12),
            "bytes": end, "data_bytes": max(0, end - SETUP), "first": first, "last": last,
            "fins": sum(1 for p in mine if p.flags & 0x01)}


def rsts(pkts):
    return [{"ts": p.ts, "from": "client" if p.src == CLIENT else "server",
             "flags": "RA" if p.flags & 0x10 else "R", "seq": p.seq, "ack": p.ack,
             "ttl": p.ttl, "ip_id": p.ipid, "win": p.win}
            for p in pkts if p.flags & 0x04]


# ------------------------------------------------------------------------------ verify

def verify(a):
    sc = SCENARIOS[a.scenario]
    srv = json.load(open(a.server_summary))
    cli = json.load(open(a.client_summary))
    spk = read_pcap(a.server_pcap)
    cpk = read_pcap(a.client_pcap)
    rate, duration = cli["rate"], cli["duration"]
    nominal = rate * duration
    problems, transfers = [], []
    if len(srv["transfers"]) != len(cli["transfers"]):
        problems.append("the server ran %d transfers, the client %d"
                        % (len(srv["transfers"]), len(cli["transfers"])))
    reps = cli["reps"]
    if len(cli["transfers"]) != 8 * reps:
        problems.append("%d transfers, not 8 x %d" % (len(cli["transfers"]), reps))
    for i, (c, s) in enumerate(zip(cli["transfers"], srv["transfers"])):
        port, cport = c["port"], c["client_port"]
        at_server = conn_packets(spk, cport, port)
        at_client = conn_packets(cpk, cport, port)
        upload = c["direction"] == "upload"
        seed = half(at_server, from_client=upload)
        syn_c = half(at_client, from_client=True)
        synack_c = half(at_client, from_client=False)
        r_srv = rsts(at_server)
        r_cli = rsts(at_client)
        forged_at_server = [r for r in r_srv if r["from"] == "client"
                            and r["ttl"] == a.forged_ttl_server]
        forged_at_client = [r for r in r_cli if r["from"] == "server"
                            and r["ttl"] == a.forged_ttl_client]
        # Every packet that crossed the path (the far end's, RSTs included unless forged)
        # carries the path's TTL.
        odd = [p.ttl for p in at_server if p.src == CLIENT and p.ttl != a.real_ttl
               and not (p.flags & 0x04 and p.ttl == a.forged_ttl_server)]
        odd += [p.ttl for p in at_client if p.src == SERVER and p.ttl != a.real_ttl
                and not (p.flags & 0x04 and p.ttl == a.forged_ttl_client)]
        if odd:
            problems.append("transfer %d: packets with TTL %s, neither the path's %d nor a "
                            "forgery's" % (i, sorted(set(odd)), a.real_ttl))
        genuine_client = [r for r in r_cli if r["from"] == "client"]
        genuine_server = [r for r in r_srv if r["from"] == "server"]
        span = (seed["last"] - seed["first"]) if seed["first"] is not None and seed["last"] else 0
        # Goodput as the server's capture shows it (what bttrace measures: after the middlebox
        # for uploads, before it for downloads) and as the receiver got it (after the middlebox
        # either way: what the middlebox let through).
        bps_server = seed["data_bytes"] * 8 / span if span > 0 else None
        got = half(at_server, from_client=True) if upload else half(at_client, from_client=False)
        rspan = (got["last"] - got["first"]) if got["first"] is not None and got["last"] else 0
        bps = got["data_bytes"] * 8 / rspan if rspan > 0 else None
        t = {"n": i, "kind": c["kind"], "direction": c["direction"], "port": port,
             "port_class": "app" if port == APP_PORT else "other", "client_port": cport,
             "packets_at_server": len(at_server), "syns_sent_by_client": syn_c["syns"],
             "synack_at_client": synack_c["synacks"] > 0,
             "connected": c["connected"], "client_end": c.get("end"),
             "client_error": c.get("error"), "server_end": s.get("end"),
             "server_error": s.get("error"),
             "seeder_data_bytes": seed["data_bytes"],
             "data_seconds": round(span, 3) if span else None,
             "goodput_bps": round(bps_server) if bps_server else None,
             "receiver_goodput_bps": round(bps) if bps else None,
             "rate_vs_sender": round(bps / (rate * 8), 3) if bps else None,
             "rsts_at_server": len(r_srv), "forged_at_server": len(forged_at_server),
             "forged_at_client": len(forged_at_client),
             "rsts_sent_by_client": len(genuine_client),
             "rsts_sent_by_server": len(genuine_server),
             "log_resets_received": s.get("resets_received"),
             "log_resets_sent": s.get("resets_sent"),
             "log_bytes": (s.get("received") if upload else s.get("sent")),
             "did": None}
        transfers.append(t)
        # What the capture says the log must say.
        cap_recv = sum(1 for r in r_srv if r["from"] == "client")
        cap_sent = sum(1 for r in r_srv if r["from"] == "server")
        if (s.get("resets_received"), s.get("resets_sent")) != (cap_recv, cap_sent):
            problems.append("transfer %d: the server's log counts %s resets received and %s sent, "
                            "its capture %d and %d" % (i, s.get("resets_received"),
                                                       s.get("resets_sent"), cap_recv, cap_sent))
        want = expectation(a.scenario, c["kind"], c["direction"], port)
        # Complete: connected, no error at either end, no RST anywhere, and the seeder's data
        # phase ran (nearly) its whole duration, whatever the rate.
        complete = (c["connected"] and not c.get("error") and not s.get("error")
                    and not r_srv and not r_cli and span >= 0.8 * duration)
        if want == "full":
            if complete and seed["data_bytes"] >= 0.8 * nominal and bps and bps >= 0.8 * rate * 8:
                t["did"] = "untouched: full transfer at the sender's rate"
            else:
                problems.append("transfer %d (%s %s port %d) should have run untouched: %s"
                                % (i, c["kind"], c["direction"], port, brief(t)))
        elif want == "throttled":
            if complete and bps and bps <= 0.35 * rate * 8:
                t["did"] = "throttled to %.0f%% of the sender's rate" % (100 * bps / (rate * 8))
            else:
                problems.append("transfer %d (%s %s port %d) should have been throttled: %s"
                                % (i, c["kind"], c["direction"], port, brief(t)))
        elif want == "dropped":
            if (not c["connected"] and not at_server and syn_c["syns"] >= 2
                    and synack_c["synacks"] == 0):
                t["did"] = "dropped: %d SYNs from the client, none reached the server" % syn_c["syns"]
            else:
                problems.append("transfer %d (%s %s port %d) should have been dropped: %s"
                                % (i, c["kind"], c["direction"], port, brief(t)))
        elif want == "reset":
            died = bool(c.get("error")) and bool(s.get("error"))     # both ends saw it die
            if (c["connected"] and forged_at_server and died
                    and seed["data_bytes"] <= 0.05 * nominal):
                t["did"] = ("reset: %d forged RST(s) reached the server, %d the client; %d genuine "
                            "RST(s) from the server, %d from the client; %d piece bytes moved"
                            % (len(forged_at_server), len(forged_at_client), len(genuine_server),
                               len(genuine_client), seed["data_bytes"]))
            else:
                problems.append("transfer %d (%s %s port %d) should have been reset: %s"
                                % (i, c["kind"], c["direction"], port, brief(t)))
    # Anything else at the router: forged RSTs only where intended, drops only on 6881.
    inj = injector_lines(a.injector_log) if a.injector_log else []
    forged_total = sum(t["forged_at_server"] + t["forged_at_client"] for t in transfers)
    other_forged = [t["n"] for t in transfers if t["forged_at_server"] + t["forged_at_client"]
                    and t["did"] is not None and not t["did"].startswith("reset")]
    if other_forged:
        problems.append("forged RSTs in transfers that should be untouched: %s" % other_forged)
    router = open(a.router).read() if a.router else ""
    if a.scenario == "port6881-blocked":
        drops = [int(m.group(1)) for m in re.finditer(r"^\s*(\d+)\s+\d+\s+DROP", router, re.M)]
        if not drops or sum(drops) == 0:
            problems.append("the router's DROP rules counted nothing: %s" % drops)
    if a.scenario in ("bt-throttled", "upload-throttled"):
        if "class htb 1:10" not in router:
            problems.append("no htb class 1:10 in the router's stats")
    truth = {"scenario": a.scenario, "generation": srv["gen"], "stem": srv["stem"],
             "middlebox": sc["middlebox"], "sender_rate_Bps": rate, "duration_s": duration,
             "reps": reps, "neutral_port": cli["neutral_port"], "path_ttl": a.real_ttl,
             "forged_ttl_at_server": a.forged_ttl_server,
             "forged_ttl_at_client": a.forged_ttl_client,
             "injector_forged": len(inj), "forged_rsts_in_captures": forged_total,
             "transfers": transfers, "problems": problems}
    with open(a.truth, "w") as f:
        json.dump(truth, f, indent=1)
    outcome = {"full": "completed", "throttled": "completed", "dropped": "no_connection",
               "reset": "reset"}
    tests = []
    for t in transfers:
        want = expectation(a.scenario, t["kind"], t["direction"], t["port"])
        e = {"kind": "bittorrent" if t["kind"] == "bt" else "control",
             "direction": t["direction"], "port": t["port"], "port_class": t["port_class"],
             "outcome": outcome[want], "forged_rsts": t["forged_at_server"]}
        if t["forged_at_server"]:
            # What bttrace must call them from the server's capture alone: forged, when the
            # TTL departure comes with the BitTorrent timing and the surviving control flows;
            # a reply-shaped RST on a random-payload flow whose only tell is the TTL is one
            # sign, and bttrace's rule leans to inconclusive there (never endpoint).
            e["rst_verdict"] = "forged" if t["kind"] == "bt" else "inconclusive_or_forged"
        tests.append(e)
    exp = {"scenario": a.scenario, "capture": srv["stem"] + ".dump", "log": srv["stem"] + ".log",
           "generation": srv["gen"], "middlebox": sc["middlebox"],
           "summary": sc["summary"], "why": sc["why"], "tests": tests,
           "note": "The six cells and blocking_basis are the ground truth bttrace must give; "
                   "throttling_basis is what bttrace's own rules should derive from it. tests: "
                   "every transfer in the schedule's order, with its outcome and the forged RSTs "
                   "the server's capture holds (rst_verdict: what bttrace must judge them)."}
    with open(a.expected, "w") as f:
        json.dump(exp, f, indent=1)
    if problems:
        for p in problems:
            print("verify %s: %s" % (a.scenario, p), file=sys.stderr)
        return 1
    print("verify %s: OK (%d transfers as intended; %d forged RSTs in the captures, %d logged by "
          "the injector)" % (a.scenario, len(transfers), forged_total, len(inj)), file=sys.stderr)
    return 0


def brief(t):
    keys = ("connected", "client_end", "server_end", "seeder_data_bytes", "goodput_bps",
            "receiver_goodput_bps",
            "rsts_at_server", "forged_at_server", "packets_at_server", "syns_sent_by_client")
    return ", ".join("%s=%s" % (k, t[k]) for k in keys)


def expectation(scenario, kind, direction, port):
    """What the middlebox must do to one transfer: full, throttled, dropped or reset."""
    app = port == APP_PORT
    if scenario == "port6881-blocked":
        return "dropped" if app else "full"
    if scenario == "bt-throttled":
        return "throttled" if kind == "bt" else "full"
    if scenario == "upload-throttled":
        return "throttled" if kind == "bt" and direction == "upload" else "full"
    if scenario == "sandvine":
        return "reset" if kind == "bt" else "full"
    if scenario == "port6881-rst":
        return "reset" if app else "full"
    return "full"


def injector_lines(path):
    try:
        return [l for l in open(path) if l.strip() and not l.startswith("#")]
    except OSError:
        return []


# ------------------------------------------------------------------------------ readme

def run_bttrace(binary, capture):
    j = subprocess.run([binary, "analyze", "--format", "json", capture], capture_output=True,
                       text=True)
    txt = subprocess.run([binary, "analyze", capture], capture_output=True, text=True)
    data = json.loads(j.stdout) if j.stdout.strip() else None
    return data, j.returncode, txt.stdout, j.stderr + txt.stderr


def fmt_bps(v):
    if v is None:
        return "-"
    return "%.0f kbit/s" % (v / 1000)


def readme(a):
    out = []
    results = []
    binary = a.bttrace if a.bttrace and os.access(a.bttrace, os.X_OK) else None
    version = None
    if binary:
        version = subprocess.run([binary, "--version"], capture_output=True,
                                 text=True).stdout.strip()
    missing = 0
    for name in SCENARIOS:
        d = os.path.join(a.dir, name)
        try:
            exp = json.load(open(os.path.join(d, "expected.json")))
            truth = json.load(open(os.path.join(d, "truth.json")))
        except OSError:
            print("readme: %s: no expected.json/truth.json" % name, file=sys.stderr)
            missing += 1
            continue
        cap = os.path.join(d, exp["capture"])
        if not os.path.exists(cap):
            print("readme: %s missing" % cap, file=sys.stderr)
            missing += 1
            continue
        r = {"name": name, "exp": exp, "truth": truth, "capture": cap,
             "size": os.path.getsize(cap),
             "log_size": os.path.getsize(os.path.join(d, exp["log"]))}
        if binary:
            data, rc, text, err = run_bttrace(binary, cap)
            r.update(rc=rc, text=text, err=err)
            if data:
                c = data["captures"][0]
                r["json"] = c
                got = c.get("summary")
                r["got"] = got
                r["mismatch"] = compare(exp["summary"], got)
            with open(os.path.join(d, "bttrace.txt"), "w") as f:
                f.write(text)
        results.append(r)
    w = out.append
    w("# Glasnost tests through a middlebox: captures, logs and the summary row they must give")
    w("")
    t0 = results[0]["truth"] if results else {}
    dur, rate = t0.get("duration_s", 2), t0.get("sender_rate_Bps", 25000)
    took = ("%d minutes" % max(1, round(a.took / 60))) if a.took else "a few minutes"
    w("Made by `scripts/make-glasnost-tests.sh` (run as root; this run took %s), which runs one "
      "Glasnost-style test per scenario between two network namespaces with a third one as the "
      "ISP's router, checks that the router did what the scenario says (and reruns the scenario "
      "when it did not), and calls `scripts/glasnost_truth.py` to write `truth.json`, "
      "`expected.json` and this file. Written %s." % (
          took,
          datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    w("")
    w("Every run replaces the files. Timestamps (and so the file names), ports, sequence numbers "
      "and the races between the injector and the endpoints change from run to run; the "
      "scenarios' ground truth and the expected summary rows do not.")
    w("")
    w("## Layout")
    w("")
    w("One directory per scenario, each with:")
    w("")
    w("- `glasnost_<clientip>_<host>_<unixts>.dump` (2010+ replayer) or "
      "`bt_<clientip>_<host>_<unixts>.dump` (the 2009 BitTorrent test): the server-side "
      "capture in Glasnost's form: link type RAW IP (101), microsecond pcap, file snaplen 4096, "
      "IP + TCP headers + the first 200 payload bytes of every packet, the command channel "
      "(TCP 19970) whole, record length = IP length (`scripts/to_glasnost_form.py --host "
      "198.51.100.1 --command-port 19970`, from a full tcpdump capture on the server's interface);")
    w("- the server's `.log` beside it (same stem), in the generation's format, written by the "
      "emulated server itself (`scripts/glasnost_test.py server`) with the run's real numbers: "
      "bytes, durations, bps, and the resets received (IP source = the client) and sent, "
      "counted by the server's own packet sniffer per connection, as Glasnost's server did;")
    w("- `expected.json`: the summary row bttrace must give (the six cells and "
      "`blocking_basis`; `throttling_basis` as bttrace's rules should derive it), with `why`;")
    w("- `truth.json`: per transfer what the middlebox did, measured in the full captures at "
      "both ends (SYNs, RSTs with their TTL, seeder's data-phase bytes and goodput);")
    w("- `injector.log` (sandvine, port6881-rst): every forged packet, from "
      "`scripts/rst_injector.py`'s log;")
    w("- `bttrace.txt`: bttrace's text report on the capture, when this file was written.")
    w("")
    w("## How the tests were run")
    w("")
    w("```")
    w("btgl-cli                     btgl-rtr (IP forwarding; the ISP's middlebox)   btgl-srv")
    w("c0 198.51.100.1/24 ---- rc 198.51.100.254/24")
    w("                        rs 203.0.113.254/24 ---- s0 203.0.113.1/24")
    w("```")
    w("")
    w("`scripts/netns-topology.sh` (offloads off). The router namespace is the ISP's middlebox "
      "and stands for the path as well: it decrements the TTL of every packet it forwards as "
      "the %d routers between the client and the server would (the far end's packets arrive "
      "with TTL %d), the box being one of them, so that what it forges arrives with TTL %d "
      "at the server and %d at the client. In `btgl-srv` runs" % (
          64 - t0.get("path_ttl", 52), t0.get("path_ttl", 52), t0.get("forged_ttl_at_server", 55),
          t0.get("forged_ttl_at_client", 62)) + " `glasnost_test.py server` (command channel on TCP "
      "19970; one listening socket per transfer; an AF_PACKET sniffer on s0 counting RSTs) and "
      "tcpdump on s0 (`-s 0`, filter `host 198.51.100.1`); in `btgl-cli` runs "
      "`glasnost_test.py client` and, for the ground truth only, tcpdump on c0.")
    w("")
    w("The test (DOMAIN.md, sections 2 and 3): the client opens the command channel and sends one "
      "command per transfer, 2010+: `replay bt as client on port 6881 for %d seconds.` / `replay "
      "bt as server on port N for %d seconds as a control flow.` (as client = the user uploads), "
      "answered `port N ok`; 2009: `bt downstream port 6881 duration %d` / `tcp upstream port 4711 "
      "duration %d` (downstream = the user uploads; the duration is the server's own, the "
      "receiver running 1 s longer, as in the study's log), answered `ok`, each followed by the "
      "client's own measurement (`log Transferred ...`, logged as `Client: Transferred ...`). "
      "Each transfer then runs on its own connection from the client to the server's test port: "
      "the BitTorrent emulation of `scripts/btpeer.py` (handshake, bitfield, interested, "
      "unchoke, request, then one piece message of 12,500,013 B for 2010+ or 262,157 B for "
      "2009, cut off after the duration) or its random-payload control twin. Order: all "
      "uploads, then all downloads; within each, port 6881 then the neutral port; BitTorrent "
      "and control alternating, BitTorrent first; r repetitions; 0.5 s pauses. The seeder "
      "sends for %d s at {:,} B/s in MSS-sized writes (about %d intervals of 100 ms per "
      "transfer), then closes with a FIN; the downloader reads until that FIN. The 2010+ "
      "neutral port is a random high port the client names and the server confirms with "
      "`port N ok`; the 2009 one is 4711.".format(rate) % (
          dur, dur, dur + 1, dur, dur, dur * 10 - 2))
    w("")
    w("Ground truth: `glasnost_truth.py verify` checks each transfer against what the scenario's "
      "middlebox must have done to it, in the full captures at both ends: *untouched* (full "
      "duration, >= 80% of the sender's rate, no RST anywhere), *throttled* (complete: the "
      "seeder's data phase ran its duration, no RST anywhere; <= 35% of the sender's rate), *dropped* (at least two SYNs leave the client, no SYN-ACK "
      "comes back, not one packet reaches the server) or *reset* (a forged RST, recognised by "
      "its TTL 55 where the client's own packets arrive with 52, reaches the server; "
      "both ends see the connection die; no piece data moved). It also checks that the "
      "server's log counts exactly the RSTs the capture holds, per connection. A run that fails "
      "any check is rerun (up to 4 times).")
    w("")
    w("## Scenarios")
    w("")
    w("| scenario | generation, r | capture | size | log | transfers | what the middlebox did |")
    w("|---|---|---|---|---|---|---|")
    for r in results:
        t = r["truth"]
        w("| %s | %s, r = %d | `%s/%s` | %d B | %d B | %d | %s |" % (
            r["name"], "2009 (bt_)" if t["generation"] == "bt2009" else "2010+ (glasnost_)",
            t["reps"], r["name"], r["exp"]["capture"], r["size"], r["log_size"],
            len(t["transfers"]), did_summary(t)))
    w("")
    for r in results:
        t = r["truth"]
        w("### %s" % r["name"])
        w("")
        w("Middlebox: %s." % t["middlebox"])
        w("")
        w("Neutral port %d; %d forged RSTs in the two full captures; %d lines in the injector's "
          "log." % (t["neutral_port"], t["forged_rsts_in_captures"], t["injector_forged"]))
        w("")
        w("| # | kind | direction | port | what happened (full captures) | seeder's data bytes | goodput at the server / receiver | RSTs at server (forged) | log: resets received / sent |")
        w("|---|---|---|---|---|---|---|---|---|")
        for x in t["transfers"]:
            w("| %d | %s | %s | %d | %s | %d | %s / %s | %d (%d) | %s / %s |" % (
                x["n"], x["kind"], x["direction"], x["port"], x["did"], x["seeder_data_bytes"],
                fmt_bps(x["goodput_bps"]), fmt_bps(x.get("receiver_goodput_bps")),
                x["rsts_at_server"], x["forged_at_server"],
                x["log_resets_received"], x["log_resets_sent"]))
        w("")
        w("Expected (`expected.json`): %s" % cells_text(r["exp"]["summary"]))
        w("")
        w("Why: %s" % r["exp"]["why"])
        w("")
    w("## bttrace against the expected summary rows")
    w("")
    if not binary:
        w("bttrace was not built when this file was written (`cargo build --release`, then "
          "`python3 scripts/glasnost_truth.py readme --dir fixtures/glasnost "
          "--bttrace target/release/bttrace`).")
    else:
        w("`%s`; `bttrace analyze --format json <capture>` (it reads the `.log` beside the capture "
          "itself), its `summary` row against `expected.json`; `tests/glasnost_generated.rs` checks "
          "the same through the library, with every transfer and every forged RST." % version)
        w("")
        w("| scenario | expected | bttrace | result |")
        w("|---|---|---|---|")
        for r in results:
            got = r.get("got")
            res = "**no Glasnost report**" if got is None else (
                "match" if not r["mismatch"] else "**mismatch**: " + "; ".join(
                    "%s expected %s, got %s" % m for m in r["mismatch"]))
            w("| %s | %s | %s | %s |" % (r["name"], cells_text(r["exp"]["summary"], short=True),
                                        cells_text(got, short=True) if got else "-", res))
        w("")
        for r in results:
            if not r.get("mismatch") and r.get("got") is not None:
                continue
            w("### Evidence: %s" % r["name"])
            w("")
            w(evidence(r))
            w("")
    text = "\n".join(out) + "\n"
    with open(a.readme or os.path.join(a.dir, "README.md"), "w") as f:
        f.write(text)
    for r in results:
        state = "no bttrace" if not binary else (
            "NO GLASNOST REPORT" if r.get("got") is None else
            ("match" if not r["mismatch"] else "MISMATCH " + "; ".join(
                "%s expected %s, got %s" % m for m in r["mismatch"])))
        print("%-18s %-60s %7d B  %s" % (r["name"], r["exp"]["capture"], r["size"], state))
    return 2 if missing else 0


def did_summary(t):
    c = collections.Counter()
    for x in t["transfers"]:
        what = (x["did"] or "?").split(":")[0]
        c[(what, x["kind"], x["port_class"])] += 1
    parts = []
    for (what, kind, pc), n in sorted(c.items()):
        parts.append("%d %s %s on the %s port" % (n, kind if kind == "control" else "BitTorrent",
                                                 what, "6881" if pc == "app" else "neutral"))
    return "; ".join(parts)


def compare(exp, got):
    if got is None:
        return [("summary", "a row", "none")]
    mism = []
    for k in CELLS:
        if exp.get(k) != got.get(k):
            mism.append((k, exp.get(k), got.get(k)))
    for k in ("blocking_basis", "throttling_basis"):
        if sorted(exp.get(k, [])) != sorted(got.get(k, [])):
            mism.append((k, exp.get(k), got.get(k)))
    return mism


def cells_text(s, short=False):
    if s is None:
        return "-"
    names = {"block_bt_app_port": "block 6881", "block_bt_other_port": "block other",
             "throttle_bt_upload_app_port": "up 6881", "throttle_bt_upload_other_port": "up other",
             "throttle_bt_download_app_port": "down 6881",
             "throttle_bt_download_other_port": "down other"}
    parts = ["%s %s" % (names[k] if short else k, s.get(k)) for k in CELLS]
    parts.append("blocking %s" % (s.get("blocking_basis") or "[]"))
    parts.append("throttling %s" % (s.get("throttling_basis") or "[]"))
    return ", ".join(parts)


def evidence(r):
    """The tests, their outcomes and goodputs, and the verdicts' details, for a mismatch."""
    lines = []
    c = r.get("json")
    if c is None:
        return "bttrace gave no JSON (exit %s): %s" % (r.get("rc"), r.get("err", "")[:500])
    g = c.get("glasnost")
    if g is None:
        return "bttrace did not take the capture as a Glasnost test."
    lines.append("bttrace: schedule from `%s`, app port %s, other port %s, notes: %s" % (
        g.get("schedule_from"), g.get("app_port"), g.get("other_port"),
        "; ".join(g.get("notes") or []) or "none"))
    lines.append("")
    lines.append("| # | kind | dir | port | rep | outcome | goodput | data bytes | intervals | signal | guessed | log disagrees |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for i, t in enumerate(c.get("tests", [])):
        lines.append("| %d | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s |" % (
            i, t["kind"], t["direction"], t["port"], t["repetition"], t["outcome"],
            fmt_bps(t["goodput_bps"]), t["data_bytes"], len(t["series"]["bps"]),
            t["blocking_signal"], "; ".join(t["guessed"]) or "", "; ".join(t["log_disagrees"])))
    lines.append("")
    s = g["verdicts"]["summary"]
    lines.append("bttrace's reasons, cell by cell:")
    lines.append("")
    for k, why in zip(CELLS, s.get("why", [])):
        lines.append("- `%s` = %s: %s" % (k, s.get(k), why))
    lines.append("")
    lines.append("Throttling verdicts (`glasnost.verdicts.throttling`):")
    lines.append("")
    for th in g["verdicts"]["throttling"]:
        st, gl, sa = th["study"], th["glasnost"], th["statistical"]
        lines.append("- %s %s: cell %s (%s); study limited %s (stated %s, rows %s); Glasnost %s "
                     "(%s); statistical %s (%s)" % (
                         th["dir"], th["port_class"], th["cell"], th["why"], st["limited"],
                         st["stated"], st["rows_majority"], gl["verdict"], gl["why"],
                         sa["verdict"], sa["why"]))
        if th.get("study_ports"):
            sp, gp, tp = th["study_ports"], th["glasnost_ports"], th["statistical_ports"]
            lines.append("  - control on 6881 against the neutral port: study limited %s; "
                         "Glasnost %s (%s); statistical %s (%s)" % (
                             sp["limited"], gp["verdict"], gp["why"], tp["verdict"], tp["why"]))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--scenario", choices=list(SCENARIOS), required=True)
    v.add_argument("--server-pcap", required=True)
    v.add_argument("--client-pcap", required=True)
    v.add_argument("--server-summary", required=True)
    v.add_argument("--client-summary", required=True)
    v.add_argument("--injector-log")
    v.add_argument("--router")
    v.add_argument("--truth", required=True)
    v.add_argument("--expected", required=True)
    v.add_argument("--real-ttl", type=int, default=52,
                   help="TTL of the packets that crossed the path, at either end")
    v.add_argument("--forged-ttl-server", type=int, default=55,
                   help="TTL of the middlebox's packets at the server")
    v.add_argument("--forged-ttl-client", type=int, default=62,
                   help="TTL of the middlebox's packets at the client")
    r = sub.add_parser("readme")
    r.add_argument("--dir", required=True)
    r.add_argument("--bttrace")
    r.add_argument("--readme")
    r.add_argument("--took", type=float, help="seconds the whole run took (for the text)")
    a = ap.parse_args(argv)
    return verify(a) if a.cmd == "verify" else readme(a)


if __name__ == "__main__":
    sys.exit(main())
