#!/usr/bin/python3
"""A sample receiver for fieldsyncd's alert webhooks (deploy/OPERATIONS.md,
"Webhooks"): it checks each POST's signature, answers 401 when it is wrong
or older than --max-age-s, and handles each Idempotency-Key once (a repeat
is answered 200 again and not handled again).

    webhook-receiver.py --port 9000 --secret S [--bind 127.0.0.1]
                        [--log FILE] [--max-age-s 300]

"Handling" here is printing one JSON line per request (to --log when
given, else stdout): {"key", "alert", "valid", "dup", "at", "body"}.
Replace handle() with what your office needs.

The signature header is X-Fieldsync-Signature: t=<ms>,v1=<hex>, where hex
is HMAC-SHA256 with the webhook's secret over "<ms>.<raw body>".
"""

import argparse
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret, header, body, max_age_s, now_ms=None):
    """True when header (t=<ms>,v1=<hex>) signs body with secret and is
    not older than max_age_s (0: any age)."""
    parts = dict(p.split("=", 1) for p in (header or "").split(",") if "=" in p)
    t, sig = parts.get("t", ""), parts.get("v1", "")
    if not t.isdigit() or not sig:
        return False
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if max_age_s and abs(now_ms - int(t)) > max_age_s * 1000:
        return False
    want = hmac.new(secret.encode(), t.encode() + b"." + body,
                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--secret", required=True)
    ap.add_argument("--log")
    ap.add_argument("--max-age-s", type=int, default=300)
    args = ap.parse_args()
    out = open(args.log, "a", buffering=1) if args.log else sys.stdout
    seen = set()

    def handle(entry):
        out.write(json.dumps(entry, ensure_ascii=False) + "\n")
        out.flush()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if 0 < n <= 1 << 20 else b""
            key = self.headers.get("Idempotency-Key", "")
            ok = verify(args.secret, self.headers.get("X-Fieldsync-Signature"),
                        body, args.max_age_s)
            dup = ok and key in seen
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            handle({"key": key, "alert": self.headers.get("X-Fieldsync-Alert"),
                    "valid": ok, "dup": dup, "at": int(time.time() * 1000),
                    "body": parsed})
            if ok:
                seen.add(key)
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer((args.bind, args.port), Handler)
    print("listening on %s:%d" % (args.bind, args.port), file=sys.stderr,
          flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
