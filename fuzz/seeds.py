#!/usr/bin/env python3
"""Seed inputs for the fuzz targets, from fixtures/ and from code (no dependencies).

    python3 seeds.py frames OUT_DIR FILE...   one wire_decode input per frame of each capture
    python3 seeds.py peer-wire OUT_DIR        peer_wire programs: BitTorrent streams with holes

wire_decode inputs are: link-type index (as in fuzz_targets/wire_decode.rs), wire-length
slack byte (0: the frame as captured), frame bytes. peer_wire inputs follow the op encoding
documented in fuzz_targets/peer_wire.rs.
"""
import gzip
import hashlib
import os
import struct
import sys

# Same order as LINKS in fuzz_targets/wire_decode.rs; anything else maps to the last entry.
LINKS = [0, 1, 9, 12, 14, 50, 101, 108, 113, 192, 228, 229, 239, 276, 147]
MAX_FRAMES_PER_FILE = 40


def link_index(lt):
    return LINKS.index(lt) if lt in LINKS else len(LINKS) - 1


def pcap_frames(b):
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return
    if len(b) < 24:
        return
    link = struct.unpack(e + "I", b[20:24])[0] & 0xFFFF
    off = 24
    while off + 16 <= len(b):
        _, _, caplen, _ = struct.unpack(e + "IIII", b[off:off + 16])
        data = b[off + 16:off + 16 + caplen]
        if len(data) < caplen or caplen > 262144:
            return
        yield link, data
        off += 16 + caplen


def pcapng_frames(b):
    off = 0
    e = "<"
    links = []
    while off + 12 <= len(b):
        btype_le = struct.unpack("<I", b[off:off + 4])[0]
        if btype_le == 0x0A0D0D0A:
            bom = b[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        btype, blen = struct.unpack(e + "II", b[off:off + 8])
        if blen < 12 or off + blen > len(b):
            return
        body = b[off + 8:off + blen - 4]
        if btype == 1 and len(body) >= 8:
            links.append(struct.unpack(e + "H", body[0:2])[0])
        elif btype == 6 and len(body) >= 20:
            if_id, _, _, caplen, _ = struct.unpack(e + "IIIII", body[:20])
            if if_id < len(links):
                yield links[if_id], body[20:20 + caplen]
        elif btype == 3 and len(body) >= 4 and links:
            yield links[0], body[4:]
        off += blen


def frames_cmd(out, files):
    os.makedirs(out, exist_ok=True)
    n = 0
    for f in files:
        b = open(f, "rb").read()
        if b[:2] == b"\x1f\x8b":
            try:
                b = gzip.decompress(b)
            except Exception:
                continue
        gen = pcapng_frames(b) if b[:4] == b"\x0a\x0d\x0d\x0a" else pcap_frames(b)
        seen = set()
        try:
            for i, (link, data) in enumerate(gen):
                if i >= MAX_FRAMES_PER_FILE:
                    break
                blob = bytes([link_index(link), 0]) + data
                h = hashlib.sha1(blob).hexdigest()
                if h in seen:
                    continue
                seen.add(h)
                open(os.path.join(out, h), "wb").write(blob)
                n += 1
        except (struct.error, ValueError):
            pass
    print(f"wire_decode: {n} frames")


# ---- peer_wire programs --------------------------------------------------------------

PSTR = b"\x13BitTorrent protocol"


def handshake(reserved=b"\x00" * 5 + b"\x10\x00\x05"):
    return PSTR + reserved + bytes(range(20)) + b"-TR3000-" + b"x" * 12


def msg(mid, body=b""):
    return struct.pack(">I", len(body) + 1) + bytes([mid]) + body


def piece(index, begin, block):
    return msg(7, struct.pack(">II", index, begin) + block)


EXT = b"d1:md11:ut_metadatai3e6:ut_pexi1ee1:pi51413e4:reqqi512e1:v17:Transmission 3.00e"


class Prog:
    def __init__(self, events=False):
        self.b = bytearray([0x80 if events else 0x00, 0])  # op 0: empty client data
        self.frame_flag = 0

    def _op(self, side, op):
        self.frame_flag ^= 0x10
        self.b.append(self.frame_flag | (op << 1) | side)

    def data(self, side, payload):
        for i in range(0, len(payload), 1000):
            chunk = payload[i:i + 1000]
            self._op(side, 2)
            self.b += struct.pack("<H", len(chunk)) + chunk

    def hole(self, side, n):
        self._op(side, 4)
        self.b += struct.pack("<I", n)

    def gap(self, side, gap, payload):
        self._op(side, 5)
        self.b += bytes([gap - 1, len(payload)]) + payload

    def overlap(self, side, back, payload):
        self._op(side, 6)
        self.b += bytes([back, len(payload)]) + payload

    def swap(self):
        self._op(0, 7)


def peer_wire_cmd(out):
    os.makedirs(out, exist_ok=True)
    progs = {}

    p = Prog(events=True)
    p.data(0, handshake())
    p.data(1, handshake())
    p.data(0, msg(20, b"\x00" + EXT))
    p.data(1, msg(5, b"\xff" * 20) + msg(1))
    p.data(0, msg(2) + msg(6, struct.pack(">III", 0, 0, 16384)))
    p.data(1, piece(0, 0, b"\xab" * 200))
    p.hole(1, 16384 - 200)
    p.data(1, piece(0, 16384, b"\xcd" * 100) + msg(4, struct.pack(">I", 7)))
    progs["bt-full"] = p

    # Glasnost: 200-byte snaplen, 12.5 MB pieces mostly holes.
    p = Prog()
    p.data(0, handshake())
    p.data(1, handshake())
    p.data(1, msg(5, b"\x5a" * 165))
    p.data(1, piece(0, 0, b"\x11" * 187))
    p.hole(1, 12_500_000 - 187)
    p.data(1, piece(1, 0, b"\x22" * 50))
    progs["glasnost-cut"] = p

    # Header inside a hole, then a resync on a trusted piece header.
    p = Prog()
    p.data(0, handshake())
    p.data(0, msg(2)[:3])
    p.hole(0, 40)
    p.data(0, b"\x00" * 13 + piece(3, 32768, b"\x00" * 16384)[:300])
    p.hole(0, 16384 - 300 + 13 + 9)
    p.data(0, msg(4, b"\x00\x00\x00\x01") + msg(4, b"\x00\x00\x00\x02") + msg(1))
    progs["lost-resync"] = p

    # MSE-like preamble then a handshake; gaps and overlaps.
    p = Prog()
    p.data(0, hashlib.sha256(b"k").digest() * 4 + b"\x00" * 30)
    p.data(0, handshake())
    p.gap(0, 5, msg(0))
    p.overlap(0, 3, msg(3) + msg(14))
    p.swap()
    p.data(1, b"replay 1\nport 6881 ok\n")
    progs["preamble-gaps"] = p

    # Glasnost command channel and control flow shapes.
    p = Prog()
    p.data(0, b"replay 3 bt 6881\n")
    p.data(1, b"port 6881 ok\nlog done\n")
    progs["command"] = p
    p = Prog()
    p.data(0, hashlib.sha512(b"r").digest() + b"\x01\x02\x03\x04")
    p.data(1, hashlib.sha512(b"s").digest() + b"\x05\x06\x07\x08")
    p.data(0, hashlib.sha512(b"t").digest() * 2 + b"\x00" * 38)
    progs["control"] = p

    for name, p in progs.items():
        open(os.path.join(out, name), "wb").write(bytes(p.b))
    print(f"peer_wire: {len(progs)} programs")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "frames":
        frames_cmd(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 3 and sys.argv[1] == "peer-wire":
        peer_wire_cmd(sys.argv[2])
    else:
        sys.exit(__doc__)
