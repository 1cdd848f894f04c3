#!/usr/bin/python3
"""Run the whole suite: the cmocka unit binaries, then the integration tests.

    run_all.py --server PATH --shim PATH [-k SUB] [-v] [UNIT_BINARY...]

-k SUB is passed to the integration runner (the unit binaries always run).
The last line is the total, `N passed, N failed`; the exit status is 1 when
anything failed or no test ran at all.
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run_unit  # noqa: E402

SUMMARY_RE = re.compile(r"^(\d+) passed, (\d+) failed\b")
INTEGRATION_TIMEOUT = 3600


def run_integration(server, shim, pattern=None):
    """Run tests/integration/run.py, echoing its output; returns
    (passed, failed)."""
    cmd = [sys.executable, os.path.join(HERE, "integration", "run.py"),
           "--server", server, "--shim", shim]
    if pattern:
        cmd += ["-k", pattern]
    summary = None
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    timed_out = False
    for raw in p.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        print(line, flush=True)
        m = SUMMARY_RE.match(line.strip())
        if m:
            summary = (int(m.group(1)), int(m.group(2)))
        if time.monotonic() - t0 > INTEGRATION_TIMEOUT:
            timed_out = True
            p.terminate()
            break
    try:
        rc = p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    if timed_out:
        print("run_all.py: integration suite killed after %d s"
              % INTEGRATION_TIMEOUT)
        passed = summary[0] if summary else 0
        return passed, (summary[1] if summary else 0) + 1
    if summary is None:
        print("run_all.py: integration runner exited %d without a summary"
              % rc)
        return 0, 1
    if rc != 0 and summary[1] == 0 and summary[0] > 0:
        print("run_all.py: integration runner exited %d" % rc)
        return summary[0], 1
    return summary


def main():
    ap = argparse.ArgumentParser(description="run the whole test suite")
    ap.add_argument("--server", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("-k", dest="pattern", default=None)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--timeout", type=int, default=run_unit.TIMEOUT,
                    help="seconds per unit binary")
    ap.add_argument("binaries", nargs="*")
    args = ap.parse_args()

    print("== unit tests (%d binaries)" % len(args.binaries), flush=True)
    up, uf = run_unit.run_all(args.binaries, args.timeout, args.verbose)
    print("unit: %d passed, %d failed" % (up, uf), flush=True)

    print("== integration tests", flush=True)
    ip, if_ = run_integration(args.server, args.shim, args.pattern)
    print("integration: %d passed, %d failed" % (ip, if_), flush=True)

    passed, failed = up + ip, uf + if_
    if passed + failed == 0:
        print("run_all.py: no test ran")
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
