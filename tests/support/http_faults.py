#!/usr/bin/env python3
"""An HTTP server on 127.0.0.1 that misbehaves on purpose, for the client's tests.

Prints "PORT <n>" on stdout once it listens, then serves until killed.
With --cert/--key it speaks TLS.

Routes (KEY names a counter, so each test has its own):
  /ok                          200 "hello"
  /headers                     200, the request's headers as JSON
  /status/CODE                 CODE with a short body
  /flaky/KEY?fail=N&status=S   S (default 503) for the first N requests, then 200
  /retry-after/KEY?secs=S      429 with Retry-After: S once, then 200
  /hang?secs=S                 waits S seconds before answering
  /big?bytes=N                 200 with N bytes
  /object/KEY?size=N&cut=M     an object of N bytes (byte i is i % 251), ETag "v1";
        [&changed=1]           the first answer stops after M bytes and closes the
        [&norange=1]
                               connection; a Range request gets 206 with the rest
                               when If-Match matches the ETag, else 412 (with
                               changed=1 the ETag is "v2" after the first request;
                               with norange=1 Range is ignored: 200 and the whole object)
  /log/KEY                     JSON list of {path, range, if_match, t} of KEY's requests
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from serve import serve

counts = {}
logs = {}
lock = threading.Lock()


def obj(size):
    return bytes(i % 251 for i in range(size))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        self.rfile.read(n)
        self.do_GET()

    def do_GET(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        parts = u.path.strip("/").split("/")
        key = parts[1] if len(parts) > 1 else ""
        if parts[0] == "log":
            with lock:
                body = json.dumps(logs.get(key, [])).encode()
            self.send(200, body)
            return
        with lock:
            counts[key] = counts.get(key, 0) + 1
            n = counts[key]
            logs.setdefault(key, []).append({
                "path": u.path, "range": self.headers.get("Range"),
                "if_match": self.headers.get("If-Match"), "t": time.monotonic()})
        route = parts[0]
        if route == "ok":
            self.send(200, b"hello")
        elif route == "headers":
            self.send(200, json.dumps(dict(self.headers.items())).encode())
        elif route == "status":
            self.send(int(parts[1]), b"status %s body" % parts[1].encode())
        elif route == "flaky":
            if n <= int(q.get("fail", 1)):
                self.send(int(q.get("status", 503)), b"try later")
            else:
                self.send(200, b"ok after %d" % (n - 1))
        elif route == "retry-after":
            if n == 1:
                self.send(429, b"slow down", [("Retry-After", q.get("secs", "1"))])
            else:
                self.send(200, b"ok")
        elif route == "hang":
            time.sleep(float(q.get("secs", 5)))
            self.send(200, b"late")
        elif route == "big":
            self.send(200, b"x" * int(q.get("bytes", 1000)))
        elif route == "object":
            self.object(q, n)
        else:
            self.send(404, b"no such route")

    def object(self, q, n):
        size = int(q.get("size", 100000))
        data = obj(size)
        etag = '"v2"' if q.get("changed") and n > 1 else '"v1"'
        rng = None if q.get("norange") else self.headers.get("Range")
        if rng:
            if self.headers.get("If-Match") not in (None, etag):
                self.send(412, b"<Error><Code>PreconditionFailed</Code></Error>")
                return
            start = int(rng.split("=")[1].split("-")[0])
            body = data[start:]
            self.send(206, body, [("ETag", etag),
                                  ("Content-Range", f"bytes {start}-{size - 1}/{size}")])
            return
        cut = int(q.get("cut", size))
        if n == 1 and cut < size:
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send(200, data, [("ETag", etag)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    serve(Handler, args.cert, args.key)


if __name__ == "__main__":
    sys.exit(main())
