#!/usr/bin/env python3
"""mini-tracker.py: the smallest HTTP BitTorrent tracker (BEP 3, compact peer lists, BEP 23)
that bttrace's client-capture script needs. Standard library only.

    python3 mini-tracker.py --listen 203.0.113.254:6969 [--tell 198.51.100.1] [--log FILE]

GET /announce?info_hash=..&peer_id=..&port=..&compact=1[&event=..] answers
`d8:completei..e10:incompletei..e8:intervali3600e12:min intervali3600e5:peers<6n bytes>e`:
every other peer of that info_hash (address = the request's source address, port = the port
parameter), never the asker itself. With --tell ADDR (repeatable) only askers from those
addresses get peers; everyone else gets an empty list. That decides which side opens the
peer-wire connection: the one told. event=stopped removes the peer. The interval is an hour,
so nobody re-announces during a capture.
"""
import argparse
import http.server
import sys
import urllib.parse


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, str):
        return bencode(v.encode())
    if isinstance(v, dict):
        return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(type(v))


class Tracker(http.server.BaseHTTPRequestHandler):
    swarms = {}   # info_hash -> {peer_id: (ip, port, left)}
    tell = set()
    log = sys.stderr

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True, encoding="latin-1")
        try:
            ih = q["info_hash"][0].encode("latin-1")
            pid = q["peer_id"][0].encode("latin-1")
            port = int(q["port"][0])
        except (KeyError, ValueError, IndexError):
            self.reply(bencode({"failure reason": "bad announce"}))
            return
        left = int(q.get("left", ["0"])[0] or 0)
        event = q.get("event", [""])[0]
        ip = self.client_address[0]
        swarm = self.swarms.setdefault(ih, {})
        if event == "stopped":
            swarm.pop(pid, None)
        else:
            swarm[pid] = (ip, port, left)
        peers = b""
        if not self.tell or ip in self.tell:
            for other, (oip, oport, _) in sorted(swarm.items()):
                if other != pid and event != "stopped":
                    peers += bytes(int(x) for x in oip.split(".")) + oport.to_bytes(2, "big")
        print("announce %s:%d info_hash=%s event=%s left=%d -> %d peers"
              % (ip, port, ih.hex(), event or "-", left, len(peers) // 6),
              file=self.log, flush=True)
        self.reply(bencode({
            "interval": 3600, "min interval": 3600, "peers": peers,
            "complete": sum(1 for p in swarm.values() if p[2] == 0),
            "incomplete": sum(1 for p in swarm.values() if p[2] != 0),
        }))

    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", required=True, help="ADDR:PORT")
    ap.add_argument("--tell", action="append", default=[], help="only this address gets peers")
    ap.add_argument("--log", help="append announces here (default stderr)")
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    Tracker.tell = set(a.tell)
    if a.log:
        Tracker.log = open(a.log, "a")
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    http.server.ThreadingHTTPServer((host, int(port)), Tracker).serve_forever()


if __name__ == "__main__":
    main()
