#!/usr/bin/python3
"""http_stall_client.py HOST PORT PATH: a client that asks for a follow
stream and then never reads a byte (test_http.sh): a small receive buffer,
the request sent, then a sleep until it is killed."""
import socket
import sys
import time

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, port))
s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
print("connected", flush=True)
time.sleep(120)
