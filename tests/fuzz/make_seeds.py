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


def main():
    seeds_wire()
    seeds_inflate()
    seeds_ops()
    seeds_http()
    n = sum(len(fs) for _, _, fs in os.walk(CORPUS))
    print("wrote %d seed files under %s" % (n, CORPUS))


if __name__ == "__main__":
    main()
