#!/usr/bin/python3
"""relp_server.py: a RELP server that can misbehave the way rsyslogd's
imrelp does when it is stopped, for tests/test_forward_relp_acks.sh.

    relp_server.py PORT_FILE MESSAGES_FILE [--hold N]...

Listens on 127.0.0.1 on a free port (written to PORT_FILE once it
listens) and speaks RELP (librelp's doc/relp.html): each frame is
"TXNR SP COMMAND SP DATALEN [SP DATA] LF"; "open" is answered with its
offers, every "syslog" with "rsp 200 OK" after its message (newlines as
\\n) is appended to MESSAGES_FILE, "close" with "rsp 200 OK" and then the
"serverclose" hint, as librelp's server does.

Each --hold N makes one session, in order from the first, answer only the
first N messages; the rest it neither stores nor answers, and it answers
the client's "close" with nothing but "serverclose" and a closed
connection.  That is rsyslogd stopped (SIGTERM) while a client waits for
the answers to the end of its session: imrelp stops reading, and its
librelp sends "serverclose" to every session.  Those messages were never
acknowledged: a client must send them again.
"""
import os
import socket
import sys


def parse(buf):
    """(txnr, command, data, length) of the whole frame at buf's start, or
    None while it is not whole."""
    parts = buf.split(b" ", 2)
    if len(parts) < 3:
        return None
    txnr, cmd, rest = parts
    digits = 0
    while digits < len(rest) and rest[digits:digits + 1].isdigit():
        digits += 1
    if digits == len(rest):
        return None
    n = int(rest[:digits])
    start = digits + 1 if n else digits  # DATALEN 0: no SP, no DATA
    if len(rest) < start + n + 1:
        return None
    assert rest[start + n:start + n + 1] == b"\n", "no trailer: %r" % buf
    length = len(txnr) + len(cmd) + 2 + start + n + 1
    return int(txnr), cmd.decode(), rest[start:start + n], length


def frames(conn):
    """Yield (txnr, command, data) for each frame the client sends."""
    buf = b""
    while True:
        frame = parse(buf)
        if frame is not None:
            buf = buf[frame[3]:]
            yield frame[:3]
            continue
        chunk = conn.recv(65536)
        if not chunk:
            return
        buf += chunk


def send(conn, txnr, cmd, data=b""):
    body = b" %d" % len(data) + (b" " + data if data else b"")
    conn.sendall(b"%d %s%s\n" % (txnr, cmd.encode(), body))


def session(conn, out, hold):
    """One RELP session; hold: how many messages to answer, or None."""
    answered = 0
    for txnr, cmd, data in frames(conn):
        if cmd == "open":
            send(conn, txnr, "rsp", b"200 OK\nrelp_version=0\n"
                 b"relp_software=relp_server.py\ncommands=syslog")
        elif cmd == "syslog":
            if hold is not None and answered >= hold:
                continue
            out.write(data.decode().replace("\n", "\\n") + "\n")
            out.flush()
            send(conn, txnr, "rsp", b"200 OK")
            answered += 1
        elif cmd == "close":
            if hold is None:
                send(conn, txnr, "rsp", b"200 OK")
            send(conn, 0, "serverclose")
            return
        else:
            send(conn, txnr, "rsp", b"500 unknown command")


def main():
    port_file, messages = sys.argv[1], sys.argv[2]
    holds = [int(n) for flag, n in zip(sys.argv[3::2], sys.argv[4::2])
             if flag == "--hold"]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(port_file + ".tmp", port_file)
    with open(messages, "a") as out:
        while True:
            conn, _ = srv.accept()
            with conn:
                try:
                    session(conn, out, holds.pop(0) if holds else None)
                except (ConnectionError, AssertionError) as e:
                    print("relp_server.py: session ended: %s" % e,
                          file=sys.stderr)


if __name__ == "__main__":
    main()
