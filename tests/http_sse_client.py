#!/usr/bin/python3
"""http_sse_client.py URL COUNT TIMEOUT [TOKEN]: an EventSource as a browser
runs it, for test_http.sh.  Reads `event: log` events (format=json data) and
prints each record's seq on a line as it comes; when the connection fails or
ends it connects again after 0.2 s with Last-Event-ID set to the last id
seen, as EventSource does.  Prints "reconnects N" on stderr at the end.
Exits 0 once COUNT records came, 1 after TIMEOUT seconds."""
import json
import socket
import sys
import time
import urllib.error
import urllib.request

url, count, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
token = sys.argv[4] if len(sys.argv) > 4 else None
deadline = time.monotonic() + timeout
last_id, got, reconnects = None, 0, 0

while time.monotonic() < deadline and got < count:
    headers = {"Accept": "text/event-stream"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    if token:
        headers["Authorization"] = "Bearer " + token
    try:
        req = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(req, timeout=5) as resp:
            event, data, eid = "message", [], None
            for raw in resp:
                line = raw.decode("utf-8").rstrip("\n")
                if line == "":
                    if event == "log" and data:
                        rec = json.loads("\n".join(data))
                        print(rec["seq"], flush=True)
                        got += 1
                        if eid:
                            last_id = eid
                        if got >= count:
                            break
                    elif event == "error":
                        print("error " + "\n".join(data), file=sys.stderr)
                    event, data, eid = "message", [], None
                elif line.startswith(":"):
                    continue
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        event = value
                    elif field == "data":
                        data.append(value)
                    elif field == "id":
                        eid = value
    except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
        pass
    if got < count:
        reconnects += 1
        time.sleep(0.2)

print("reconnects %d" % reconnects, file=sys.stderr)
sys.exit(0 if got >= count else 1)
