#!/usr/bin/python3
"""Run cmocka test binaries and total their results.

    run_unit.py [-v] [--timeout S] BINARY...

Each binary gets S seconds (default 120).  Its result is read from cmocka's
summary lines ("[  PASSED  ] N test(s).", "[  FAILED  ] N test(s)" and
"[  SKIPPED ] N test(s)", summed over every group the binary runs).  A
binary that crashes, times out, exits non-zero with no failure counted, or
exits 0 without any cmocka summary line (it ran no test: an empty main())
counts as one failed test.  Its output is shown when it failed (always with
-v).  The last line is `N passed, N failed, N skipped`; the exit status is 1
when anything failed or no test passed.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

TIMEOUT = 120
PASSED_RE = re.compile(r"^\[\s*PASSED\s*\]\s+(\d+)\s+test", re.M)
FAILED_RE = re.compile(r"^\[\s*FAILED\s*\]\s+(\d+)\s+test", re.M)
SKIPPED_RE = re.compile(r"^\[\s*SKIPPED\s*\]\s+(\d+)\s+test", re.M)


class Result:
    def __init__(self, binary):
        self.binary = binary
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.output = ""
        self.note = ""
        self.seconds = 0.0


def _describe_status(rc):
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit status %d" % rc


def run_binary(binary, timeout=TIMEOUT):
    """Run one cmocka binary; returns a Result."""
    r = Result(binary)
    env = dict(os.environ)
    env["CMOCKA_MESSAGE_OUTPUT"] = "STDOUT"
    env.pop("CMOCKA_XML_FILE", None)
    t0 = time.monotonic()
    try:
        p = subprocess.run([os.path.abspath(binary)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=env, timeout=timeout)
        rc = p.returncode
        out = p.stdout
    except subprocess.TimeoutExpired as e:
        rc = None
        out = e.stdout or b""
    except OSError as e:
        rc = None
        out = ("cannot run %s: %s\n" % (binary, e)).encode()
        r.note = str(e)
    r.seconds = time.monotonic() - t0
    r.output = out.decode("utf-8", "replace")
    r.passed = sum(int(n) for n in PASSED_RE.findall(r.output))
    r.failed = sum(int(n) for n in FAILED_RE.findall(r.output))
    r.skipped = sum(int(n) for n in SKIPPED_RE.findall(r.output))
    if rc is None:
        if not r.note:
            r.note = "timed out after %d s" % timeout
        r.failed = max(r.failed, 1)
    elif rc != 0:
        r.note = _describe_status(rc)
        if r.failed == 0:
            r.failed = 1
    elif r.passed + r.failed + r.skipped == 0:
        r.note = "exited 0 without a cmocka summary line: it ran no test"
        r.failed = 1
    return r


def print_result(r, verbose=False):
    status = "FAIL" if r.failed else ("PASS" if r.passed else "SKIP")
    extra = ", %d skipped" % r.skipped if r.skipped else ""
    note = " — %s" % r.note if r.note else ""
    print("%s %s: %d passed, %d failed%s (%.2f s)%s"
          % (status, r.binary, r.passed, r.failed, extra, r.seconds, note),
          flush=True)
    if verbose or r.failed:
        for line in r.output.rstrip().splitlines():
            print("    | " + line)
        sys.stdout.flush()


def run_all(binaries, timeout=TIMEOUT, verbose=False):
    """Run every binary; returns (passed, failed, skipped)."""
    passed = failed = skipped = 0
    for b in binaries:
        r = run_binary(b, timeout)
        print_result(r, verbose)
        passed += r.passed
        failed += r.failed
        skipped += r.skipped
    return passed, failed, skipped


def main():
    ap = argparse.ArgumentParser(description="run cmocka test binaries")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show every binary's output")
    ap.add_argument("--timeout", type=int, default=TIMEOUT,
                    help="seconds per binary (default %d)" % TIMEOUT)
    ap.add_argument("binaries", nargs="*")
    args = ap.parse_args()
    if not args.binaries:
        print("run_unit.py: no unit test binaries given")
    passed, failed, skipped = run_all(args.binaries, args.timeout,
                                      args.verbose)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped),
          flush=True)
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
