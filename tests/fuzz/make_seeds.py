#!/usr/bin/python3
"""Write the committed seed corpora of the fuzz targets (tests/fuzz/corpus/).

    tests/fuzz/make_seeds.py

Deterministic: running it again rewrites the same files (names say what a
seed is).  Seeds are small, meaningful starting points; libFuzzer grows its
working corpus from them in build-fuzz/corpus/ (never committed).  The
input formats are described at the top of each tests/fuzz/fuzz_*.c.
"""

import gzip
import os
import random
import struct
import zlib

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
NOW = 1_790_000_000_000          # a fixed "now" (ms) so the files are stable
HOUR = 3600_000


def pack(o):
    return msgpack.packb(o, use_bin_type=True)


def hlc(ms, c=0):
    return (ms << 16) | c


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def op(c, id, f, s=None):
    return {"c": c, "id": id, "s": hlc(NOW) if s is None else s, "f": f}


def batch(ops, bid=b"seed-batch-00000", by=None):
    b = {"batch": bid, "ops": ops}
    if by:
        b["by"] = by
    return b


def sync(push=(), pull=None, limit=None, dev=None, v=1):
    r = {"v": v, "hlc": hlc(NOW), "push": list(push), "pull": pull or {}}
    if limit is not None:
        r["limit"] = limit
    if dev is not None:
        r["dev"] = dev
    return r


SETUP = [
    op("site", "s1", {"name": "Harbour", "tz": "Asia/Shanghai",
                      "households": 500}),
    op("staff", "sup1", {"site": "s1", "name": "Sup", "role": "supervisor",
                         "active": True}),
    op("staff", "g1", {"site": "s1", "name": "Guard", "role": "guard",
                       "active": True}),
    op("shift", "sh1", {"site": "s1", "role": "guard", "starts": NOW - HOUR,
                        "ends": NOW + 8 * HOUR, "staff": ["g1"],
                        "lead": "g1"}),
]
CHECKIN = op("checkin", "k1", {"site": "s1", "shift": "sh1", "route": "r1",
                               "checkpoint": "cp1", "staff": "g1",
                               "at": NOW, "boot": "b1", "mono": 5000,
                               "method": "nfc", "lat": 31.2, "lon": 121.5})
ORDER = op("order", "o1", {"site": "s1", "category": "elevator_entrapment",
                           "title": "stuck", "detail": "lift 2",
                           "reported_at": NOW, "reporter": "g1",
                           "status": "reported"})
DEV = {"boot": "b1", "mono": 10_000, "wall": NOW, "pending": 1}


# ---- fuzz_wire: one candidate message --------------------------------------

def seeds_wire():
    w = lambda n, d: write("fuzz_wire", n, d)
    w("sync_push_pull", pack(sync([batch(SETUP)], {"site/s1": 3}, 100, DEV)))
    w("checkin_op", pack(CHECKIN))
    w("scalars", pack([None, True, False, 0, 127, 128, 255, 256, 65535,
                       65536, 2**32, 2**64 - 1, -1, -32, -33, -128, -129,
                       -2**15 - 1, -2**31 - 1, -2**63, 0.5, 1e308, "",
                       "x" * 31, "y" * 32, "z" * 256, b"", b"\x00" * 300]))
    w("float32", b"\xca\x3f\xc0\x00\x00")
    w("str16_utf8", b"\xda\x00\x0c" + "楼道清扫".encode())
    w("depth32", b"\x91" * 31 + b"\x90")
    w("depth33", b"\x91" * 33 + b"\xc0")
    w("dup_keys", b"\x82\xa1a\x01\xa1a\x02")
    # 20 keys (the sorted duplicate check), the last repeating the first
    w("dup_keys_20", b"\xde\x00\x14" + b"".join(
        pack("k%02d" % i) + pack(i) for i in range(19)) + pack("k00") +
      pack(1))
    w("map_20_int_keys", b"\xde\x00\x14" + b"".join(
        bytes([i, i]) for i in range(20)))
    w("str32_huge", b"\xdb\xff\xff\xff\xff" + b"a" * 8)
    w("bin32_huge", b"\xc6\x7f\xff\xff\xff" + b"a" * 8)
    w("array32_huge", b"\xdd\xff\xff\xff\xff\xc0\xc0")
    w("map32_huge", b"\xdf\x7f\xff\xff\xff\xc0\xc0")
    w("ext_refused", b"\xd4\x01\x00")
    w("never_used_c1", b"\xc1")
    w("trailing_byte", pack({"v": 1}) + b"\x00")
    w("truncated", pack(sync([batch(SETUP)]))[:-3])


# ---- fuzz_inflate: flags, cap(2), chunk sizes(8), payload ---------------------

def seeds_inflate():
    def w(name, flags, cap, payload, sizes=b"\x01\x07\x00\x3f\x02\x05\x0b\x11"):
        write("fuzz_inflate", name,
              bytes([flags]) + struct.pack(">H", cap) + sizes + payload)
    body = pack(sync([batch(SETUP)], {"site/s1": 0}, None, DEV))
    w("deflate_sync", 0, 0xffff, zlib.compress(body))
    w("gzip_sync", 1, 0xffff, gzip.compress(body, mtime=0))
    w("deflate_cap_short", 0, len(body) - 1, zlib.compress(body))
    w("deflate_bomb", 4 | 8, 0x0400, zlib.compress(b"\x00" * (1 << 20), 9))
    w("gzip_bomb", 1 | 4, 0x0100, gzip.compress(b"\x00" * (1 << 19), 9,
                                                 mtime=0))
    w("deflate_truncated", 0, 0xffff, zlib.compress(body)[:-5])
    w("deflate_trailing", 0, 0xffff, zlib.compress(body) + b"junk")
    w("gzip_two_members", 1, 0xffff,
      gzip.compress(b"one", mtime=0) + gzip.compress(b"two", mtime=0))
    w("raw_deflate_as_zlib", 0, 0xffff, zlib.compress(body)[2:-4])
    w("gzip_bad_crc", 1, 0xffff,
      gzip.compress(body, mtime=0)[:-8] + b"\x00" * 8)
    w("empty_stream", 0, 0, zlib.compress(b""))
    w("garbage", 1, 10, b"\x1f\x8b\x08\x00garbage")
    w("roundtrip_text", 2, 0, "楼道清扫 patrol checkin\n".encode() * 20)
    w("roundtrip_gzip_bytes", 3, 0, bytes(range(256)))
    w("roundtrip_empty", 2, 0, b"")


# ---- fuzz_ops: mode byte, then a msgpack body or generator bytes -------------

def seeds_ops():
    w = lambda n, d: write("fuzz_ops", n, d)
    # even first byte: raw body; byte >> 1 picks the principal
    # (0 admin, 1 supervisor sup1, 2 guard g1, 3 technician t1, 4 cleaner)
    w("raw_admin_setup", b"\x00" + pack(sync([batch(SETUP)])))
    w("raw_admin_setup_checkin_order", b"\x00" + pack(sync(
        [batch(SETUP), batch([CHECKIN, ORDER], b"seed-batch-11111")],
        dev=DEV)))
    w("raw_guard_checkin", b"\x04" + pack(sync([batch([CHECKIN])], dev=DEV)))
    w("raw_bad_ops", b"\x00" + pack(sync([batch([
        op("nope", "x", {}), op("site", "bad id!", {}),
        op("site", "s9", {"name": 5}), op("site", "s9", {"zz": 1}),
        op("checkin", "k9", {"_deleted": True}),
        op("site", "s9", {"name": "x"}, s=2**64 - 1),
        op("order", "o9", {"site": "s1", "respond_by": 1}),
        op("route", "r9", {"site": "s1", "checkpoints": [[[[["deep"]]]]]}),
        {"c": "site"}, 7])])))
    w("raw_dup_batch", b"\x00" + pack(sync([batch(SETUP), batch(SETUP)])))
    w("raw_pull_only", b"\x02" + pack(sync(pull={"site/s1": 2**64 - 1,
                                                  "shift/x": 0},
                                            limit=2**64 - 1)))
    w("raw_bad_version", b"\x00" + pack(sync(v=2)))
    w("raw_by_other_staff", b"\x04" + pack(sync([batch([CHECKIN],
                                                       by="sup1")])))
    rnd = random.Random(5)
    for i in range(6):
        w("gen_%d" % i, bytes([1 + 2 * i]) + bytes(rnd.getrandbits(8)
                                                   for _ in range(400)))


# ---- fuzz_http: route/principal byte, headers, blank line, body --------------

def seeds_http():
    def w(name, route, principal, headers, body):
        hdr = "".join("%s: %s\r\n" % kv for kv in headers).encode()
        write("fuzz_http", name, bytes([route + 6 * principal]) + hdr +
              b"\r\n" + body)
    mp = ("Content-Type", "application/msgpack")
    body = pack(sync([batch([op("site", "s3", {"name": "x"})])],
                     {"site/s1": 0}, 10, DEV))
    w("sync_identity", 0, 0, [mp], body)
    w("sync_deflate", 0, 0, [mp, ("Content-Encoding", "deflate")],
      zlib.compress(body))
    w("sync_gzip_guard", 0, 2, [mp, ("Content-Encoding", "gzip")],
      gzip.compress(pack(sync([batch([CHECKIN])], dev=DEV)), mtime=0))
    w("sync_bomb", 0, 0, [mp, ("Content-Encoding", "deflate")],
      zlib.compress(b"\xc0" * (2 << 20), 9))
    w("sync_br", 0, 0, [mp, ("Content-Encoding", "br")], body)
    w("sync_json", 0, 0, [("Content-Type", "application/json")], b"{}")
    w("sync_ctype_params", 0, 1, [("Content-Type",
                                   "application/msgpack; charset=x")], body)
    w("sync_no_headers", 0, 0, [], body)
    w("enroll_bad_code", 1, 0, [mp], pack({"code": "AAAA", "name": "h"}))
    w("login_g1", 2, 0, [mp], pack({"staff": "g1", "pin": "1234"}))
    w("login_wrong_pin", 2, 0, [mp], pack({"staff": "g1", "pin": "9999"}))
    w("enroll_code_s1", 3, 0, [mp], pack({"site": "s1", "role": "guard",
                                          "uses": 2, "ttl_s": 60}))
    w("staff_pin_sup", 4, 1, [mp], pack({"staff": "g1", "pin": "4321"}))
    w("revoke_unknown", 5, 0, [mp], pack({"device": "d-none"}))
    w("revoke_by_guard", 5, 2, [mp], pack({"device": "d-none"}))


# ---- fuzz_colwire: v2 pages written from protocol/PROTOCOL.md alone -------
# ("Pull encoding v2"), a second encoder that checks the spec: the worked
# example must come out as the bytes the document and test_colwire.c show.

M64 = (1 << 64) - 1


def uv(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def zz(d):
    d &= M64
    sd = d - (1 << 64) if d >> 63 else d
    return uv(((sd << 1) ^ (sd >> 63)) & M64)


def lbytes(b):
    b = b.encode() if isinstance(b, str) else b
    return uv(len(b)) + b


def bitmap(flags):
    out = bytearray((len(flags) + 7) // 8)
    for i, f in enumerate(flags):
        if f:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def kind_of(v):
    if isinstance(v, bool):
        return 3
    if isinstance(v, str):
        return 1
    if isinstance(v, int) and -(1 << 63) <= v < (1 << 63):
        return 2
    return 0


class Table:
    def __init__(self):
        self.index, self.items = {}, []

    def get(self, s):
        if s not in self.index:
            self.index[s] = len(self.items)
            self.items.append(s)
        return self.index[s]

    def encode(self):
        return uv(len(self.items)) + b"".join(lbytes(s) for s in self.items)


def colwire_page(recs):
    """recs: v1 pull records {c, id, f, s} -> one v2 page (bytes)."""
    S, O = Table(), Table()
    groups = {}
    for r in recs:
        groups.setdefault(r["c"], []).append(r)
    body = uv(len(groups))
    for c, rs in groups.items():
        names = sorted({n.encode() for r in rs for n in r["f"]})
        body += lbytes(c) + uv(len(rs)) + uv(len(names))
        body += b"".join(lbytes(n) for n in names)
        prev = b""
        for r in rs:
            rid, keep = r["id"].encode(), 0
            while keep < min(len(prev), len(rid)) and prev[keep] == rid[keep]:
                keep += 1
            body += uv(keep) + lbytes(rid[keep:])
            prev = rid
        base = [max([st[0] for st in r["s"].values()] or [0]) for r in rs]
        body += b"".join(zz(b - (base[i - 1] if i else 0))
                         for i, b in enumerate(base))
        for n in names:
            name = n.decode()
            col = [(i, r) for i, r in enumerate(rs) if name in r["f"]]
            vals = [r["f"][name] for _, r in col]
            kinds = {kind_of(v) for v in vals if v is not None}
            kind = kinds.pop() if len(kinds) == 1 else 0
            head = kind | (0x10 if len(col) < len(rs) else 0) | \
                (0x20 if None in vals else 0)
            body += bytes([head])
            if len(col) < len(rs):
                have = {i for i, _ in col}
                body += bitmap([i in have for i in range(len(rs))])
            if None in vals:
                body += bitmap([v is None for v in vals])
            body += b"".join(uv(base[i] - r["s"][name][0]) for i, r in col)
            body += b"".join(uv(O.get(r["s"][name][1])) for _, r in col)
            present = [v for v in vals if v is not None]
            if kind == 1:
                body += b"".join(uv(S.get(v)) for v in present)
            elif kind == 2:
                prev_v = 0
                for v in present:
                    body += zz(v - prev_v)
                    prev_v = v
            elif kind == 3:
                body += bitmap(present)
            else:
                body += b"".join(lbytes(pack(v)) for v in present)
    return bytes([2]) + S.encode() + O.encode() + body


EXAMPLE_H = 117741019391180800
EXAMPLE_HEX = (
    "02 04 03 63 2d 37 09 77 65 74 20 66 6c 6f 6f 72 04 6f 70 65 6e 04 64"
    " 6f 6e 65 02 04 64 2d 35 66 06 73 65 72 76 65 72 01 04 74 61 73 6b 02"
    " 05 08 61 73 73 69 67 6e 65 65 04 64 6f 6e 65 03 64 75 65 04 6e 6f 74"
    " 65 06 73 74 61 74 75 73 00 04 74 2d 30 31 03 01 32 80 80 ee c4 aa b5"
    " a6 a2 03 02 21 01 00 00 00 00 00 03 00 00 00 00 02 02 00 01 00 01 80"
    " b8 a3 db c9 68 c0 a9 07 11 02 00 00 01 01 00 00 00 00 02 03")


def example_recs():
    H, d = EXAMPLE_H, "d-5f"
    return [
        {"c": "task", "id": "t-01",
         "f": {"assignee": None, "done": False, "due": 1796600000000,
               "status": "open"},
         "s": {n: [H, d] for n in ("assignee", "done", "due", "status")}},
        {"c": "task", "id": "t-02",
         "f": {"assignee": "c-7", "done": True, "due": 1796600060000,
               "note": "wet floor", "status": "done"},
         "s": {"assignee": [H + 1, d], "done": [H + 1, d],
               "due": [H, "server"], "note": [H + 1, d],
               "status": [H + 1, d]}},
    ]


def seeds_colwire():
    ex = colwire_page(example_recs())
    assert ex == bytes.fromhex(EXAMPLE_HEX), "PROTOCOL.md example differs"
    rnd = random.Random(16)
    H = hlc(NOW)
    shift = []
    for i in range(40):
        f = {"site": "s-bench", "shift": "sh-00001", "zone": "z-%d" % (i % 12),
             "status": "open" if i % 3 else "done", "due_from": NOW + i * 60000,
             "note": None if i % 5 == 0 else "wet floor"}
        if i % 4 == 0:
            f["photo"] = b"\x01\x02"
        shift.append({"c": "task", "id": "t-bench-%07d" % i, "f": f,
                      "s": {k: [H + i, "server" if k == "note" else "d-5f"]
                            for k in f}})
    mixed = [{"c": rnd.choice(["task", "checkin", "order"]),
              "id": "x-%d" % rnd.randrange(1000),
              "f": {"a": rnd.choice([None, True, -5, 2 ** 64 - 1, 1.5, "s",
                                     [1, {"k": "v"}], {"m": None}]),
                    "b": rnd.choice([0, 1 << 40, -(1 << 62)])},
              "s": {"a": [rnd.randrange(1 << 40), "o%d" % rnd.randrange(3)],
                    "b": [rnd.randrange(1 << 40), "o"]}} for _ in range(12)]
    for name, recs in (("example", None), ("shift40", shift), ("mixed", mixed)):
        page = ex if recs is None else colwire_page(recs)
        write("fuzz_colwire", "page_" + name, b"\x00" + page)
        write("fuzz_colwire", "v1_" + name,
              b"\x01\x00" + pack(recs or example_recs()))
    write("fuzz_colwire", "page_empty", b"\x00\x02\x00\x00\x00")
    write("fuzz_colwire", "page_truncated", b"\x00" + ex[:-1])
    write("fuzz_colwire", "v1_not_records", b"\x01\x00" + pack([1, {"c": 1}]))
    stored = {"due": [NOW, H, "d-5f"], "status": ["open", H, "d-5f"],
              "tags": [["a", 1], H - 1, "server"]}
    write("fuzz_colwire", "stored_task", b"\x01\x01" + pack(stored))
    write("fuzz_colwire", "stored_bad_stamp",
          b"\x01\x01" + pack({"due": [NOW, -1, "d-5f"]}))


def main():
    seeds_wire()
    seeds_inflate()
    seeds_ops()
    seeds_http()
    seeds_colwire()
    n = sum(len(fs) for _, _, fs in os.walk(CORPUS))
    print("wrote %d seed files under %s" % (n, CORPUS))


if __name__ == "__main__":
    main()
