#!/usr/bin/env python3
"""rst_injector: an on-path TCP reset injector for a Linux router (a network namespace).

It plays the middleboxes of shared/DOMAIN.md section 4, so that bttrace's reset forensics can be
tested on real traffic recorded at both ends. It only ADDS packets: the router keeps forwarding
every real packet (net.ipv4.ip_forward=1) and the injector never drops or delays one.

It sniffs the frames arriving on two interfaces of the router (AF_PACKET, incoming only: one
facing the client, --client-if, one facing the server, --server-if), follows every TCP flow
(each side's next sequence number, and the first bytes of each direction's stream, in order),
and forges RSTs according to --mode:

  sandvine  after a BitTorrent handshake (0x13 "BitTorrent protocol") and then a bitfield
            (message id 5) in either direction of a flow, one RST+ACK to EACH end: to the
            client claiming to be the server and to the server claiming to be the client.
            Sequence number = the claimed sender's next sequence number (every byte it sent
            passed the router, so the receiver's RCV.NXT: accepted as exact), ack = the
            receiver's next sequence number. TTL 64 (what the router emits; the real sender's
            packets reach the receiver with 63 after one hop), IP ID fixed 0x1234, no DF,
            window 0, no TCP options. Random-payload control flows carry no handshake and are
            never touched. Once per flow.
  port6881  any flow to or from TCP port 6881, on its first data segment (the handshake is
            complete): a plain RST (no ACK flag, ack field 0) to each end, shaped like Linux's
            reply for a closed socket: to the receiver of that segment claiming its sender,
            seq = the sender's next sequence number (right after the segment); to the sender
            claiming the other end, seq = the segment's ack number. TTL 64, IP ID 0, window
            0, no options: only the TTL (and the other end's capture) tells. Once per flow.
  gfw       on a BitTorrent handshake, a burst of 3 to 5 RST and RST+ACK (at least one of each,
            in random order, 0.2 to 1 ms apart) towards the handshake's receiver (the server
            in a download) claiming its sender, with rising sequence numbers: the sender's next
            sequence number, then +1460, +2920, ... ; a random TTL 40-200 and a random IP ID
            for each; ack = the receiver's next sequence number on RST+ACK, 0 on RST; a random
            window. The real packets still pass. Once per flow.
  linux     Sandvine-like, dressed as a Linux reset: after a handshake and a bitfield, one
            RST+ACK to each end claiming the other (sequence numbers as in sandvine), with
            IP ID 0, DF set, window 0, no options and TTL 64 by default: what a Linux stack
            puts in a reset, sent from the router one hop from each end. Only the hop count
            (it arrives with more TTL left than the claimed sender's packets) and the other
            end's capture tell. Once per flow.
  burst     GFW-like: on a BitTorrent handshake, --count RST+ACKs (default 3), 0.2 to 1 ms
            apart, to the handshake's receiver claiming its sender, with rising sequence
            numbers (the sender's next, then +--seq-step, ...), a random TTL (--ttl random,
            40-200) and a random IP ID each. Once per flow.
  copy      an impersonation: --after seconds (default 1.5) after the seeder's first piece
            message, one RST+ACK to the downloader claiming the seeder (the data sender),
            copying the seeder's look as the downloader sees it: TTL = its last TTL less the
            router's hop, IP ID = its last one + 1, its DF bit and its last window; sequence
            number = its next, ack = the downloader's next. Only what the real seeder's
            packets do around the reset (its data still in flight arriving after it) and the
            seeder's own capture tell. Once per flow.
  none      forge nothing (a baseline; the log still records the BitTorrent handshakes).

The look of the forged packets can be set for every mode: --ttl N|random|copy, --ip-id
N|random|copy|next (copy and next: the claimed sender's last IP ID + 1), --df yes|no|copy,
--window N|copy, --count N and --seq-step N (burst), --after S (copy). A mode sets its own
defaults, listed above; an option given overrides them.

--delay MS forges that long after the trigger instead of at once (an appliance's latency), with
the sequence numbers known by then (the sender's next, its last ack, the receiver's next).
--quiet MS waits further until the flow has been idle that long (between two pieces), so that
no real packet is in flight to race the forgery: only its look can give it away.

Every forged packet is logged, one tab-separated line each, to --log (default stderr):
  time  mode  iface  src  sport  dst  dport  flags  seq  ack  ttl  ip_id  window  note
time = the Unix time (s, 6 decimals) just before the frame was handed to the interface, the
same clock as tcpdump's in any namespace of the host. Lines starting with '#' are comments: the
start parameters, each trigger ("# trigger ..."), "# ready" once both sockets are open, and a
summary when it stops (SIGINT or SIGTERM).

Usage (root, in the router's namespace):
  rst_injector.py --mode sandvine --client-if rc --server-if rs --log sandvine-injector.log

Python 3.8+, standard library only, Linux (AF_PACKET).
"""

import argparse
import os
import random
import select
import signal
import socket
import struct
import sys
import time

VERSION = "rst_injector 1.1"
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
BT_PREFIX = b"\x13BitTorrent protocol"
HS_LEN = 68
MSG_BITFIELD = 5
STREAM_KEEP = 4096          # bytes of each direction's stream kept for the message parser
F_FIN, F_SYN, F_RST, F_PSH, F_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MODES = ("sandvine", "port6881", "gfw", "linux", "burst", "copy", "none")
MSG_PIECE = 7
# Per mode: ttl, ip_id, df, window (None: the mode chooses as documented).
LOOK = {"sandvine": ("64", "4660", "no", "0"), "port6881": ("64", "0", "no", "0"),
        "gfw": ("random", "random", "no", "random"), "linux": ("64", "0", "yes", "0"),
        "burst": ("random", "random", "no", "0"), "copy": ("copy", "next", "copy", "copy"),
        "none": ("64", "0", "no", "0")}


def seq_after(a, b):
    """a is after b in 32-bit sequence space."""
    return 0 < ((a - b) & 0xFFFFFFFF) < 0x80000000


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def build_rst(src, sport, dst, dport, seq, ack, flags, ttl, ip_id, window, df=False):
    """IPv4 header + 20-byte TCP header (no options, no payload), both checksums right."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, window, 0, 0)
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id, 0x4000 if df else 0,
                     ttl, socket.IPPROTO_TCP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def flag_text(flags):
    return "".join(c for bit, c in ((F_SYN, "S"), (F_FIN, "F"), (F_RST, "R"), (F_PSH, "P"),
                                     (F_ACK, "A")) if flags & bit) or "."


class Direction:
    """One direction of a flow as seen at the router."""

    def __init__(self):
        self.nxt = None         # next sequence number this side will send
        self.last_ack = None    # the last ack number it sent
        self.expect = None      # next in-order stream byte's sequence number (parser)
        self.stream = bytearray()
        self.handshake = False
        self.bitfield = False
        self.data_segments = 0
        self.ttl = None         # the last TTL, IP ID, DF bit and window it arrived with
        self.ip_id = None
        self.df = False
        self.window = 0
        self.piece_at = None    # time.monotonic() of its first piece message


class Flow:
    def __init__(self, client, server):
        self.client, self.server = client, server       # (ip, port)
        self.dirs = {"c": Direction(), "s": Direction()}
        self.fired = False
        self.last = time.monotonic()    # when its last packet passed


class Injector:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.flows = {}
        self.mac = {}           # iface -> (own mac, peer mac), learnt from incoming frames
        self.count = 0
        self.log_f = open(a.log, "a") if a.log else sys.stderr
        self.running = True
        self.pending = []       # (due time, flow, from_client, trigger description)
        self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.tx = {}
        for ifname in (a.client_if, a.server_if):
            t = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            t.bind((ifname, 0))
            self.tx[ifname] = t

    # ---- log ----------------------------------------------------------------------------
    def comment(self, text):
        print("# " + text, file=self.log_f, flush=True)

    def send(self, ifname, pkt, note):
        own, peer = self.mac[ifname]
        frame = peer + own + struct.pack("!H", ETH_P_IP) + pkt
        t = time.time()
        self.tx[ifname].send(frame)
        ip_id, ttl = struct.unpack("!H", pkt[4:6])[0], pkt[8]
        sport, dport, seq, ack, _, flags, win = struct.unpack("!HHIIBBH", pkt[20:36])
        print("\t".join(str(x) for x in (
            "%.6f" % t, self.a.mode, ifname, socket.inet_ntoa(pkt[12:16]), sport,
            socket.inet_ntoa(pkt[16:20]), dport, flag_text(flags), seq, ack, ttl, ip_id, win,
            note)), file=self.log_f, flush=True)
        self.count += 1

    # ---- packet handling ----------------------------------------------------------------
    def run(self):
        a = self.a
        self.comment("%s mode=%s client-if=%s server-if=%s delay=%gms seed=%s pid=%d"
                     % (VERSION, a.mode, a.client_if, a.server_if, a.delay, a.seed, os.getpid()))
        self.comment("look: ttl=%s ip-id=%s df=%s window=%s count=%s seq-step=%d after=%gs "
                     "quiet=%gms" % (
            tuple(getattr(a, k) if getattr(a, k) is not None else d
                  for k, d in zip(("ttl", "ip_id", "df", "window"), LOOK[a.mode]))
            + (a.count, a.seq_step, a.after, a.quiet)))
        self.comment("time\tmode\tiface\tsrc\tsport\tdst\tdport\tflags\tseq\tack\tttl\tip_id"
                     "\twindow\tnote")
        self.comment("ready")
        if a.ready_file:
            open(a.ready_file, "w").close()
        while self.running:
            wait = 0.2
            if self.pending:
                wait = max(0.0, min(wait, self.pending[0][0] - time.monotonic()))
            try:
                select.select([self.rx], [], [], wait)
            except InterruptedError:
                continue
            # Everything queued first, so that a delayed forgery uses the latest numbers.
            while True:
                try:
                    frame, addr = self.rx.recvfrom(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                ifname, pkttype = addr[0], addr[2]
                if pkttype != PACKET_OUTGOING and ifname in self.tx:
                    self.frame(ifname, frame)
            while self.pending and self.pending[0][0] <= time.monotonic():
                _, flow, from_client = self.pending.pop(0)
                quiet_until = flow.last + self.a.quiet / 1000
                if self.a.quiet and quiet_until > time.monotonic():
                    # Not quiet yet: wait until nothing has passed for --quiet ms.
                    self.pending.append((quiet_until, flow, from_client))
                    self.pending.sort(key=lambda p: p[0])
                    continue
                getattr(self, "forge_" + self.a.mode)(flow, from_client)
        self.comment("stopped: %d packets forged, %d flows seen" % (self.count, len(self.flows)))

    def frame(self, ifname, frame):
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            return
        self.mac.setdefault(ifname, (frame[0:6], frame[6:12]))
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_TCP or len(ip) < ihl + 20:
            return
        total = struct.unpack("!H", ip[2:4])[0]
        src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
        tcp = ip[ihl:total]
        sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", tcp[:14])
        payload = tcp[(off >> 4) * 4:]
        from_client = ifname == self.a.client_if
        if from_client:
            key = ((src, sport), (dst, dport))
        else:
            key = ((dst, dport), (src, sport))
        flow = self.flows.get(key)
        if flow is None or (flags & F_SYN and not flags & F_ACK and flow.fired):
            flow = self.flows[key] = Flow(*key)
        me = flow.dirs["c" if from_client else "s"]
        flow.last = time.monotonic()
        # Track the sender's next sequence number and its last acknowledgment.
        end = (seq + len(payload) + (1 if flags & F_SYN else 0)
               + (1 if flags & F_FIN else 0)) & 0xFFFFFFFF
        if not flags & F_RST:
            me.ttl, me.ip_id = ip[8], struct.unpack("!H", ip[4:6])[0]
            me.df = bool(struct.unpack("!H", ip[6:8])[0] & 0x4000)
            me.window = struct.unpack("!H", tcp[14:16])[0]
            if me.nxt is None or seq_after(end, me.nxt):
                me.nxt = end
            if flags & F_ACK:
                me.last_ack = ack
        # In-order stream bytes for the parser.
        if flags & F_SYN:
            me.expect = (seq + 1) & 0xFFFFFFFF
        elif me.expect is None and payload:
            me.expect = seq
        if payload and seq == me.expect and len(me.stream) < STREAM_KEEP:
            me.stream += payload[:STREAM_KEEP - len(me.stream)]
            me.expect = (seq + len(payload)) & 0xFFFFFFFF
            self.parse(me)
        if payload:
            me.data_segments += 1
        if flow.fired or flags & F_RST:
            return
        mode = self.a.mode
        fire = None
        delay = self.a.delay / 1000
        if mode in ("sandvine", "linux") and me.bitfield and me.handshake:
            fire = "bitfield"
        elif mode == "copy" and me.piece_at is not None:
            fire = "piece data, forging %g s after it" % self.a.after
            delay = max(0.0, me.piece_at + self.a.after - time.monotonic())
        elif mode in ("gfw", "burst") and me.handshake:
            fire = "handshake"
        elif mode == "port6881" and payload and 6881 in (sport, dport):
            fire = "first data segment on port 6881"
        elif mode == "none" and me.handshake:
            self.comment("%.6f would-trigger %s:%d > %s:%d handshake (mode none: nothing sent)"
                         % (time.time(), src, sport, dst, dport))
            flow.fired = True
        if fire:
            flow.fired = True
            self.comment("%.6f trigger %s from %s:%d to %s:%d seq %d len %d ack %d%s"
                         % (time.time(), fire, src, sport, dst, dport, seq, len(payload), ack,
                            ", forging in %g ms" % self.a.delay if self.a.delay else ""))
            if delay or self.a.quiet:
                self.pending.append((time.monotonic() + delay, flow, from_client))
                self.pending.sort(key=lambda p: p[0])
            else:
                getattr(self, "forge_" + mode)(flow, from_client)

    def parse(self, d):
        """Find the handshake and a bitfield at the start of one direction's stream."""
        buf = d.stream
        if not d.handshake:
            if len(buf) >= len(BT_PREFIX) and buf[:len(BT_PREFIX)] == BT_PREFIX:
                d.handshake = len(buf) >= HS_LEN
            if not d.handshake:
                return
        pos = HS_LEN
        while pos + 5 <= len(buf):
            length, msg_id = struct.unpack("!IB", buf[pos:pos + 5])
            if length == 0:
                pos += 4
                continue
            if msg_id == MSG_BITFIELD:
                d.bitfield = True
            if msg_id == MSG_PIECE and d.piece_at is None:
                d.piece_at = time.monotonic()
                return
            pos += 4 + length

    # ---- the modes ----------------------------------------------------------------------
    def ends(self, flow, from_client):
        """(sender, receiver) of the trigger: each (ip, port, iface towards it, Direction)."""
        c = flow.client + (self.a.client_if, flow.dirs["c"])
        s = flow.server + (self.a.server_if, flow.dirs["s"])
        return (c, s) if from_client else (s, c)

    def look(self, claimed, to_if):
        """TTL, IP ID, DF and window of one forged packet claiming `claimed` (a Direction),
        sent out of `to_if`: the options, else the mode's defaults (LOOK)."""
        a, rng = self.a, self.rng
        ttl_o, id_o, df_o, win_o = (
            getattr(a, k) if getattr(a, k) is not None else d
            for k, d in zip(("ttl", "ip_id", "df", "window"), LOOK[a.mode]))
        if ttl_o == "random":
            ttl = rng.randint(40, 200)
        elif ttl_o == "copy":
            # As the receiver sees the claimed sender's packets: one hop (this router) less.
            ttl = max(1, (claimed.ttl or 65) - 1)
        else:
            ttl = int(ttl_o)
        if id_o == "random":
            ip_id = rng.randint(1, 0xFFFF)
        elif id_o in ("copy", "next"):
            ip_id = ((claimed.ip_id or 0) + 1) & 0xFFFF
        else:
            ip_id = int(id_o, 0)
        df = claimed.df if df_o == "copy" else df_o == "yes"
        if win_o == "random":
            window = rng.choice((0, 1024, 2048, 4096, 8192, 16384))
        elif win_o == "copy":
            window = claimed.window
        else:
            window = int(win_o)
        return ttl, ip_id, df, window

    def forge_one(self, snd, rcv, seq, ack, flags, note):
        """One RST claiming snd, to rcv: each (ip, port, iface towards it, Direction)."""
        ttl, ip_id, df, window = self.look(snd[3], rcv[2])
        pkt = build_rst(snd[0], snd[1], rcv[0], rcv[1], seq, ack, flags, ttl, ip_id, window, df)
        self.send(rcv[2], pkt, note)

    def both_ends(self, flow, note):
        """One RST+ACK to each end claiming the other: to the server first, then the client."""
        c = flow.client + (self.a.client_if, flow.dirs["c"])
        s = flow.server + (self.a.server_if, flow.dirs["s"])
        for rcv, snd, to, claim in ((s, c, "server", "client"), (c, s, "client", "server")):
            self.forge_one(snd, rcv, snd[3].nxt, rcv[3].nxt or 0, F_RST | F_ACK,
                           "%s: to %s claiming %s, seq = claimed sender's next"
                           % (note, to, claim))

    def forge_sandvine(self, flow, from_client):
        self.both_ends(flow, "sandvine")

    def forge_linux(self, flow, from_client):
        self.both_ends(flow, "linux")

    def forge_port6881(self, flow, from_client):
        snd, rcv = self.ends(flow, from_client)
        # To the trigger's receiver claiming its sender: seq = the sender's next (right after
        # the segment, with no delay).
        self.forge_one(snd, rcv, snd[3].nxt, 0, F_RST,
                       "port6881: to the segment's receiver, seq = sender's next")
        # To the trigger's sender claiming the other end, seq = the sender's last ack (the
        # segment's, with no delay), as a reply would have.
        self.forge_one(rcv, snd, snd[3].last_ack or 0, 0, F_RST,
                       "port6881: to the segment's sender, seq = its ack (reply-shaped)")

    def spray(self, flow, from_client, kinds, step, note):
        snd, rcv = self.ends(flow, from_client)
        base = snd[3].nxt
        for i, fl in enumerate(kinds):
            self.forge_one(snd, rcv, (base + step * i) & 0xFFFFFFFF,
                           (rcv[3].nxt or 0) if fl & F_ACK else 0, fl,
                           "%s: burst %d/%d to the handshake's receiver, seq = next + %d"
                           % (note, i + 1, len(kinds), step * i))
            if i + 1 < len(kinds):
                time.sleep(self.rng.uniform(0.0002, 0.001))

    def forge_gfw(self, flow, from_client):
        rng = self.rng
        n = self.a.count or rng.randint(3, 5)
        kinds = [F_RST, F_RST | F_ACK] + [rng.choice((F_RST, F_RST | F_ACK)) for _ in range(n - 2)]
        rng.shuffle(kinds)
        self.spray(flow, from_client, kinds, self.a.seq_step, "gfw")

    def forge_burst(self, flow, from_client):
        self.spray(flow, from_client, [F_RST | F_ACK] * (self.a.count or 3), self.a.seq_step,
                   "burst")

    def forge_copy(self, flow, from_client):
        # To the downloader claiming the seeder: the trigger's sender (the first piece).
        snd, rcv = self.ends(flow, from_client)
        self.forge_one(snd, rcv, snd[3].nxt, rcv[3].nxt or 0, F_RST | F_ACK,
                       "copy: to the downloader claiming the seeder, %g s into the piece data,"
                       " its TTL and next IP ID copied" % self.a.after)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--mode", choices=MODES, required=True)
    ap.add_argument("--client-if", default="rc", help="router interface facing the client")
    ap.add_argument("--server-if", default="rs", help="router interface facing the server")
    ap.add_argument("--log", help="append the log here (default: standard error)")
    ap.add_argument("--ready-file", help="create this file once the sockets are open")
    ap.add_argument("--seed", type=int, help="seed the random choices (gfw)")
    ap.add_argument("--delay", type=float, default=0, metavar="MS",
                    help="forge this many milliseconds after the trigger (default 0), with the "
                    "sequence numbers known then")
    ap.add_argument("--quiet", type=float, default=0, metavar="MS",
                    help="forge only once the flow has carried nothing either way for MS "
                    "milliseconds (after --delay): nothing in flight to give the forgery away")
    ap.add_argument("--ttl", help="TTL of forged packets: N, random (40-200) or copy (the "
                    "claimed sender's, as the receiver sees it)")
    ap.add_argument("--ip-id", help="IP ID: N, random, or next (the claimed sender's last + 1)")
    ap.add_argument("--df", choices=("yes", "no", "copy"), help="the DF bit")
    ap.add_argument("--window", help="TCP window: N, random or copy")
    ap.add_argument("--count", type=int, help="RSTs per burst (gfw: random 3-5; burst: 3)")
    ap.add_argument("--seq-step", type=int, default=1460,
                    help="sequence step between a burst's RSTs (default 1460)")
    ap.add_argument("--after", type=float, default=1.5, metavar="S",
                    help="copy: seconds after the first piece message (default 1.5)")
    ap.add_argument("--version", action="version", version=VERSION)
    a = ap.parse_args(argv)
    inj = Injector(a)

    def stop(*_):
        inj.running = False
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    inj.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
