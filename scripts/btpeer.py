#!/usr/bin/env python3
"""btpeer: one Glasnost-style BitTorrent transfer, or its control twin, over one TCP connection.

It emulates what the Glasnost BitTorrent test put on the wire (see shared/DOMAIN.md, sections 2
and 5, and Glasnost's protocols.spec), so that bttrace's users and tests get real captures of
known content:

  downloader -> seeder  handshake   68 B  0x13 "BitTorrent protocol", 8 zero reserved bytes,
                                          20-byte info-hash, 20-byte peer-id "-GN0100-" + 12 chars
  seeder -> downloader  handshake   68 B  same, echoing reserved + info-hash, its own peer-id
  downloader -> seeder  bitfield   166 B  length 162, id 5, 161 bytes 0x00
  seeder -> downloader  bitfield   166 B  length 162, id 5, 161 bytes 0xFF
  downloader -> seeder  interested   5 B  length 1, id 2
  seeder -> downloader  unchoke      5 B  length 1, id 1
  then, until the seeder's --duration expires:
  downloader -> seeder  request     17 B  length 13, id 6, index, begin 0, length = piece size - 13
  seeder -> downloader  piece        N B  length N - 4, id 7, index, begin 0, block (random bytes)

As in Glasnost's script the downloader speaks first whichever end opened the connection: in a
"download" (the TCP client downloads) the TCP client sends the first handshake, in an "upload" the
TCP server does. The seeder stops when --duration has passed, in the middle of a piece if need
be (as the 2010+ replayer did; --whole-pieces finishes the piece in progress), and closes with a
FIN; the downloader closes when it reads the end of the stream (or --duration + 1 s later).
The control twin ("--kind control") sends the same message sizes in the same order with the same
timing, every byte random.

--abort-after S makes this end reset the connection S seconds into the piece phase
(SO_LINGER 0, then close: a genuine endpoint RST).

Usage, e.g. in two shells (or two network namespaces):
  btpeer.py --role server --listen 203.0.113.1:6881 --kind bt --direction download --duration 5
  btpeer.py --role client --connect 203.0.113.1:6881 --kind bt --direction download --duration 5

Python 3.8+, standard library only. The functions are importable, e.g. to build a test generator:
handshake(), bitfield(), request(), piece_header(), run_session().
"""

import argparse
import os
import random
import socket
import string
import struct
import sys
import time

PSTR = b"BitTorrent protocol"
HANDSHAKE_LEN = 68
BITFIELD_LEN = 166          # 4-byte length 162 + id 5 + 161 bytes
BITFIELD_BYTES = 161
INTERESTED_LEN = UNCHOKE_LEN = 5
REQUEST_LEN = 17
PIECE_HEADER_LEN = 13       # 4-byte length + id 7 + index + begin
PIECE_2009 = 262157         # 256 KiB block (2009 test)
PIECE_2010 = 12500013       # 12,500,000-byte block (2010+ replayer)
MSG_UNCHOKE, MSG_INTERESTED, MSG_BITFIELD, MSG_REQUEST, MSG_PIECE = 1, 2, 5, 6, 7
CHUNK = 65536               # the seeder writes piece data in chunks this big


def peer_id(prefix=b"-GN0100-", rng=random):
    """An Azureus-style peer-id: the prefix then random alphanumerics, 20 bytes in all."""
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(rng.choice(alphabet) for _ in range(20 - len(prefix))).encode()


def handshake(info_hash, pid, reserved=bytes(8)):
    """The 68-byte handshake: pstrlen 19, pstr, reserved, info-hash, peer-id."""
    assert len(info_hash) == 20 and len(pid) == 20 and len(reserved) == 8
    return bytes([len(PSTR)]) + PSTR + reserved + info_hash + pid


def message(msg_id, payload=b""):
    """A peer-wire message: 4-byte big-endian length, 1-byte id, payload."""
    return struct.pack(">IB", 1 + len(payload), msg_id) + payload


def bitfield(seeder):
    """166-byte bitfield: 161 bytes 0xFF from the seeder, 0x00 from the downloader."""
    return message(MSG_BITFIELD, (b"\xff" if seeder else b"\x00") * BITFIELD_BYTES)


def interested():
    return message(MSG_INTERESTED)


def unchoke():
    return message(MSG_UNCHOKE)


def request(index, begin, length):
    """17-byte request for `length` bytes of piece `index` at offset `begin`."""
    return message(MSG_REQUEST, struct.pack(">III", index, begin, length))


def piece_header(index, begin, block_len):
    """The first 13 bytes of a piece message carrying `block_len` bytes of block."""
    return struct.pack(">IBII", 9 + block_len, MSG_PIECE, index, begin)


def recv_exact(sock, n):
    """Read exactly n bytes; fewer only if the stream ends first."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            break
        got += k
    return bytes(buf[:got])


def recv_discard(sock, n, scratch, stop=None):
    """Read and drop n bytes (piece bodies); return how many were read before the stream ended,
    or before stop() turned true (polled when the socket has a timeout and a read times out)."""
    view, got = memoryview(scratch), 0
    while got < n:
        try:
            k = sock.recv_into(view, min(n - got, len(scratch)))
        except socket.timeout:
            if stop is not None and stop():
                break
            continue
        if k == 0:
            break
        got += k
    return got


class Pacer:
    """Keeps a sender at or below `rate` bytes per second (no limit when rate is 0)."""

    def __init__(self, rate):
        self.rate, self.start, self.sent = rate, time.monotonic(), 0

    def wait(self, nbytes):
        self.sent += nbytes
        if self.rate:
            ahead = self.sent / self.rate - (time.monotonic() - self.start)
            if ahead > 0:
                time.sleep(ahead)


def abort(sock):
    """Reset the connection: SO_LINGER with timeout 0, then close."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def run_session(sock, kind="bt", seeder=False, piece_size=PIECE_2009, duration=10.0, rate=0,
                whole_pieces=False, abort_after=None, rng=None, log=None):
    """Play one end of a transfer on a connected socket. Returns a dict of what was done.

    kind: "bt" or "control"; seeder: True for the end that sends piece data.
    Raises ConnectionError if the peer resets the connection.
    """
    rng = rng or random.Random()
    rand = lambda n: rng.randbytes(n) if hasattr(rng, "randbytes") else os.urandom(n)
    ctl = kind == "control"
    block_len = piece_size - PIECE_HEADER_LEN
    stats = {"sent": 0, "received": 0, "pieces": 0, "end": "fin"}
    log = log or (lambda *_: None)

    def send(data):
        sock.sendall(data)
        stats["sent"] += len(data)

    def expect(n, what):
        data = recv_exact(sock, n)
        stats["received"] += len(data)
        if len(data) < n:
            raise EOFError("stream ended while waiting for the %s" % what)
        return data

    # Set-up phase: downloader first at each step, the seeder answers.
    if not seeder:
        info_hash = rand(20)
        send(rand(HANDSHAKE_LEN) if ctl else handshake(info_hash, peer_id(rng=rng)))
        expect(HANDSHAKE_LEN, "handshake")
        send(rand(BITFIELD_LEN) if ctl else bitfield(False))
        expect(BITFIELD_LEN, "bitfield")
        send(rand(INTERESTED_LEN) if ctl else interested())
        expect(UNCHOKE_LEN, "unchoke")
    else:
        theirs = expect(HANDSHAKE_LEN, "handshake")
        send(rand(HANDSHAKE_LEN) if ctl else
             handshake(theirs[28:48], peer_id(rng=rng), reserved=theirs[20:28]))
        expect(BITFIELD_LEN, "bitfield")
        send(rand(BITFIELD_LEN) if ctl else bitfield(True))
        expect(INTERESTED_LEN, "interested")
        send(rand(UNCHOKE_LEN) if ctl else unchoke())
    log("set-up done, piece phase starts")

    start = time.monotonic()
    aborted = lambda: abort_after is not None and time.monotonic() - start >= abort_after
    block = rand(min(block_len, 4 << 20))       # block bytes, reused cyclically
    scratch = bytearray(1 << 20)

    if not seeder:
        deadline = start + duration + 1.0       # the receiver runs 1 s longer
        if abort_after is not None:
            sock.settimeout(0.05)               # wake up now and then to check aborted()
        index = 0
        while time.monotonic() < deadline and not aborted():
            send(rand(REQUEST_LEN) if ctl else request(index, 0, block_len))
            got = recv_discard(sock, piece_size, scratch, aborted)
            stats["received"] += got
            if got < piece_size:
                break                           # the seeder stopped, maybe mid-piece
            stats["pieces"] += 1
            index += 1
    else:
        pacer = Pacer(rate)
        chunk = min(CHUNK, max(1024, int(rate / 50))) if rate else CHUNK   # pace in ~20 ms steps
        deadline = start + duration
        done = False
        while not done and time.monotonic() < deadline and not aborted():
            req = recv_exact(sock, REQUEST_LEN)
            stats["received"] += len(req)
            if len(req) < REQUEST_LEN:
                break
            head = rand(PIECE_HEADER_LEN) if ctl else piece_header(
                *struct.unpack(">II", req[5:13]), block_len)
            left = block_len
            while left:
                if (not whole_pieces and time.monotonic() >= deadline) or aborted():
                    done = True
                    break
                off = (block_len - left) % len(block)
                n = min(left, chunk, len(block) - off)
                data = memoryview(block)[off:off + n]
                if head:                        # the header goes out with the first chunk
                    data, head = head + data, b""
                send(data)
                pacer.wait(len(data))
                left -= n
            if not left:
                stats["pieces"] += 1

    if aborted():
        abort(sock)
        stats["end"] = "rst"
        log("aborted with RST")
        return stats
    # Orderly close: FIN, then read until the peer's FIN so that no unread byte makes a RST.
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(duration + 5)
    while True:
        got = recv_discard(sock, len(scratch), scratch)
        stats["received"] += got
        if got < len(scratch):
            break
    sock.close()
    return stats


def parse_addr(text):
    host, _, port = text.rpartition(":")
    return host or "0.0.0.0", int(port)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--role", choices=["server", "client"], required=True)
    ap.add_argument("--listen", metavar="ADDR:PORT", help="server: where to listen")
    ap.add_argument("--connect", metavar="ADDR:PORT", help="client: where to connect")
    ap.add_argument("--bind", metavar="ADDR[:PORT]", help="client: local address (and port)")
    ap.add_argument("--kind", choices=["bt", "control"], default="bt")
    ap.add_argument("--direction", choices=["upload", "download"], default="download",
                    help="from the client's side: download = the server sends the pieces")
    ap.add_argument("--piece-size", type=int, default=PIECE_2009,
                    help="bytes per piece message (default %(default)s; 12500013 for 2010+)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds the seeder sends")
    ap.add_argument("--rate", type=float, default=0, help="seeder's pace in bytes/s (0 = no limit)")
    ap.add_argument("--whole-pieces", action="store_true",
                    help="finish the piece in progress when the duration expires")
    ap.add_argument("--abort-after", type=float, metavar="S",
                    help="reset the connection (RST) S seconds into the piece phase")
    ap.add_argument("--connect-timeout", type=float, default=20.0)
    ap.add_argument("--seed", type=int, help="seed the random bytes (reproducible content)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    if a.piece_size <= PIECE_HEADER_LEN:
        ap.error("--piece-size must exceed %d" % PIECE_HEADER_LEN)

    tag = "btpeer %s %s %s" % (a.role, a.kind, a.direction)
    log = (lambda msg: print("%s: %s" % (tag, msg), file=sys.stderr)) if a.verbose else None
    seeder = (a.role == "server") == (a.direction == "download")
    try:
        if a.role == "server":
            if not a.listen:
                ap.error("--role server needs --listen")
            lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind(parse_addr(a.listen))
            lsock.listen(1)
            sock, peer = lsock.accept()
            lsock.close()
        else:
            if not a.connect:
                ap.error("--role client needs --connect")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if a.bind:
                host, _, port = a.bind.partition(":")
                sock.bind((host, int(port or 0)))
            sock.settimeout(a.connect_timeout)
            sock.connect(parse_addr(a.connect))
            sock.settimeout(None)
        stats = run_session(sock, a.kind, seeder, a.piece_size, a.duration, a.rate,
                            a.whole_pieces, a.abort_after, random.Random(a.seed), log)
    except (ConnectionError, socket.timeout, EOFError, OSError) as e:
        print("%s: %s" % (tag, e), file=sys.stderr)
        return 3
    print("%s: sent %d B, received %d B, %d whole pieces, closed with %s"
          % (tag, stats["sent"], stats["received"], stats["pieces"], stats["end"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
