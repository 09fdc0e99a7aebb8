#!/usr/bin/env python3
"""glasnost_test: a Glasnost-style BitTorrent test, server and client, for making fixtures.

It plays what a Glasnost server and its client did (shared/DOMAIN.md, sections 2 and 3), with
scripts/btpeer.py's message builders, so that a capture taken at the server has Glasnost's
anatomy and the server writes Glasnost's log beside it:

  * a command channel, TCP port 19970, from the client to the server, one command per transfer:
      2010+ ("replayer"):  replay bt as client on port 6881 for 3 seconds.
                           replay bt as server on port 41234 for 3 seconds as a control flow.
                           (as client = the user uploads), answered `port N ok`;
      2009 ("bt2009"):     bt downstream port 6881 duration 4      (downstream = the user uploads)
                           tcp upstream port 4711 duration 3       (tcp = the control flow)
                           answered `ok`;
    after each 2009 transfer the client reports its own measurement (`log Transferred N bytes
    in T seconds: X`, logged by the server as `Client: Transferred ...`, as in the study's
    Appendix A); a 2010+ client reports exceptions (`log Exception: ...`) and at the end its
    summary (`log http expu0=...`); then `shutdown`;
  * each transfer on its own connection from the client to the server's test port: the
    BitTorrent emulation (handshake 68 B, bitfield 166 B, interested, unchoke, request, piece)
    or its random-payload control twin with the same sizes and timing. The downloader speaks
    first whichever end opened the connection. The seeder sends piece data for the test's
    duration, rate-limited at the sender in MSS-sized writes, stops mid-piece and closes with a
    FIN; the downloader reads until that FIN (it stops requesting 1 s after the seeder's
    duration, as Glasnost's receiver ran 1 s longer, but never closes on unread data, so a slow
    transfer ends with FINs, not with a genuine RST);
  * the schedule of DOMAIN.md: all uploads, then all downloads; within each the BitTorrent port
    (6881) then the neutral port; on each port BitTorrent and control alternate, BitTorrent
    first, `--reps` times; 0.5 s between transfers. The neutral port is 4711 for 2009; for
    2010+ a random high port the client names and the server confirms with `port N ok`.

The server counts the resets of every transfer as Glasnost's did, from its own packet sniffer
(an AF_PACKET socket on --iface): RSTs whose IP source is the client ("resets received") and
RSTs it sent to the client ("resets sent"), per connection. It writes the log in the format of
the generation (2009: `bt_<ip>_<host>_<ts>.log`; 2010+: `glasnost_<ip>_<host>_<ts>.log`) with
the real numbers of the run, and, with --summary, a JSON summary for scripts.

Subcommands (run the server in the server's network namespace, the client in the client's):
  glasnost_test.py server --gen replayer|bt2009 --iface s0 --host-name H --out-dir DIR
                          [--summary server.json] [--accept-timeout 6]
  glasnost_test.py client --gen replayer|bt2009 --server 203.0.113.1 [--reps 3]
                          [--duration 3] [--rate 25000] [--neutral-port N] [--summary client.json]
  glasnost_test.py inject --mode sandvine|port6881|gfw|none [--repeat 2] ...
      scripts/rst_injector.py, made robust against lost races: after the first forgery of a
      flow it forges again, with the numbers known then, on each of the next --repeat segments
      of that flow that carry payload or a FIN (a flow whose first RSTs lost the race to the
      endpoints' own packets keeps sending, and is reset again). --ttl-to-server N and
      --ttl-to-client N give the forged packets the TTL they arrive with at that end when the
      box sits some routers away from it (the router namespace decrements the real packets'
      TTL to emulate those routers; the forged ones are sent past them).

Python 3.8+, standard library only, Linux (the server's sniffer and the injector need root).
"""

import argparse
import errno
import json
import os
import random
import select
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import btpeer  # noqa: E402
from btpeer import (HANDSHAKE_LEN, BITFIELD_LEN, INTERESTED_LEN, UNCHOKE_LEN,  # noqa: E402
                    REQUEST_LEN, PIECE_HEADER_LEN, PIECE_2009, PIECE_2010)

COMMAND_PORT = 19970
APP_PORT = 6881
NEUTRAL_2009 = 4711
SEEDER_SETUP = HANDSHAKE_LEN + BITFIELD_LEN + UNCHOKE_LEN      # 239
MSS_CHUNK = 1448            # one full segment on a 1500-byte MTU with TCP timestamps
SETUP_TIMEOUT = 5.0         # a set-up message not arriving within this is a failure
PAUSE = 0.5                 # between transfers
ETH_P_ALL = 0x0003           # outgoing frames reach only ETH_P_ALL packet sockets


def now_ms():
    return int(time.time() * 1000)


def java_double(x):
    """A number as Java's Double.toString prints it (the 2009 client was a Java applet)."""
    x = float(x)
    if x == 0:
        return "0.0"
    if 1e-3 <= abs(x) < 1e7:
        s = repr(round(x, 6))
        return s if "." in s or "e" in s else s + ".0"
    m, e = ("%.15e" % x).split("e")
    m = m.rstrip("0")
    if m.endswith("."):
        m += "0"
    return "%sE%d" % (m, int(e))


# ------------------------------------------------------------------------------ schedule

def schedule(gen, reps, neutral):
    """The test's transfers in order: (kind, direction, port)."""
    out = []
    for direction in ("upload", "download"):
        for port in (APP_PORT, neutral):
            for _ in range(reps):
                out.append(("bt", direction, port))
                out.append(("control", direction, port))
    return out


def command_text(gen, kind, direction, port, duration):
    """The command line the client sends (without the newline)."""
    if gen == "replayer":
        return "replay bt as %s on port %d for %d seconds%s." % (
            "client" if direction == "upload" else "server", port, duration,
            " as a control flow" if kind == "control" else "")
    # 2009: "downstream" = the server receives (the user uploads). The duration is the server's
    # own: the receiver runs 1 s longer than the seeder (the study: "bt downstream port 6881
    # duration 11" for a 10 s transfer, "bt upstream port 4711 duration 10").
    return "%s %s port %d duration %d" % (
        "bt" if kind == "bt" else "tcp", "downstream" if direction == "upload" else "upstream",
        port, duration + 1 if direction == "upload" else duration)


def parse_command(line):
    """(gen, kind, direction, port, duration) of a command line, or None."""
    w = line.strip().rstrip(".").split()
    if len(w) >= 9 and w[0] == "replay" and w[2] == "as" and w[4:6] == ["on", "port"]:
        kind = "control" if line.rstrip(".").endswith("as a control flow") else "bt"
        return ("replayer", kind, "upload" if w[3] == "client" else "download", int(w[6]),
                int(w[8]))
    if len(w) == 6 and w[0] in ("bt", "tcp") and w[2] == "port" and w[4] == "duration":
        return ("bt2009", "bt" if w[0] == "bt" else "control",
                "upload" if w[1] == "downstream" else "download", int(w[3]), int(w[5]))
    return None


# ------------------------------------------------------------------------------ one transfer

def session(sock, kind, seeder, piece_size, duration, rate, rng, note=None, think=0.0):
    """Play one end of a transfer on a connected socket; never raises for network errors.

    think: seconds each set-up message (and the first request) waits before it is sent, as if
    the peers were a network round trip apart (the namespaces' links have no delay; without
    it the endpoints answer within microseconds, faster than any middlebox reacts).

    Returns a dict: sent, received (all bytes on the socket), piece_bytes (bytes of piece
    messages moved: sent by a seeder, received by a downloader), pieces (whole ones), steps
    (set-up messages done), t_data (the piece phase's start), t_last (the last piece byte
    moved), t_end, error (text or None), errno, end ("fin", "rst" or "error").
    """
    note = note or (lambda *_: None)
    ctl = kind == "control"
    rand = (lambda n: rng.randbytes(n)) if hasattr(rng, "randbytes") else os.urandom
    block_len = piece_size - PIECE_HEADER_LEN
    st = {"sent": 0, "received": 0, "piece_bytes": 0, "pieces": 0, "steps": 0,
          "t_data": None, "t_last": None, "t_end": None, "error": None, "errno": None,
          "end": "fin"}

    def send(data, what=None):
        if what and think:
            time.sleep(think)
        sock.sendall(data)
        st["sent"] += len(data)
        if what:
            st["steps"] += 1
            note("Sending %s message" % what)

    def expect(n, what):
        note("Waiting for %s message" % what)
        data = btpeer.recv_exact(sock, n)
        st["received"] += len(data)
        if len(data) < n:
            raise EOFError("stream ended while waiting for the %s" % what)
        st["steps"] += 1
        note("Received %s message" % what)
        return data

    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(SETUP_TIMEOUT)
        if not seeder:
            info_hash = rand(20)
            send(rand(HANDSHAKE_LEN) if ctl else btpeer.handshake(info_hash, btpeer.peer_id(rng=rng)),
                 "handshake")
            expect(HANDSHAKE_LEN, "handshake")
            send(rand(BITFIELD_LEN) if ctl else btpeer.bitfield(False), "bitfield")
            expect(BITFIELD_LEN, "bitfield")
            send(rand(INTERESTED_LEN) if ctl else btpeer.interested(), "interested")
            expect(UNCHOKE_LEN, "unchoke")
        else:
            theirs = expect(HANDSHAKE_LEN, "handshake")
            send(rand(HANDSHAKE_LEN) if ctl else
                 btpeer.handshake(theirs[28:48], btpeer.peer_id(rng=rng), reserved=theirs[20:28]),
                 "handshake")
            expect(BITFIELD_LEN, "bitfield")
            send(rand(BITFIELD_LEN) if ctl else btpeer.bitfield(True), "bitfield")
            expect(INTERESTED_LEN, "interested")
            send(rand(UNCHOKE_LEN) if ctl else btpeer.unchoke(), "unchoke")
        st["t_data"] = time.time()
        if seeder:
            _seed(sock, st, ctl, rand, block_len, piece_size, duration, rate, expect)
        else:
            _leech(sock, st, ctl, rand, block_len, piece_size, duration, send)
        # Orderly close: FIN, then read until the peer's FIN (no unread byte, so no RST).
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(1.0)
        limit = time.time() + duration + 15
        scratch = bytearray(65536)
        while time.time() < limit:
            try:
                k = sock.recv_into(scratch)
            except socket.timeout:
                continue
            if k == 0:
                break
            st["received"] += k
    except (OSError, EOFError) as e:
        st["errno"] = getattr(e, "errno", None)
        st["error"] = "%s: %s" % (type(e).__name__, e)
        st["end"] = "rst" if st["errno"] in (errno.ECONNRESET, errno.EPIPE) else "error"
    finally:
        try:
            sock.close()
        except OSError:
            pass
    st["t_end"] = time.time()
    return st


def _seed(sock, st, ctl, rand, block_len, piece_size, duration, rate, expect):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    sock.settimeout(10.0)
    block = rand(1 << 16)
    start = st["t_data"]
    deadline = start + duration
    pacer = btpeer.Pacer(rate)
    index = 0
    while time.time() < deadline:
        req = expect(REQUEST_LEN, "request")
        if not ctl:
            index = struct.unpack(">I", req[5:9])[0]
        head = rand(PIECE_HEADER_LEN) if ctl else btpeer.piece_header(index, 0, block_len)
        left = piece_size               # bytes of this piece message still to send
        while left and time.time() < deadline:
            n = min(left, MSS_CHUNK)
            off = (piece_size - left) % (len(block) - MSS_CHUNK)
            data = block[off:off + n]
            if head:
                data = head + data[PIECE_HEADER_LEN:]
                head = b""
            sock.sendall(data)
            st["sent"] += n
            st["piece_bytes"] += n
            st["t_last"] = time.time()
            left -= n
            pacer.wait(n)
        if left:
            break                       # stopped mid-piece, as the 2010+ replayer did
        st["pieces"] += 1


def _leech(sock, st, ctl, rand, block_len, piece_size, duration, send):
    start = st["t_data"]
    deadline = start + duration + 1.0   # the receiver runs 1 s longer
    hard = start + duration + 20.0
    sock.settimeout(0.5)
    scratch = bytearray(1 << 16)
    index, in_piece = 0, 0
    send(rand(REQUEST_LEN) if ctl else btpeer.request(index, 0, block_len), "request")
    while True:
        try:
            k = sock.recv_into(scratch)
        except socket.timeout:
            if time.time() > hard:
                raise TimeoutError("no end of the piece data %.0f s after the start" % (hard - start))
            continue
        if k == 0:
            break                       # the seeder's FIN
        st["received"] += k
        st["piece_bytes"] += k
        st["t_last"] = time.time()
        in_piece += k
        while in_piece >= piece_size:
            in_piece -= piece_size
            st["pieces"] += 1
            index += 1
            if time.time() < deadline:
                send(rand(REQUEST_LEN) if ctl else btpeer.request(index, 0, block_len))


# ------------------------------------------------------------------------------ the server

class RstCounter:
    """Glasnost's reset counting: a sniffer on the server's interface counts, per connection,
    the RSTs whose IP source is the client and those the server sent to the client."""

    def __init__(self, iface, client_ip):
        self.client = socket.inet_aton(client_ip)
        self.received, self.sent = {}, {}
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((iface, 0))
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if not r:
                continue
            while True:
                try:
                    frame, _addr = self.sock.recvfrom(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                self.frame(frame)

    def frame(self, frame):
        if frame[12:14] != b"\x08\x00":
            return
        ip = frame[14:]
        if len(ip) < 40 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_TCP:
            return
        ihl = (ip[0] & 0x0F) * 4
        if len(ip) < ihl + 14 or not ip[ihl + 13] & 0x04:
            return
        sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
        with self.lock:
            if ip[12:16] == self.client:
                self.received[(sport, dport)] = self.received.get((sport, dport), 0) + 1
            elif ip[16:20] == self.client:
                self.sent[(dport, sport)] = self.sent.get((dport, sport), 0) + 1

    def counts(self, client_port, server_port):
        with self.lock:
            k = (client_port, server_port)
            return self.received.get(k, 0), self.sent.get(k, 0)

    def stop(self):
        self.running = False
        self.thread.join(1)


class Log:
    def __init__(self, path):
        self.f = open(path, "w")

    def __call__(self, text, stamp=True):
        self.f.write(("%d %s\n" % (now_ms(), text)) if stamp else text + "\n")
        self.f.flush()


def server_main(a):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((a.listen, COMMAND_PORT))
    lsock.listen(1)
    lsock.settimeout(a.wait_client)
    cs, (peer_ip, peer_port) = lsock.accept()
    lsock.close()
    started = int(time.time())
    prefix = "glasnost" if a.gen == "replayer" else "bt"
    stem = "%s_%s_%s_%d" % (prefix, peer_ip, a.host_name, started)
    os.makedirs(a.out_dir, exist_ok=True)
    log = Log(os.path.join(a.out_dir, stem + ".log"))
    counter = RstCounter(a.iface, peer_ip)
    rng = random.Random(a.seed)
    if a.gen == "replayer":
        log("Starting Glasnost replayer server (bttrace fixture emulation)")
    else:
        log("Starting BT client v2.2.1 (bttrace fixture emulation)")
    log("Configuration: -p %d -i %s" % (COMMAND_PORT, a.iface))
    log("Client %s %s connected" % (a.host_name, peer_ip))
    if a.gen == "bt2009":
        log("Using ports %d and %d for measurements." % (APP_PORT, NEUTRAL_2009))
    log("Saving trace to %s.dump" % stem)
    if a.gen == "replayer":
        greet = "ip %s %s id %d \n" % (peer_ip, a.host_name, started)
        cs.sendall(greet.encode())
    transfers = []
    backlog = []
    buf = b""
    cs.settimeout(a.wait_client)
    done = False
    while not done:
        while b"\n" not in buf:
            try:
                more = cs.recv(4096)
            except (socket.timeout, OSError):
                more = b""
            if not more:
                done = True
                break
            buf += more
        if done:
            break
        line, buf = buf.split(b"\n", 1)
        line = line.decode("ascii", "replace").strip()
        if line == "shutdown":
            break
        if line.startswith("log "):
            log("Client: %s" % line[4:])
            continue
        cmd = parse_command(line)
        if cmd is None or cmd[0] != a.gen:
            log("Unknown command: %s" % line)
            continue
        _, kind, direction, port, duration = cmd
        log("Received: %s" % line)
        t = run_server_transfer(a, cs, log, counter, rng, kind, direction, port, duration,
                                peer_ip)
        transfers.append(t)
        i = len(transfers) - 1
        backlog.append("expsu%d=%d&expsd%d=%d&expsl%d=%.3f&expsstate%d=%d&" % (
            i, t["sent"], i, t["received"], i, t["seconds_total"], i, t["steps"]))
        if not t["ok"]:
            backlog.append("expsr%d=%d&expsrs%d=%d&" % (i, t["resets_received"], i,
                                                        t["resets_sent"]))
    if a.gen == "replayer":
        http = "".join(backlog)
        try:
            cs.sendall(("log " + http + "\n").encode())     # as Glasnost's server did
            cs.sendall(b"ok\n")
        except OSError:
            pass
        log("http %s" % http)
    try:
        cs.close()
    except OSError:
        pass
    time.sleep(0.3)
    counter.stop()
    if a.gen == "replayer":
        log("Done.")
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump({"gen": a.gen, "stem": stem, "client_ip": peer_ip,
                       "host_name": a.host_name, "started": started,
                       "transfers": transfers}, f, indent=1)
    print(stem)
    return 0


def run_server_transfer(a, cs, log, counter, rng, kind, direction, port, duration, peer_ip):
    """One transfer as the server runs it, logged in the generation's format."""
    t = {"kind": kind, "direction": direction, "port": port, "duration": duration,
         "connected": False, "client_port": None, "sent": 0, "received": 0, "piece_bytes": 0,
         "pieces": 0, "steps": 0, "error": None, "end": None, "resets_received": 0,
         "resets_sent": 0, "t_accept": None, "t_data": None, "t_last": None, "t_end": None,
         "seconds_total": 0.0, "data_seconds": 0.0, "ok": False}
    seeder = direction == "download"           # the server seeds when the user downloads
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.listen, port))
    sock.listen(1)
    sock.settimeout(a.accept_timeout)
    if a.gen == "replayer":
        if port != APP_PORT:
            log("Telling the client to use port %d." % port)
        cs.sendall(b"port %d ok\n" % port)
    else:
        cs.sendall(b"ok\n")
    fd = None
    while fd is None:
        try:
            fd, (ip, cport) = sock.accept()
        except socket.timeout:
            log("Accept timeout: Peer did not show up.")
            break
        if ip != peer_ip:
            log("Connection from %s not accepted as we filter for %s" % (ip, peer_ip))
            fd.close()
            fd = None
    sock.close()
    if a.gen == "replayer":
        running = "Running %s%s as %s on port %d ." % (
            "control flow of " if kind == "control" else "", "bt",
            "client" if direction == "upload" else "server", port)
    else:
        running = "Running %s %s transfer port %d ." % (
            "BT" if kind == "bt" else "TCP", "downstream" if direction == "upload" else "upstream",
            port)
    if fd is None:
        log(running)
        t["error"] = "accept timeout: peer did not show up"
        t["end"] = "no_connection"
        _log_end(a, log, t)
        return t
    t["connected"], t["client_port"] = True, cport
    t["t_accept"] = time.time()
    log(running)
    if a.gen == "bt2009":
        log("Socket %d set to nonblocking" % fd.fileno())
    piece = PIECE_2010 if a.gen == "replayer" else PIECE_2009
    st = session(fd, kind, seeder, piece, duration if a.gen == "replayer" or seeder
                 else duration - 1, a.rate, rng,
                 note=log if a.gen == "bt2009" else None, think=a.think_ms / 1000)
    # Let the sniffer see the last RSTs of the connection before counting them.
    time.sleep(0.4)
    r, s = counter.counts(cport, port)
    t.update({k: st[k] for k in ("sent", "received", "piece_bytes", "pieces", "steps", "error",
                                 "end", "t_data", "t_last", "t_end")})
    t["resets_received"], t["resets_sent"] = r, s
    t["seconds_total"] = st["t_end"] - t["t_accept"]
    if st["t_data"] and st["t_last"]:
        t["data_seconds"] = st["t_last"] - st["t_data"]
    t["ok"] = st["error"] is None
    _log_end(a, log, t)
    return t


def _log_end(a, log, t):
    """The end-of-transfer lines of the generation's log."""
    upload = t["direction"] == "upload"
    if a.gen == "replayer":
        log("End of transfer; %d bytes transferred and %d bytes received" % (t["sent"], t["received"]))
        log("Resets received: %d ; Resets sent: %d" % (t["resets_received"], t["resets_sent"]))
        secs = t["seconds_total"]
        rates = ((t["sent"] * 8 / secs) if secs > 0 else 0, (t["received"] * 8 / secs) if secs > 0 else 0)
        text = "Transmitted %d bytes and received %d bytes in %.3f seconds: %.0f %.0f bps (state=%d)" % (
            t["sent"], t["received"], secs, rates[0], rates[1], t["steps"])
        if t["ok"]:
            log(text)
        elif t["connected"]:
            log("FAILED: " + text)
        else:
            log("FAILED: bt as %s" % ("client" if upload else "server"))
        return
    # 2009: bytes and pieces of the piece phase, in the server's direction.
    if t["connected"]:
        code = 104 if t["end"] == "rst" else (0 if t["ok"] else 110)
        log("Connection closed (read, errno=%d, state=%d)" % (code, 24 if t["t_data"] else t["steps"]))
    if not t["ok"]:
        reason = {"rst": "Connection reset by peer", "no_connection": "Peer did not show up"}.get(
            t["end"], t["error"] or "unknown error")
        log("FAILED: %s" % reason)
    log("End of transfer; %d bytes and %d pieces transferred" % (t["piece_bytes"], t["pieces"]))
    log("Resets: %d ; Resets sent: %d" % (t["resets_received"], t["resets_sent"]))
    secs = t["data_seconds"]
    if t["ok"]:
        log("Transferred %d bytes in %.3f seconds: %.0f bps" % (
            t["piece_bytes"], secs, t["piece_bytes"] * 8 / secs if secs > 0 else 0))


# ------------------------------------------------------------------------------ the client

def client_main(a):
    rng = random.Random(a.seed)
    neutral = a.neutral_port or (NEUTRAL_2009 if a.gen == "bt2009" else rng.randint(32768, 60999))
    plan = schedule(a.gen, a.reps, neutral)
    cs = socket.create_connection((a.server, COMMAND_PORT), timeout=10)
    cs.settimeout(a.accept_timeout + 30)
    rfile = cs.makefile("rb")
    greeting = rfile.readline().decode().strip() if a.gen == "replayer" else None
    results = []
    http = []
    piece = PIECE_2010 if a.gen == "replayer" else PIECE_2009
    for i, (kind, direction, port) in enumerate(plan):
        cmd = command_text(a.gen, kind, direction, port, a.duration)
        cs.sendall(cmd.encode() + b"\n")
        reply = rfile.readline().decode().strip()
        if a.gen == "replayer":
            w = reply.split()
            if len(w) == 3 and w[0] == "port" and w[2] == "ok":
                port = int(w[1])
        r = {"kind": kind, "direction": direction, "port": port, "command": cmd, "reply": reply,
             "client_port": None, "connected": False}
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((a.bind, 0))
        r["client_port"] = s.getsockname()[1]
        s.settimeout(a.connect_timeout)
        t0 = time.time()
        try:
            s.connect((a.server, port))
            r["connected"] = True
        except OSError as e:
            r["error"] = "%s: %s" % (type(e).__name__, e)
            r["end"] = "no_connection"
            s.close()
        if r["connected"]:
            st = session(s, kind, direction == "upload", piece, a.duration, a.rate, rng,
                         think=a.think_ms / 1000)
            r.update(st)
        r["t_start"] = t0
        results.append(r)
        secs = (r.get("t_last") or 0) - (r.get("t_data") or 0)
        moved = r.get("piece_bytes", 0)
        if a.gen == "bt2009":
            if r.get("error") is None and r["connected"]:
                cs.sendall(("log Transferred %s bytes in %.3f seconds: %s\n" % (
                    java_double(moved), secs, java_double(moved * 8 / secs if secs > 0 else 0))
                ).encode())
            else:
                cs.sendall(("log FAILED: %s\n" % r.get("error")).encode())
        else:
            if r.get("error"):
                cs.sendall(("log Exception: %s\n" % r["error"]).encode())
            http.append("expu%d=%d&expd%d=%d&expl%d=%.3f&" % (
                i, r.get("sent", 0), i, r.get("received", 0), i, max(secs, 0)))
        time.sleep(PAUSE)
    if a.gen == "replayer":
        cs.sendall(("log http %s\n" % "".join(http)).encode())
    cs.sendall(b"shutdown\n")
    tail = []
    try:
        while True:
            line = rfile.readline()
            if not line:
                break
            tail.append(line.decode(errors="replace").strip())
    except OSError:
        pass
    cs.close()
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump({"gen": a.gen, "neutral_port": neutral, "greeting": greeting,
                       "duration": a.duration, "rate": a.rate, "reps": a.reps,
                       "transfers": results, "server_tail": tail}, f, indent=1)
    bad = sum(1 for r in results if r.get("error"))
    print("client: %d transfers, %d failed" % (len(results), bad), file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------ the injector

def inject_main(a):
    import rst_injector as ri

    class RobustInjector(ri.Injector):
        """rst_injector's Injector, forging again on later packets of a flow it reset."""

        def frame(self, ifname, frame):
            key = self._key(ifname, frame)
            before = self.flows.get(key[0]) if key else None
            fired_before = bool(before and before.fired)
            super().frame(ifname, frame)
            if not key or self.a.mode == "none":
                return
            flow = self.flows.get(key[0])
            if flow is None or not flow.fired:
                return
            if not fired_before:
                flow.again = self.a.repeat        # this packet was the trigger
                return
            if not key[2] or getattr(flow, "again", 0) <= 0:
                return                            # no payload or FIN, or no repeats left
            flow.again -= 1
            self.comment("%.6f repeat %d/%d on a later packet of %s:%d > %s:%d"
                         % (time.time(), self.a.repeat - flow.again, self.a.repeat,
                            flow.client[0], flow.client[1], flow.server[0], flow.server[1]))
            getattr(self, "forge_" + self.a.mode)(flow, key[1])

        def send(self, ifname, pkt, note):
            # The box sits inside the path: its packets leave it with TTL 64 and cross the
            # routers between it and the end they go to, as the real packets do. They are handed
            # to the interface past those (emulated) routers, so they carry the TTL they would
            # arrive with.
            ttl = self.a.ttl_to_server if ifname == self.a.server_if else self.a.ttl_to_client
            if ttl is not None:
                pkt = bytearray(pkt)
                pkt[8] = ttl
                pkt[10:12] = b"\0\0"
                pkt[10:12] = struct.pack("!H", ri.csum(bytes(pkt[:(pkt[0] & 0x0F) * 4])))
                pkt = bytes(pkt)
            super().send(ifname, pkt, note)

        def _key(self, ifname, frame):
            if len(frame) < 34 or frame[12:14] != b"\x08\x00":
                return None
            ip = frame[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_TCP or len(ip) < ihl + 20:
                return None
            src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
            sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
            flags = ip[ihl + 13]
            total = struct.unpack("!H", ip[2:4])[0]
            payload = total - ihl - (ip[ihl + 12] >> 4) * 4
            from_client = ifname == self.a.client_if
            k = ((src, sport), (dst, dport)) if from_client else ((dst, dport), (src, sport))
            # Progress: a segment that is no RST and carries payload or a FIN (a pure ACK, such
            # as the kernel's immediate ACK of the trigger, says nothing about the forgery).
            progress = not flags & ri.F_RST and (payload > 0 or bool(flags & ri.F_FIN))
            return k, from_client, progress

    inj = RobustInjector(a)
    inj.comment("glasnost_test.py inject: --repeat %d (forge again on up to that many later "
                "non-RST packets of a flow already reset)" % a.repeat)

    import signal

    def stop(*_):
        inj.running = False
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    inj.run()
    return 0


# ------------------------------------------------------------------------------ main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--gen", choices=["replayer", "bt2009"], required=True)
    s.add_argument("--listen", default="0.0.0.0")
    s.add_argument("--iface", required=True, help="the interface to count resets on")
    s.add_argument("--host-name", required=True, help="the client's host name in file names")
    s.add_argument("--out-dir", required=True, help="where the log goes")
    s.add_argument("--summary", help="write a JSON summary here")
    s.add_argument("--rate", type=float, default=25000, help="seeder's pace, bytes/s")
    s.add_argument("--accept-timeout", type=float, default=6.0)
    s.add_argument("--wait-client", type=float, default=60.0)
    s.add_argument("--seed", type=int)
    s.add_argument("--think-ms", type=float, default=20.0,
                   help="wait before each set-up message (default 20 ms, a round trip's worth)")
    c = sub.add_parser("client")
    c.add_argument("--gen", choices=["replayer", "bt2009"], required=True)
    c.add_argument("--server", required=True)
    c.add_argument("--bind", default="0.0.0.0")
    c.add_argument("--reps", type=int, default=3)
    c.add_argument("--duration", type=int, default=3, help="seconds the seeder sends")
    c.add_argument("--rate", type=float, default=25000, help="seeder's pace, bytes/s")
    c.add_argument("--neutral-port", type=int)
    c.add_argument("--connect-timeout", type=float, default=4.0)
    c.add_argument("--accept-timeout", type=float, default=6.0)
    c.add_argument("--summary", help="write a JSON summary here")
    c.add_argument("--seed", type=int)
    c.add_argument("--think-ms", type=float, default=20.0,
                   help="wait before each set-up message (default 20 ms, a round trip's worth)")
    j = sub.add_parser("inject")
    j.add_argument("--mode", choices=["sandvine", "port6881", "gfw", "none"], required=True)
    j.add_argument("--client-if", default="rc")
    j.add_argument("--server-if", default="rs")
    j.add_argument("--log")
    j.add_argument("--ready-file")
    j.add_argument("--seed", type=int)
    j.add_argument("--delay", type=float, default=0)
    j.add_argument("--repeat", type=int, default=2)
    j.add_argument("--ttl-to-server", type=int,
                   help="TTL of the forged packets sent towards the server (default: the "
                   "injector's own, 64)")
    j.add_argument("--ttl-to-client", type=int,
                   help="TTL of the forged packets sent towards the client (default 64)")
    a = ap.parse_args(argv)
    return {"server": server_main, "client": client_main, "inject": inject_main}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
