#!/usr/bin/env python3
"""to_glasnost_form: rewrite a pcap into the form a Glasnost server (2010+) wrote its traces in.

Usage: to_glasnost_form.py [--payload 200] [--host IP] [--command-port 19970 ...] IN.pcap OUT.pcap

Output: microsecond pcap, link type RAW IP (LINKTYPE_RAW 101), file snaplen 4096; IPv4 only
(everything else, ARP included, is dropped, as Glasnost's `host <client ip>` filter on an IPv4
server left nothing else). Every TCP packet is cut to IP header + TCP header + at most the
first --payload (200) payload bytes, except the command channel (TCP port 19970, or the ports
given with --command-port, repeatable; --command-port 0 keeps no port whole), which is kept
whole; other IPv4 packets are kept whole up to 4096 bytes. Each record's original length is the
IP total length (link-layer header and Ethernet padding gone), so the stream position of every
byte stays known where the bytes are missing. With --host, only packets to or from that address
are kept.

Input: a pcap (not pcapng; convert with `editcap -F pcap` first) with link type Ethernet
(1, 802.1Q tags skipped), Linux cooked SLL (113) or SLL2 (276), or raw IP (101, 12, 14);
microsecond or nanosecond timestamps, either byte order. Python 3, standard library only.
"""

import argparse
import ipaddress
import struct
import sys

LINKTYPE_RAW = 101
SNAPLEN = 4096
COMMAND_PORT = 19970


def ip_offset(linktype, frame):
    """Offset of the IP header in a frame, or None when the frame carries no IPv4."""
    if linktype == 1:                                   # Ethernet, maybe VLAN-tagged
        off, etype = 14, frame[12:14]
        while etype in (b"\x81\x00", b"\x88\xa8") and len(frame) >= off + 4:
            etype, off = frame[off + 2:off + 4], off + 4
        return off if etype == b"\x08\x00" else None
    if linktype == 113:                                 # Linux cooked SLL
        return 16 if frame[14:16] == b"\x08\x00" else None
    if linktype == 276:                                 # Linux cooked SLL2
        return 20 if frame[0:2] == b"\x08\x00" else None
    if linktype in (101, 12, 14):                       # raw IP
        return 0 if frame[:1] and frame[0] >> 4 == 4 else None
    raise ValueError("unsupported link type %d" % linktype)


def glasnost_cut(ip, payload_keep=200, command_ports=(COMMAND_PORT,)):
    """For an IPv4 packet (bytes from its IP header on), return (kept bytes, original length).
    TCP packets to or from one of `command_ports` are kept whole."""
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack(">H", ip[2:4])[0]
    keep = total
    frag_off = struct.unpack(">H", ip[6:8])[0] & 0x1FFF
    if ip[9] == 6 and frag_off == 0 and len(ip) >= ihl + 13:
        sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
        thl = (ip[ihl + 12] >> 4) * 4
        if sport not in command_ports and dport not in command_ports:
            keep = ihl + thl + min(payload_keep, max(0, total - ihl - thl))
    return ip[:min(keep, total, SNAPLEN)], total


def convert(src, dst, payload_keep=200, host=None, command_ports=(COMMAND_PORT,)):
    """Read pcap from file object src, write the Glasnost form to dst; return (kept, dropped)."""
    head = src.read(24)
    magic = head[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError("not a pcap file (pcapng? convert with editcap -F pcap)")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", head[20:24])[0] & 0x0FFFFFFF
    want = ipaddress.IPv4Address(host).packed if host else None
    dst.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW))
    kept = dropped = 0
    rec = struct.Struct(endian + "IIII")
    while True:
        h = src.read(16)
        if len(h) < 16:
            break
        sec, frac, incl, _orig = rec.unpack(h)
        frame = src.read(incl)
        if len(frame) < incl:
            break                                       # a cut-short last record
        off = ip_offset(linktype, frame)
        ip = frame[off:] if off is not None else b""
        if len(ip) < 20 or ip[0] >> 4 != 4 or (want and want not in (ip[12:16], ip[16:20])):
            dropped += 1
            continue
        data, orig = glasnost_cut(ip, payload_keep, command_ports)
        dst.write(struct.pack("<IIII", sec, frac // 1000 if nano else frac, len(data), orig))
        dst.write(data)
        kept += 1
    return kept, dropped


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--payload", type=int, default=200, help="TCP payload bytes kept per packet")
    ap.add_argument("--host", help="keep only packets to or from this IPv4 address")
    ap.add_argument("--command-port", type=int, action="append", metavar="PORT",
                    help="keep TCP packets to or from PORT whole (repeatable; default %d, the "
                    "command channel; 0 = none)" % COMMAND_PORT)
    a = ap.parse_args(argv)
    ports = tuple(p for p in (a.command_port or [COMMAND_PORT]) if p)
    with open(a.input, "rb") as src, open(a.output, "wb") as dst:
        kept, dropped = convert(src, dst, a.payload, a.host, ports)
    print("%s: %d packets written, %d dropped (not IPv4 or not the host)" % (a.output, kept, dropped),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
