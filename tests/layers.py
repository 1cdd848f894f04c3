#!/usr/bin/env python3
"""layers.py — the server's include rule, checked over #include lines.

Every file's includes must point down (or sideways, within its own layer):

    protocol/ < schema/ < server/lib/ < server/store/ < server/model/
              < server/core/ < server/svc/ < server/http/ < server/main.c

and each outside library is included by one file (or the two named) only:
lmdb.h by the LMDB backends (the server's store, the handheld's lstore.c),
libpq-fe.h by the PostgreSQL backend (store_pg.c),
CivetWeb by the HTTP glue (http.c; live.c for WebSocket frames, web.c for
the web app's files), OpenSSL by crypto and TLS (sha256.c on the
handheld), msgpack-c by the wire codec, zlib by the body codec, libcurl by
the handheld's transport (clients/http.c) and the server's webhook
delivery (server/svc/webhook.c).  clients/ is checked for the
library rule only (it is not a server layer).

Exit status 1, with one line per violation, when the rule is broken.
Usage: tests/layers.py [repository root]
"""
import os
import re
import sys

LAYERS = ["protocol", "schema", "server/lib", "server/store", "server/model",
          "server/core", "server/svc", "server/http", "server/main.c"]

# library include prefix -> the files allowed to include it
LIBS = {
    "lmdb.h": {"server/store/store_lmdb.c", "clients/lstore.c"},
    "libpq-fe.h": {"server/store/store_pg.c"},
    "civetweb.h": {"server/http/http.c", "server/http/live.c",
                   "server/http/web.c"},
    "openssl/": {"server/lib/crypto.c", "server/http/tls.c",
                 "clients/sha256.c"},
    "curl/": {"clients/http.c", "server/svc/webhook.c"},
    "msgpack": {"protocol/wire.c"},
    "zlib.h": {"protocol/zbody.c"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(path):
    """Index in LAYERS of a repository-relative path, None when outside."""
    best = None
    for i, name in enumerate(LAYERS):
        if path == name or path.startswith(name + "/"):
            best = i
    return best


def resolve(src, target):
    """The repository path a quoted include names (relative to the
    including file first, as the compiler looks, then to the root -I.)."""
    local = os.path.normpath(os.path.join(os.path.dirname(src), target))
    if os.path.exists(local):
        return local
    return os.path.normpath(target)


def check(root):
    os.chdir(root)
    bad = []
    files = []
    for top in ("protocol", "schema", "server", "clients"):
        for d, _, names in os.walk(top):
            if "node_modules" in d:
                continue
            files += [os.path.join(d, n) for n in names
                      if n.endswith((".c", ".h"))]
    for src in sorted(files):
        mine = layer_of(src)
        with open(src, encoding="utf-8", errors="replace") as f:
            for no, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                kind, target = m.groups()
                for lib, allowed in LIBS.items():
                    if target.startswith(lib) and src not in allowed:
                        bad.append("%s:%d: includes %s (only %s may)"
                                   % (src, no, target,
                                      ", ".join(sorted(allowed))))
                if kind != '"':
                    continue
                dep = resolve(src, target)
                theirs = layer_of(dep)
                if theirs is None or mine is None:
                    continue
                if theirs > mine:
                    bad.append("%s:%d: includes %s, a layer above (%s > %s)"
                               % (src, no, target, LAYERS[theirs],
                                  LAYERS[mine]))
    return bad, len(files)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    bad, n = check(root)
    for b in bad:
        print("layers: " + b)
    if bad:
        print("layers: %d upward or foreign include(s) in %d files" % (len(bad), n))
        return 1
    print("layers: %d files, every include points down" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
