#!/usr/bin/env python3
"""A Vault-compatible HTTP server for tests: the parts of Vault's documented
API the pipeline uses, answering as Vault does.

  GET  /v1/sys/health                 200, or 503 while sealed
  POST /v1/auth/approle/login         {"role_id", "secret_id"} -> auth.client_token;
                                      wrong credentials: 400 {"errors": ["invalid role or
                                      secret ID"]} (what Vault answers), or --approle-status
  GET  /v1/<kv2 mount>/data/<path>    {"data": {"data": {...}, "metadata": {...}}}
  GET  /v1/<kv1 mount>/<path>         {"data": {...}}
  Missing secret: 404 {"errors": []}. No or wrong X-Vault-Token: 403
  {"errors": ["permission denied"]}. Sealed: 503 {"errors": ["Vault is sealed"]}.
  X-Vault-Namespace selects a namespace's secrets.

Test controls (not Vault's): POST /_test/seal, /_test/unseal; GET /_test/requests
(method, path and header names of every request, in order).

--data FILE is JSON: {"tokens": [...], "approle": {"role_id": .., "secret_id": ..},
"kv2": ["secret"], "kv1": ["kv"], "secrets": {"[ns:]mount/path": {field: value}}}.
Prints "PORT <n>" once it listens on 127.0.0.1.
"""
import argparse
import json
import secrets as rnd
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler

from serve import serve

state = {"sealed": False, "requests": [], "issued": set()}
lock = threading.Lock()
cfg = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def record(self):
        with lock:
            state["requests"].append({"method": self.command, "path": self.path,
                                      "headers": sorted(self.headers.keys())})

    def do_POST(self):
        self.record()
        path = self.path.split("?")[0]
        if path == "/_test/seal":
            state["sealed"] = True
            return self.reply(200, {})
        if path == "/_test/unseal":
            state["sealed"] = False
            return self.reply(200, {})
        if state["sealed"]:
            return self.reply(503, {"errors": ["Vault is sealed"]})
        mount = cfg.get("approle_mount", "approle")
        if path == f"/v1/auth/{mount}/login":
            b = self.body()
            want = cfg.get("approle", {})
            if b is None:
                return self.reply(400, {"errors": ["failed to parse JSON input"]})
            if not b.get("role_id"):
                return self.reply(400, {"errors": ["missing role_id"]})
            if b.get("role_id") != want.get("role_id") or \
                    b.get("secret_id") != want.get("secret_id"):
                return self.reply(cfg.get("approle_status", 400),
                                  {"errors": ["invalid role or secret ID"]})
            token = "hvs." + rnd.token_urlsafe(24)
            with lock:
                state["issued"].add(token)
            return self.reply(200, {
                "request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False,
                "lease_duration": 0, "data": None, "wrap_info": None, "warnings": None,
                "auth": {"client_token": token, "accessor": str(uuid.uuid4()),
                         "policies": ["default", "finops"], "token_policies":
                         ["default", "finops"], "metadata": {"role_name": "finops"},
                         "lease_duration": 3600, "renewable": True, "entity_id": "",
                         "token_type": "service", "orphan": True}})
        return self.reply(404, {"errors": []})

    def do_GET(self):
        self.record()
        path = self.path.split("?")[0]
        if path == "/_test/requests":
            with lock:
                return self.reply(200, state["requests"])
        if path == "/v1/sys/health":
            if state["sealed"]:
                return self.reply(503, {"initialized": True, "sealed": True, "standby": False})
            return self.reply(200, {"initialized": True, "sealed": False, "standby": False})
        if state["sealed"]:
            return self.reply(503, {"errors": ["Vault is sealed"]})
        token = self.headers.get("X-Vault-Token")
        if not token or (token not in cfg.get("tokens", []) and token not in state["issued"]):
            return self.reply(403, {"errors": ["permission denied"]})
        if not path.startswith("/v1/"):
            return self.reply(404, {"errors": []})
        rest = path[4:]
        mount, _, sub = rest.partition("/")
        ns = self.headers.get("X-Vault-Namespace")
        prefix = f"{ns.strip('/')}:" if ns else ""
        if mount in cfg.get("kv2", ["secret"]):
            kind, _, sub = sub.partition("/")
            if kind != "data":
                return self.reply(404, {"errors": []})
            data = cfg.get("secrets", {}).get(f"{prefix}{mount}/{sub}")
            if data is None:
                return self.reply(404, {"errors": []})
            return self.reply(200, {
                "request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False,
                "lease_duration": 0, "wrap_info": None, "warnings": None, "auth": None,
                "data": {"data": data, "metadata": {
                    "created_time": "2026-11-01T00:00:00.000000Z", "custom_metadata": None,
                    "deletion_time": "", "destroyed": False, "version": 1}}})
        if mount in cfg.get("kv1", []):
            data = cfg.get("secrets", {}).get(f"{prefix}{mount}/{sub}")
            if data is None:
                return self.reply(404, {"errors": []})
            return self.reply(200, {"request_id": str(uuid.uuid4()), "lease_id": "",
                                    "renewable": False, "lease_duration": 2764800,
                                    "data": data, "wrap_info": None, "warnings": None,
                                    "auth": None})
        return self.reply(403, {"errors": ["permission denied"]})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--approle-status", type=int, default=400)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    with open(args.data) as f:
        cfg.update(json.load(f))
    cfg["approle_status"] = args.approle_status
    serve(Handler, args.cert, args.key)


if __name__ == "__main__":
    sys.exit(main())
