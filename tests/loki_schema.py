#!/usr/bin/env python3
"""loki_schema.py KIND < BODY: check a Loki API answer against the shape
Loki's HTTP API documents, then print what it holds (test_loki.c compares
that).  KIND: streams (query, query_range), labels (labels, label values)
or error.  Exit 1 with the reason on stderr when the shape is wrong.

streams: a line "k=v ..." per stream (labels sorted), then "  NS LINE" per
value (a newline in LINE as \\n).  labels: a value per line.  error:
"errorType: error".
"""
import json
import sys


def need(cond, what):
    if not cond:
        sys.exit("not Loki's shape: " + what)


def streams(doc):
    need(set(doc) == {"status", "data"}, "keys status and data")
    need(doc["status"] == "success", 'status "success"')
    data = doc["data"]
    need(isinstance(data, dict), "data an object")
    need(set(data) == {"resultType", "result", "stats"},
         "data's keys resultType, result, stats")
    need(data["resultType"] == "streams", 'resultType "streams"')
    need(isinstance(data["stats"], dict), "stats an object")
    need(isinstance(data["result"], list), "result an array")
    seen = set()
    for s in data["result"]:
        need(isinstance(s, dict) and set(s) == {"stream", "values"},
             "a result {stream, values}")
        labels = s["stream"]
        need(isinstance(labels, dict) and labels, "stream an object")
        need(all(isinstance(k, str) and isinstance(v, str)
                 for k, v in labels.items()), "labels strings")
        key = tuple(sorted(labels.items()))
        need(key not in seen, "a label set in one stream only")
        seen.add(key)
        print(" ".join(f"{k}={v}" for k, v in key))
        times = []
        for v in s["values"]:
            need(isinstance(v, list) and len(v) == 2, "a value [ts, line]")
            need(isinstance(v[0], str) and v[0].isdigit(),
                 "a timestamp: nanoseconds as a string")
            need(isinstance(v[1], str), "a line: a string")
            times.append(int(v[0]))
            print(f"  {v[0]} " + v[1].replace("\n", "\\n"))
        need(times == sorted(times) or times == sorted(times, reverse=True),
             "values sorted by time")


def labels(doc):
    need(set(doc) == {"status", "data"}, "keys status and data")
    need(doc["status"] == "success", 'status "success"')
    need(isinstance(doc["data"], list) and
         all(isinstance(v, str) for v in doc["data"]), "data strings")
    for v in doc["data"]:
        print(v)


def error(doc):
    need(doc.get("status") == "error", 'status "error"')
    need(isinstance(doc.get("errorType"), str), "errorType a string")
    need(isinstance(doc.get("error"), str), "error a string")
    need(doc.get("message") == doc["error"], "message the error")
    print(f'{doc["errorType"]}: {doc["error"]}')


doc = json.loads(sys.stdin.read())
{"streams": streams, "labels": labels, "error": error}[sys.argv[1]](doc)
