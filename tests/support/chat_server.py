#!/usr/bin/env python3
"""Stand-ins for Slack incoming webhooks and Microsoft Teams Workflows webhooks
on 127.0.0.1, answering as their documentation says, for the notification tests.

Prints "PORT <n>" on stdout once it listens, then serves until killed.

POST /slack/NAME/...[?script=CODES] a Slack incoming webhook. The body must be
    what Slack accepts: a JSON object with a non-empty "text" and, when
    "blocks" is given, at most 50 known blocks (header: plain_text of at most
    150 characters; section: text of at most 3000 characters or at most 10
    fields; actions: buttons with a url), or, without text and blocks, legacy
    "attachments" each with a fallback or text (what Alertmanager sends);
    otherwise 400 invalid_payload.
    A valid message gets the next code of CODES (comma-separated, the last
    repeats; default 200) with Slack's body: 200 "ok", 400 invalid_payload,
    403 action_prohibited, 404 channel_not_found, 410 channel_is_archived,
    429 rate_limited (Retry-After: 1), 500 rollup_error.
POST /teams/NAME/...[?script=CODES] a Teams Workflows webhook: the body must be
    {"type":"message","attachments":[{"contentType":
    "application/vnd.microsoft.card.adaptive","content":{AdaptiveCard 1.2}}]}
    with known elements (TextBlock with text, FactSet of title/value strings)
    and Action.OpenUrl actions; otherwise 400. Codes as above (2xx answers 202
    Accepted, as Workflows do; 412 and 429 carry Retry-After: 1).
POST /hook/NAME/...[?script=CODES]  a generic JSON webhook: an object with
    "event" and "title"; 200 "{}".
POST /workflow/NAME/...            a Power Automate workflow's "When a HTTP request is
    received" trigger (what Alertmanager's webhook_configs post to for Teams):
    any JSON object; 202 Accepted.
GET /log/NAME                      the requests NAME got: [{kind, status, body}]
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from serve import serve

SLACK_BODIES = {200: "ok", 400: "invalid_payload", 403: "action_prohibited",
                404: "channel_not_found", 410: "channel_is_archived", 429: "rate_limited",
                500: "rollup_error"}
lock = threading.Lock()
counts, logs = {}, {}


def slack_problem(msg):
    if not isinstance(msg, dict):
        return "not an object"
    if "text" not in msg and "blocks" not in msg and "attachments" in msg:
        # one of text, blocks and attachments is required (Alertmanager's
        # slack_configs send attachments only)
        atts = msg["attachments"]
        if not isinstance(atts, list) or not atts or any(
                not isinstance(a, dict) or not str(a.get("fallback") or a.get("text") or "").strip()
                for a in atts):
            return "attachments: a list of objects with a fallback or text"
        return None
    if not isinstance(msg.get("text"), str) or not msg["text"].strip():
        return "no text"
    blocks = msg.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "blocks: not a list of at most 50"
    for i, b in enumerate(blocks):
        t = b.get("type") if isinstance(b, dict) else None
        if t == "header":
            txt = b.get("text", {})
            if txt.get("type") != "plain_text" or not 0 < len(txt.get("text", "")) <= 150:
                return f"blocks[{i}]: a header is plain_text of 1-150 characters"
        elif t == "section":
            if "text" in b:
                txt = b["text"]
                if txt.get("type") not in ("mrkdwn", "plain_text") or \
                        not 0 < len(txt.get("text", "")) <= 3000:
                    return f"blocks[{i}]: section text of 1-3000 characters"
            elif "fields" in b:
                f = b["fields"]
                if not isinstance(f, list) or not 0 < len(f) <= 10 or \
                        any(x.get("type") not in ("mrkdwn", "plain_text") or
                            not 0 < len(x.get("text", "")) <= 2000 for x in f):
                    return f"blocks[{i}]: 1-10 fields of at most 2000 characters"
            else:
                return f"blocks[{i}]: a section needs text or fields"
        elif t == "actions":
            els = b.get("elements")
            if not isinstance(els, list) or not els or any(
                    e.get("type") != "button" or e.get("text", {}).get("type") != "plain_text"
                    or not e.get("url", "").startswith(("http://", "https://")) for e in els):
                return f"blocks[{i}]: actions are buttons with a text and a url"
        else:
            return f"blocks[{i}]: unknown block type {t!r}"
    return None


def teams_problem(msg):
    if not isinstance(msg, dict) or msg.get("type") != "message":
        return "type must be message"
    att = msg.get("attachments")
    if not isinstance(att, list) or len(att) != 1:
        return "one attachment"
    a = att[0]
    if a.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return "contentType"
    card = a.get("content", {})
    if card.get("type") != "AdaptiveCard" or card.get("version") != "1.2":
        return "content: an AdaptiveCard of version 1.2"
    if not isinstance(card.get("body"), list) or not card["body"]:
        return "card body"
    for i, e in enumerate(card["body"]):
        t = e.get("type")
        if t == "TextBlock":
            if not isinstance(e.get("text"), str) or not e["text"]:
                return f"body[{i}]: TextBlock without text"
        elif t == "FactSet":
            facts = e.get("facts")
            if not isinstance(facts, list) or not facts or any(
                    not isinstance(f.get("title"), str) or not isinstance(f.get("value"), str)
                    for f in facts):
                return f"body[{i}]: FactSet facts are title/value strings"
        else:
            return f"body[{i}]: unknown element {t!r}"
    for i, act in enumerate(card.get("actions", [])):
        if act.get("type") != "Action.OpenUrl" or not act.get("url", "").startswith("http"):
            return f"actions[{i}]: Action.OpenUrl with a url"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body, headers=()):
        data = body.encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urlparse(self.path)
        if u.path.startswith("/log/"):
            with lock:
                self.send(200, json.dumps(logs.get(u.path[5:], [])))
        else:
            self.send(404, "not found")

    def do_POST(self):
        u = urlparse(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        # /KIND/NAME/anything...: NAME keys the script's counter and the log
        parts = u.path.strip("/").split("/")
        kind, name = parts[0], parts[1] if len(parts) > 1 else ""
        script = [int(c) for c in parse_qs(u.query).get("script", ["200"])[0].split(",")]
        try:
            msg = json.loads(raw)
        except ValueError:
            msg = None
        problem = {"slack": slack_problem, "teams": teams_problem,
                   "hook": lambda m: None if isinstance(m, dict) and "event" in m and
                   "title" in m else "event and title",
                   "workflow": lambda m: None if isinstance(m, dict) else "not a JSON object",
                   }.get(kind, lambda m: "no such hook")(msg)
        with lock:
            n = counts.get(name, 0)
            counts[name] = n + 1
            code = 400 if problem else script[min(n, len(script) - 1)]
            logs.setdefault(name, []).append({"kind": kind, "status": code, "body": msg,
                                              "problem": problem,
                                              "content_type": self.headers.get("Content-Type")})
        retry = [("Retry-After", "1")] if code in (412, 429) else []
        if kind == "slack":
            self.send(code, problem and "invalid_payload" or SLACK_BODIES.get(code, "error"),
                      retry)
        elif kind in ("teams", "workflow"):
            body = "" if 200 <= code < 300 else json.dumps(
                {"error": {"code": "InvalidRequest" if problem else "Error",
                           "message": problem or f"HTTP {code}"}})
            self.send(202 if 200 <= code < 300 else code, body, retry)
        else:
            self.send(code, "{}" if code < 300 else json.dumps({"error": problem}), retry)


if __name__ == "__main__":
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    serve(Handler)
