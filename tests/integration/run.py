#!/usr/bin/python3
"""Run the integration tests: every function named test_* in
tests/integration/test_*.py, each against real fieldsyncd processes.

    run.py --server build/fieldsyncd --shim build/tests/syncshim.so [-k SUB]
           [-x] [--keep] [--dir DIR] [FILE...]

--dir runs the test_*.py files of another folder (default: this one; the
runner's own tests in tests/runner/ use it).  FILEs (test_x.py, or a path
to one in that folder) run only those files.

A test function takes no argument or one, `ctx`:
    ctx.binary  ctx.shim   paths given on the command line
    ctx.server(**kw)       Server(ctx.binary, **kw).start(), stopped after
                           the test (shim=True means shim=ctx.shim)
    ctx.tmpdir             a scratch directory for this test
    ctx.name               "test_file.py::test_name"
    ctx.build              the folder the server was built in (the original
                           of ctx.binary: for tools that are not copied,
                           such as bench/loadgen under it)
The server binary, the executables beside it (the clients some tests run
from dirname(ctx.binary)) and the shim are copied once, at start, into a
temporary directory, and every test uses the copies: a `make` that relinks
build/ while the suite runs cannot fail it.  ctx.binary and ctx.shim are
the copies.
Each test has 60 s of wall time (set fn.timeout = S on the function for
another limit).  A test fails when it raises, when it runs out of time, or
when a server's log shows an AddressSanitizer/UBSan/LeakSanitizer report.
A test that raises harness.Skip("reason") is skipped: `SKIP name: reason`,
counted apart (a skip never counts as a pass).
FS_TEST_STORE=pg runs every server on PostgreSQL (harness.py); the line
before the last says which store backend ran (`store backend: ...`).
The last line is `N passed, N failed, N skipped`; the exit status is 1
when a test failed or none passed.
"""

import argparse
import importlib.util
import inspect
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import msgpack  # noqa: F401
except ImportError:
    # Run as `python3 run.py` by some other python: use Debian's, which
    # has python3-msgpack (make deps installs it).
    if os.path.exists("/usr/bin/python3") and \
            os.path.realpath(sys.executable) != \
            os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

import harness  # noqa: E402

DEFAULT_TIMEOUT = 60
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
              "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
COPY_TRIES = 40          # 0.25 s apart: waits out a relink of up to 10 s
SANITIZER_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)"
    r"|WARNING: ThreadSanitizer|^\S+:\d+:\d+: runtime error: ", re.M)


class TestTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so `except Exception` in a test
    does not swallow it."""


def _on_alarm(signum, frame):
    raise TestTimeout("test ran past its time limit")


class Ctx:
    def __init__(self, binary, shim, name):
        self.binary = binary
        self.shim = shim
        self.name = name
        self.servers = []
        self.tmpdir = tempfile.mkdtemp(prefix="fieldsync-it-tmp-")

    def server(self, **kw):
        if kw.get("shim") is True:
            kw["shim"] = self.shim
        s = harness.Server(self.binary, **kw)
        self.servers.append(s)
        return s.start()

    def stop_all(self):
        for s in self.servers:
            try:
                s.close()
            except Exception:
                traceback.print_exc()

    def sanitizer_reports(self):
        found = []
        for s in self.servers:
            text = s.log()
            if SANITIZER_RE.search(text):
                found.append(s)
        return found

    def remove_files(self):
        for s in self.servers:
            try:
                s.drop_store()
            except Exception:
                traceback.print_exc()
            if s.own_data:
                shutil.rmtree(s.data, ignore_errors=True)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def _stat_key(path):
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _copy_stable(src, dst):
    """Copy src to dst (with its mode); retry while src changes under the
    copy or is briefly gone (a linker writing it).  Raises OSError when it
    will not settle."""
    for _ in range(COPY_TRIES):
        try:
            before = _stat_key(src)
            shutil.copy2(src, dst)
            if _stat_key(src) == before and \
                    os.path.getsize(dst) == before[1]:
                return dst
        except FileNotFoundError:
            pass
        time.sleep(0.25)
    raise OSError("%s kept changing while it was copied" % src)


def snapshot_binaries(server, shim, into):
    """Copy server, the executables beside it and shim into `into`; returns
    (server copy, shim copy, {copy: original}).  A path that does not exist
    is returned as it is (the tests then fail as before)."""
    originals = {}
    new_server, new_shim = server, shim
    if os.path.isfile(server):
        here = os.path.dirname(server)
        for name in sorted(os.listdir(here)):
            src = os.path.join(here, name)
            dst = os.path.join(into, name)
            if name == os.path.basename(server):
                originals[_copy_stable(src, dst)] = src
            elif os.path.isfile(src) and os.access(src, os.X_OK):
                try:                    # a client beside it: best effort
                    originals[_copy_stable(src, dst)] = src
                except OSError as e:
                    print("run.py: not copied: %s" % e, file=sys.stderr)
        new_server = os.path.join(into, os.path.basename(server))
    if os.path.isfile(shim):
        os.makedirs(os.path.join(into, "shim"), exist_ok=True)
        new_shim = _copy_stable(shim, os.path.join(
            into, "shim", os.path.basename(shim)))
        originals[new_shim] = shim
    return new_server, new_shim, originals


def discover(pattern, folder=HERE, only=None):
    """[(name, fn)] for every test (of the files named in `only` when it is
    given), and [(name, traceback)] for files that would not import."""
    tests, broken = [], []
    if folder != HERE:
        sys.path.insert(0, folder)
    for fname in sorted(os.listdir(folder)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        if only is not None and fname not in only:
            continue
        modname = fname[:-3]
        try:
            spec = importlib.util.spec_from_file_location(
                modname, os.path.join(folder, fname))
            mod = importlib.util.module_from_spec(spec)
            sys.modules[modname] = mod
            spec.loader.exec_module(mod)
        except BaseException:
            name = "%s (import)" % fname
            if not pattern or pattern in name:
                broken.append((name, traceback.format_exc()))
            continue
        for attr, fn in list(vars(mod).items()):
            if not attr.startswith("test_") or not callable(fn):
                continue
            if getattr(fn, "__module__", None) != modname:
                continue
            name = "%s::%s" % (fname, attr)
            if pattern and pattern not in name:
                continue
            tests.append((name, fn))
    return tests, broken


def wants_ctx(fn):
    try:
        return len(inspect.signature(fn).parameters) >= 1
    except (TypeError, ValueError):
        return True


PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


def run_one(name, fn, args):
    """Run one test; returns PASS, FAIL or SKIP."""
    ctx = Ctx(args.server, args.shim, name)
    ctx.build = os.path.dirname(args.originals.get(args.server, args.server))
    limit = int(getattr(fn, "timeout", DEFAULT_TIMEOUT))
    ok = False
    why = None
    skipped = None
    t0 = time.monotonic()
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(limit)
    try:
        if wants_ctx(fn):
            fn(ctx)
        else:
            fn()
        ok = True
    except harness.Skip as e:
        skipped = str(e) or "no reason given"
    except TestTimeout:
        why = "timed out after %d s\n%s" % (limit, traceback.format_exc())
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:
        why = traceback.format_exc()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        ctx.stop_all()
    bad = ctx.sanitizer_reports()
    if bad:
        ok = False
        why = (why or "") + "sanitizer report in %s" % ", ".join(
            s.log_path for s in bad)
    dt = time.monotonic() - t0
    if skipped is not None and not bad:
        print("SKIP %s: %s (%.2f s)" % (name, skipped, dt), flush=True)
        if not args.keep:
            ctx.remove_files()
        return SKIP
    if ok:
        print("PASS %s (%.2f s)" % (name, dt), flush=True)
        if not args.keep:
            ctx.remove_files()
    else:
        print("FAIL %s (%.2f s)" % (name, dt), flush=True)
        print(_indent(why or "failed"), flush=True)
        for s in ctx.servers:
            tail = s.log_tail(60 if s in bad else 25)
            print("    --- %s (exit %s), data %s%s, log tail:"
                  % (args.originals.get(s.binary, s.binary), s.returncode,
                     s.data, ", store %s" % s.store_url if s.store_url
                     else ""))
            print(_indent(tail or "(empty)", "    | "), flush=True)
    return PASS if ok else FAIL


def _indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True, help="path of fieldsyncd")
    ap.add_argument("--shim", required=True, help="path of syncshim.so")
    ap.add_argument("-k", dest="pattern", default=None,
                    help="run only tests whose name contains this")
    ap.add_argument("-x", dest="exitfirst", action="store_true",
                    help="stop at the first failure")
    ap.add_argument("--keep", action="store_true",
                    help="keep the data dirs of passing tests too")
    ap.add_argument("--dir", default=HERE,
                    help="folder of the test_*.py files (default: this one)")
    ap.add_argument("files", nargs="*", metavar="FILE",
                    help="run only these test_*.py files of the folder")
    args = ap.parse_args()
    args.dir = os.path.abspath(args.dir)
    args.only = None
    if args.files:
        args.only = set()
        for f in args.files:
            name = os.path.basename(f)
            if os.path.dirname(f) and \
                    os.path.abspath(os.path.dirname(f)) != args.dir:
                ap.error("%s is not in %s (use --dir)" % (f, args.dir))
            if not (name.startswith("test_") and name.endswith(".py")) or \
                    not os.path.isfile(os.path.join(args.dir, name)):
                ap.error("no test file %s in %s" % (name, args.dir))
            args.only.add(name)
    # Every test talks to loopback servers it started: a proxy set for
    # this machine (CI's) must not carry the handheld's requests
    # (libfieldsync follows these variables through libcurl).  The proxy
    # tests set their own.
    for var in PROXY_VARS:
        os.environ.pop(var, None)
    # SIGTERM (run_all.py's time limit, CI) ends the run through the same
    # cleanup as an exception, so no server outlives it.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    args.server = os.path.abspath(args.server)
    args.shim = os.path.abspath(args.shim)
    for p in (args.server, args.shim):
        if not os.path.exists(p):
            print("run.py: %s does not exist (run make first)" % p,
                  file=sys.stderr)
    bindir = tempfile.mkdtemp(prefix="fieldsync-it-bin-")
    try:
        args.server, args.shim, args.originals = snapshot_binaries(
            args.server, args.shim, bindir)
        return run_tests(args)
    finally:
        shutil.rmtree(bindir, ignore_errors=True)


def run_tests(args):
    passed = failed = skipped = 0

    if not os.path.isdir(args.dir):
        print("run.py: no folder %s" % args.dir)
        tests, broken = [], []
    else:
        tests, broken = discover(args.pattern, args.dir, args.only)
    for name, tb in broken:
        print("FAIL %s" % name)
        print(_indent(tb), flush=True)
        failed += 1
    for name, fn in tests:
        result = run_one(name, fn, args)
        if result == PASS:
            passed += 1
        elif result == SKIP:
            skipped += 1
        else:
            failed += 1
            if args.exitfirst:
                break
    if passed + failed == 0:
        print("run.py: no integration test passed or failed (%d test_*.py "
              "function(s) in %s%s, %d skipped)"
              % (len(tests), args.dir,
                 " matched -k" if args.pattern else "", skipped))
    print("store backend: %s" % backend_line(), flush=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped),
          flush=True)
    return 1 if failed or passed == 0 else 0


def backend_line():
    """Which store the servers ran on (FS_TEST_STORE; harness.py)."""
    if harness.STORE != "pg":
        return "LMDB (--data DIR)"
    c = harness._cluster
    return "PostgreSQL (FS_TEST_STORE=pg, --store URL; %s)" % (
        "cluster %s, port %d" % (c.root, c.port) if c is not None
        else "no server started")


if __name__ == "__main__":
    sys.exit(main())
