#!/usr/bin/python3
"""loki_receiver.py: a stand-in for Grafana Loki's push endpoint, for
tests/test_forward_loki.sh (no Loki server can be installed here).

    loki_receiver.py PORT_FILE ENTRIES_FILE [--answer CODE]...

Listens on 127.0.0.1 on a free port (written to PORT_FILE once it listens)
and answers POST /loki/api/v1/push as Loki documents: the body must be
{"streams": [{"stream": {LABEL: STR, ...}, "values": [[TS, LINE] or
[TS, LINE, {KEY: STR, ...}], ...]}, ...]} with Content-Type
application/json, TS nanoseconds since the epoch as a string of digits,
LINE a string, metadata values strings.  A body that breaks the schema is
answered 400 and written to ENTRIES_FILE as {"violation": WHY}.  Each
accepted entry is one line of ENTRIES_FILE: {"labels": {...}, "ts": TS,
"line": LINE, "meta": {...}}; then 204.

Each --answer CODE (429, 500, 400) is the answer to one push, in order,
before any push is accepted (the push is not stored): the forwarder must
back off on 429 and 500 and send the batch again, and count a 400 batch as
rejected.
"""
import http.server
import json
import os
import re
import sys
import threading

DIGITS = re.compile(r"^[0-9]{1,19}$")
LABELS = {"service", "level", "logger", "host"}


def check(body):
    """The entries of a push, or raise ValueError saying what is wrong."""
    doc = json.loads(body)
    if not isinstance(doc, dict) or set(doc) != {"streams"}:
        raise ValueError("the body is not {\"streams\": [...]}")
    if not isinstance(doc["streams"], list) or not doc["streams"]:
        raise ValueError("streams is not a non-empty list")
    out = []
    for s in doc["streams"]:
        if not isinstance(s, dict) or set(s) != {"stream", "values"}:
            raise ValueError("a stream is not {stream, values}")
        labels = s["stream"]
        if not isinstance(labels, dict) or set(labels) != LABELS:
            raise ValueError("labels %r are not %r" % (labels, LABELS))
        if not all(isinstance(v, str) and v for v in labels.values()):
            raise ValueError("a label value is not a non-empty string")
        if not isinstance(s["values"], list) or not s["values"]:
            raise ValueError("values is not a non-empty list")
        for v in s["values"]:
            if not isinstance(v, list) or len(v) not in (2, 3):
                raise ValueError("an entry is not [ts, line(, meta)]")
            if not isinstance(v[0], str) or not DIGITS.match(v[0]):
                raise ValueError("timestamp %r is not ns as a string" % v[0])
            if not isinstance(v[1], str):
                raise ValueError("a line is not a string")
            meta = v[2] if len(v) == 3 else {}
            if not isinstance(meta, dict) or not all(
                    isinstance(x, str) for x in meta.values()):
                raise ValueError("structured metadata is not {str: str}")
            out.append({"labels": labels, "ts": v[0], "line": v[1],
                        "meta": meta})
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    lock = threading.Lock()
    answers = []
    entries = None

    def log_message(self, *args):
        pass

    def reply(self, code, text=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/loki/api/v1/push":
            return self.reply(404, b"404 page not found\n")
        with Handler.lock:
            if Handler.answers:
                return self.reply(Handler.answers.pop(0), b"try later\n")
            try:
                if self.headers.get("Content-Type") != "application/json":
                    raise ValueError("Content-Type is not application/json")
                entries = check(body)
            except ValueError as e:
                Handler.entries.write(json.dumps({"violation": str(e)}) + "\n")
                Handler.entries.flush()
                return self.reply(400, str(e).encode())
            for e in entries:
                Handler.entries.write(json.dumps(e) + "\n")
            Handler.entries.flush()
        self.reply(204)


def main():
    args = sys.argv[1:]
    port_file, entries_file = args[0], args[1]
    rest = args[2:]
    while rest:
        if rest[0] != "--answer":
            sys.exit("usage: loki_receiver.py PORT_FILE ENTRIES [--answer N]")
        Handler.answers.append(int(rest[1]))
        rest = rest[2:]
    Handler.entries = open(entries_file, "a")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
