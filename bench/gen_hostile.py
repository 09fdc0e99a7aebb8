#!/usr/bin/env python3
"""gen_hostile.py: captures that attack bttrace's memory bounds (classic pcap, Ethernet).

Usage:  bench/gen_hostile.py CASE OUT.pcap [SCALE]

Cases (python3 only, no dependencies; deterministic: the same arguments give the same bytes):

  syn-flood      1,000,000 SYNs (x SCALE), each a distinct connection: random addresses in
                 198.51.100.0/24 -> 203.0.113.0/24, random ports. Nothing answers.
  syn-reuse      1,000,000 SYNs (x SCALE) on 16 four-tuples, each with a fresh ISN: every
                 SYN is a new connection on a 4-tuple already in the table.
  reorder        4 bulk flows of 25,000 segments of 1448 bytes (x SCALE), interleaved; each
                 flow's segments are sent in reverse order within windows of 2,000 segments,
                 every 10th segment twice, and every 7th followed by a segment overlapping
                 its neighbours by half. No ACKs during the storm (gaps are only given up
                 when the out-of-order buffer is full), then FINs.
  bulk           the pattern the doubling series repeats: 8 concurrent BitTorrent flows
                 (handshakes, bitfield, then 16 KiB pieces in 1448-byte segments, an ACK
                 every second segment), 4,000 segments per flow per unit; SCALE units (1, 2,
                 4, ...) continue the same flows, so the file grows and the flow count does not.
  sparse-series  20,000 flows (x SCALE) of two 1-byte segments 409.5 s apart: each flow's
                 goodput series reaches its 4,096th bin (the per-flow bound) from 2 packets.
  ooo-flows      2,000 flows (x SCALE), each missing its first segment and then sending
                 100 segments of 1448 bytes that can only wait in the out-of-order buffer
                 (each flow stays within the 256 KiB / 512-piece per-direction bound).
  text-flows     2,000 flows (x SCALE), each sending 64 KiB of 100-byte text lines (the most
                 a direction keeps as text), interleaved so that all of them are open at once.
  swapped-blocks a 20 MB BitTorrent download (1,280 pieces of 16 KiB, 1448-byte segments)
                 whose 290 kB blocks (200 segments) arrive swapped in pairs, every byte
                 captured; the receiver acknowledges what it holds in order.
  two-queues     the same download captured on two queues written one after the other:
                 segments and their ACKs alternate between the queues, each queue's packets
                 keep their times, the second queue's are written after the first's.
  concurrent     250,000 connections (x SCALE) open at once: every handshake completes,
                 then each moves a request and an answer, then closes; more connections than
                 the default flow-table bound (100,000).
  ts-outlier     one 10 s transfer (1,000 segments, 1 Mbit/s) whose 500th segment carries a
                 timestamp 79 years later (one corrupted record).
  long-flow      one connection with two data segments 10 days apart (its goodput series
                 reaches the per-flow bin bound; the shared budget is nowhere near).
  rst-storm      one connection, then 100,000 RSTs (x SCALE) from the server with rising
                 sequence numbers.

All payload bytes are a function of their stream offset, so overlapping copies agree.
"""

import random
import struct
import sys

LINKTYPE_ETHERNET = 1
ETH = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
MSS = 1448
T0 = 1_700_000_000  # seconds

# Payload for stream offset o is PATTERN[o % 251 :][:n]: a function of the offset.
PATTERN = bytes(i % 251 for i in range(251 + 70_000))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 22)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        self.usec = 0
        self.packets = 0

    def packet(self, src, dst, sport, dport, seq, ack, flags, payload=b"", ip_id=0):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0) + payload
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        c = checksum(pseudo + tcp)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id & 0xFFFF, 0x4000, 64, 6,
                         0, src, dst)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        frame = ETH + ip + tcp
        self.usec += 10
        self.f.write(struct.pack("<IIII", T0 + self.usec // 1_000_000, self.usec % 1_000_000,
                                 len(frame), len(frame)))
        self.f.write(frame)
        self.packets += 1

    def close(self):
        self.f.close()


def addr(a, b, c, d):
    return bytes((a, b, c, d))


def syn_flood(w, scale):
    rnd = random.Random(1)
    seen = set()
    n = int(1_000_000 * scale)
    while len(seen) < n:
        key = (rnd.randrange(256), rnd.randrange(1024, 65536), rnd.randrange(256),
               rnd.randrange(1, 65536))
        if key in seen:
            continue
        seen.add(key)
        s, sp, d, dp = key
        w.packet(addr(198, 51, 100, s), addr(203, 0, 113, d), sp, dp,
                 rnd.getrandbits(32), 0, SYN, ip_id=len(seen))


def syn_reuse(w, scale):
    rnd = random.Random(2)
    tuples = [(addr(198, 51, 100, 10 + i), addr(203, 0, 113, 1), 40000 + i, 6881)
              for i in range(16)]
    for k in range(int(1_000_000 * scale)):
        src, dst, sp, dp = tuples[k % 16]
        w.packet(src, dst, sp, dp, rnd.getrandbits(32), 0, SYN, ip_id=k)


class Flow:
    """One TCP connection, server to client bulk data; `stream(o, n)` gives its bytes."""

    def __init__(self, w, i, prefix=b"", period=None):
        self.w = w
        # Distinct 4-tuples for i below 15 million.
        self.c = addr(198, 51, 100, 1 + (i // 60000) % 250)
        self.s = addr(203, 0, 113, 1 + i % 8)
        self.cp = 1024 + i % 60000
        self.sp = 6881
        self.ciss = 1000 + 7919 * i
        self.siss = 50000 + 104729 * i
        self.prefix = prefix
        self.period = period

    def handshake(self):
        w = self.w
        w.packet(self.c, self.s, self.cp, self.sp, self.ciss, 0, SYN)
        w.packet(self.s, self.c, self.sp, self.cp, self.siss, self.ciss + 1, SYN | ACK)
        w.packet(self.c, self.s, self.cp, self.sp, self.ciss + 1, self.siss + 1, ACK)

    def stream(self, o, n):
        if self.period is None:
            k = o % 251
            return PATTERN[k:k + n]
        out = b""
        if o < len(self.prefix):
            out = self.prefix[o:o + n]
            o += len(out)
            n -= len(out)
        if n > 0:
            k = (o - len(self.prefix)) % len(self.period)
            out += (self.period * (n // len(self.period) + 2))[k:k + n]
        return out

    def data(self, o, n, flags=ACK | PSH):
        self.w.packet(self.s, self.c, self.sp, self.cp, self.siss + 1 + o, self.ciss + 1, flags,
                      self.stream(o, n))

    def ack(self, o, cseq_extra=0):
        self.w.packet(self.c, self.s, self.cp, self.sp, self.ciss + 1 + cseq_extra,
                      self.siss + 1 + o, ACK)

    def fin(self, o):
        w = self.w
        w.packet(self.s, self.c, self.sp, self.cp, self.siss + 1 + o, self.ciss + 1, FIN | ACK)
        w.packet(self.c, self.s, self.cp, self.sp, self.ciss + 1, self.siss + 2 + o, FIN | ACK)
        w.packet(self.s, self.c, self.sp, self.cp, self.siss + 2 + o, self.ciss + 2, ACK)


def reorder(w, scale):
    nflows, nseg, window = 4, int(25_000 * scale), 2000
    flows = [Flow(w, i) for i in range(nflows)]
    for f in flows:
        f.handshake()

    def schedule():
        for start in range(0, nseg, window):
            for k in reversed(range(start, min(start + window, nseg))):
                yield ("seg", k)
                if k % 10 == 0:
                    yield ("seg", k)
                if k % 7 == 0 and k + 1 < nseg:
                    yield ("overlap", k)

    gens = [schedule() for _ in flows]
    live = list(range(nflows))
    while live:
        for i in list(live):
            item = next(gens[i], None)
            if item is None:
                live.remove(i)
                continue
            kind, k = item
            if kind == "seg":
                flows[i].data(k * MSS, MSS)
            else:
                flows[i].data(k * MSS + MSS // 2, MSS)
    for f in flows:
        f.ack(nseg * MSS)
        f.fin(nseg * MSS)


def bt_stream_parts():
    hs = (b"\x13BitTorrent protocol" + bytes(8) + b"\xaa" * 20 + b"-TR3000-abcdefghijkl")
    bitfield = struct.pack(">IB", 1 + 125, 5) + b"\xff" * 125
    unchoke = struct.pack(">IB", 1, 1)
    prefix = hs + bitfield + unchoke
    block = 16384
    period = struct.pack(">IBII", 9 + block, 7, 0, 0) + PATTERN[:block]
    return hs, prefix, period


def bulk(w, scale):
    nflows, per_unit = 8, 4000
    hs, prefix, period = bt_stream_parts()
    flows = [Flow(w, i, prefix, period) for i in range(nflows)]
    request = struct.pack(">IB", 1, 2) + struct.pack(">IBIII", 13, 6, 0, 0, 16384)
    for f in flows:
        f.handshake()
        # Client handshake and interested + a request, then the server's stream.
        cmsg = hs + request
        w.packet(f.c, f.s, f.cp, f.sp, f.ciss + 1, f.siss + 1, ACK | PSH, cmsg)
        f.csent = len(cmsg)
    total = int(per_unit * scale)
    for k in range(total):
        for f in flows:
            f.data(k * MSS, MSS)
            if k % 2 == 1:
                f.ack((k + 1) * MSS, f.csent)
    for f in flows:
        f.ack(total * MSS, f.csent)
        w.packet(f.s, f.c, f.sp, f.cp, f.siss + 1 + total * MSS, f.ciss + 1 + f.csent, FIN | ACK)
        w.packet(f.c, f.s, f.cp, f.sp, f.ciss + 1 + f.csent, f.siss + 2 + total * MSS, FIN | ACK)


def ooo_flows(w, scale):
    n, per_flow = int(2_000 * scale), 100
    flows = [Flow(w, i) for i in range(n)]
    for f in flows:
        f.handshake()
    # Interleaved so that every flow's buffer is full at the same time; segment 0 never sent.
    for k in range(1, per_flow + 1):
        for f in flows:
            f.data(k * MSS, MSS)


def sparse_series(w, scale):
    n = int(20_000 * scale)
    flows = [Flow(w, i) for i in range(n)]
    # Mid-stream flows (no handshake): one byte now, one byte 409.5 s later, the last of the
    # 4,096 goodput bins at 100 ms.
    for f in flows:
        f.data(0, 1)
    w.usec += 409_500_000
    for f in flows:
        f.data(1, 1)


def text_flows(w, scale):
    n, segs = int(2_000 * scale), 46
    line = b"log " + b"x" * 95 + b"\n"
    flows = [Flow(w, i, period=line) for i in range(n)]
    for f in flows:
        f.handshake()
    for k in range(segs):
        for f in flows:
            f.data(k * MSS, MSS)


def bt_download_parts():
    hs, prefix, period = bt_stream_parts()
    pieces = 1280
    total = len(prefix) + pieces * len(period)
    return hs, prefix, period, total


def bt_download_schedule(swap_block):
    """Segment numbers of the download in the order they arrive: blocks of `swap_block`
    segments swapped in pairs (0 for no swapping)."""
    _, _, _, total = bt_download_parts()
    nseg = (total + MSS - 1) // MSS
    segs = list(range(nseg))
    if swap_block:
        out = []
        for start in range(0, nseg, 2 * swap_block):
            a = segs[start:start + swap_block]
            b = segs[start + swap_block:start + 2 * swap_block]
            out += b + a
        segs = out
    return segs, total


def download_packets(f, segs, total, csent):
    """(data args, ack args) pairs of the download: each data segment and the client's
    cumulative ACK of the bytes it then holds in order."""
    held = set()
    contiguous = 0
    nseg = (total + MSS - 1) // MSS
    for k in segs:
        o = k * MSS
        n = min(MSS, total - o)
        held.add(k)
        while contiguous < nseg and contiguous in held:
            contiguous += 1
        acked = min(contiguous * MSS, total)
        yield ((f.s, f.c, f.sp, f.cp, f.siss + 1 + o, f.ciss + 1 + csent, ACK | PSH,
                f.stream(o, n)),
               (f.c, f.s, f.cp, f.sp, f.ciss + 1 + csent, f.siss + 1 + acked, ACK))


def start_download(w):
    hs, prefix, period, total = bt_download_parts()
    f = Flow(w, 0, prefix, period)
    f.handshake()
    request = struct.pack(">IB", 1, 2) + struct.pack(">IBIII", 13, 6, 0, 0, 16384)
    cmsg = hs + request
    w.packet(f.c, f.s, f.cp, f.sp, f.ciss + 1, f.siss + 1, ACK | PSH, cmsg)
    return f, len(cmsg), total


def end_download(w, f, csent, total):
    w.packet(f.s, f.c, f.sp, f.cp, f.siss + 1 + total, f.ciss + 1 + csent, FIN | ACK)
    w.packet(f.c, f.s, f.cp, f.sp, f.ciss + 1 + csent, f.siss + 2 + total, FIN | ACK)
    w.packet(f.s, f.c, f.sp, f.cp, f.siss + 2 + total, f.ciss + 2 + csent, ACK)


def swapped_blocks(w, scale):
    f, csent, total = start_download(w)
    segs, _ = bt_download_schedule(200)
    for data, ack in download_packets(f, segs, total, csent):
        w.packet(*data)
        w.packet(*ack)
    end_download(w, f, csent, total)


def two_queues(w, scale):
    f, csent, total = start_download(w)
    segs, _ = bt_download_schedule(0)
    t0 = w.usec
    queues = ([], [])
    for i, (data, ack) in enumerate(download_packets(f, segs, total, csent)):
        q = queues[i % 2]
        q.append((t0 + 20 * i + 10, data))
        q.append((t0 + 20 * i + 20, ack))
    for q in queues:
        for usec, args in q:
            w.usec = usec - 10
            w.packet(*args)
    w.usec = t0 + 20 * len(segs)
    end_download(w, f, csent, total)


def concurrent(w, scale):
    n = int(250_000 * scale)
    flows = [Flow(w, i) for i in range(n)]
    for f in flows:
        f.handshake()
    for f in flows:
        w.packet(f.c, f.s, f.cp, f.sp, f.ciss + 1, f.siss + 1, ACK | PSH, f.stream(0, 100))
    for f in flows:
        f.w.packet(f.s, f.c, f.sp, f.cp, f.siss + 1, f.ciss + 101, ACK | PSH, f.stream(0, 1000))
    for f in flows:
        w.packet(f.c, f.s, f.cp, f.sp, f.ciss + 101, f.siss + 1001, FIN | ACK)
        w.packet(f.s, f.c, f.sp, f.cp, f.siss + 1001, f.ciss + 102, FIN | ACK)
        w.packet(f.c, f.s, f.cp, f.sp, f.ciss + 102, f.siss + 1002, ACK)


def ts_outlier(w, scale):
    f = Flow(w, 0)
    f.handshake()
    for k in range(1000):
        w.usec = 10_000 * (k + 1) - 10
        if k == 500:
            saved = w.usec
            w.usec += 79 * 365 * 86400 * 1_000_000
            f.data(k * MSS, MSS)
            w.usec = saved
        else:
            f.data(k * MSS, MSS)
        f.ack((k + 1) * MSS)
    f.fin(1000 * MSS)


def long_flow(w, scale):
    f = Flow(w, 0)
    f.handshake()
    f.data(0, MSS)
    f.ack(MSS)
    w.usec += 10 * 86400 * 1_000_000
    f.data(MSS, MSS)
    f.ack(2 * MSS)
    f.fin(2 * MSS)


def rst_storm(w, scale):
    f = Flow(w, 0)
    f.handshake()
    f.data(0, MSS)
    f.ack(MSS)
    for k in range(int(100_000 * scale)):
        w.packet(f.s, f.c, f.sp, f.cp, f.siss + 1 + MSS + 1000 * k, 0, RST)


CASES = {
    "syn-flood": syn_flood,
    "syn-reuse": syn_reuse,
    "reorder": reorder,
    "bulk": bulk,
    "ooo-flows": ooo_flows,
    "sparse-series": sparse_series,
    "text-flows": text_flows,
    "swapped-blocks": swapped_blocks,
    "two-queues": two_queues,
    "concurrent": concurrent,
    "ts-outlier": ts_outlier,
    "long-flow": long_flow,
    "rst-storm": rst_storm,
}


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in CASES:
        sys.exit(__doc__)
    scale = float(sys.argv[3]) if len(sys.argv) == 4 else 1.0
    w = Writer(sys.argv[2])
    CASES[sys.argv[1]](w, scale)
    w.close()
    print(f"{sys.argv[1]} x{scale:g}: {w.packets} packets -> {sys.argv[2]}", file=sys.stderr)


if __name__ == "__main__":
    main()
