#!/usr/bin/python3
"""Run the whole suite: a list of parts, each a command whose closing
summary is read and added up.

    run_all.py [--server PATH --shim PATH] [-k SUB] [-v] [--timeout S]
               [--part NAME FORMAT COMMAND]... [UNIT_BINARY...]

The parts `make test` runs, in order:
    unit         tests/run_unit.py over the cmocka binaries given
    integration  tests/integration/run.py (needs --server and --shim)
    runner       the runners' own tests, tests/runner/ (run by the same
                 run.py; needs --server and --shim)
--part NAME FORMAT COMMAND adds one more part (COMMAND is split like a
shell would; FORMAT is a key of SUMMARIES).  To add a part for good, add a
line to parts() below.

A part fails `make test` when its command exits non-zero, when it prints
no summary, when it passed no test, or when it runs past its time limit;
the failure is counted as one failed test when its own summary counted
none.  Each part's total is shown as `NAME: N passed, N failed, N
skipped`; the last line is the total of every part, in the same form.  The
exit status is 1 when anything failed, or nothing passed.

-k SUB is passed to the run.py parts (a part that then matches nothing is
shown but not failed; the unit binaries always run).
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PART_TIMEOUT = 3600
UNIT_TIMEOUT = 120      # per binary, as tests/run_unit.py


class PlainSummary:
    """Our runners' closing line: `N passed, N failed` with an optional
    `, N skipped` (tests/run_unit.py, tests/integration/run.py)."""
    LINE = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")

    def __init__(self):
        self.counts = None

    def feed(self, line):
        m = self.LINE.match(line.strip())
        if m:
            self.counts = (int(m.group(1)), int(m.group(2)),
                           int(m.group(3) or 0))

    def result(self):
        """(passed, failed, skipped), or None when no summary was seen."""
        return self.counts


class NodeSummary:
    """`node --test`'s closing lines (TAP reporter): `# pass N`, `# fail N`,
    `# skipped N` (also `# cancelled N`, counted as failed, and `# todo N`,
    counted as skipped).  The last value of each wins."""
    LINE = re.compile(r"^#\s*(pass|fail|skipped|cancelled|todo)\s+(\d+)$")

    def __init__(self):
        self.seen = {}

    def feed(self, line):
        m = self.LINE.match(line.strip())
        if m:
            self.seen[m.group(1)] = int(m.group(2))

    def result(self):
        if "pass" not in self.seen or "fail" not in self.seen:
            return None
        s = self.seen
        return (s["pass"], s["fail"] + s.get("cancelled", 0),
                s.get("skipped", 0) + s.get("todo", 0))


SUMMARIES = {"plain": PlainSummary, "node": NodeSummary}


class Part:
    def __init__(self, name, cmd, summary="plain", timeout=PART_TIMEOUT,
                 may_be_empty=False):
        self.name = name
        self.cmd = cmd
        self.summary = SUMMARIES[summary]
        self.timeout = timeout
        self.may_be_empty = may_be_empty


def run_part(part):
    """Run one part, echoing its output; returns (passed, failed, skipped)
    with the part's own failures (exit status, no summary, nothing ran,
    time limit) added as one failed test when its summary counted none."""
    parser = part.summary()
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(part.cmd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        print("run_all.py: part %s: cannot run %s: %s"
              % (part.name, part.cmd[0], e), flush=True)
        return 0, 1, 0
    timed_out = False
    for raw in p.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        print(line, flush=True)
        parser.feed(line)
        if time.monotonic() - t0 > part.timeout:
            timed_out = True
            p.terminate()
            break
    try:
        rc = p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    counts = parser.result()
    passed, failed, skipped = counts or (0, 0, 0)
    why = []
    if timed_out:
        why.append("killed after %d s" % part.timeout)
    if counts is None:
        why.append("exited %d without a summary" % rc)
    elif passed == 0 and failed == 0 and not part.may_be_empty:
        why.append("passed no test (%d skipped)" % skipped)
    if counts is not None and rc != 0 and failed == 0:
        why.append("exited %d though its summary counts no failure" % rc)
    if why:
        print("run_all.py: part %s %s: counted as a failure"
              % (part.name, "; ".join(why)), flush=True)
        if failed == 0:
            failed = 1
    return passed, failed, skipped


def parts(args):
    """The parts to run, in order."""
    py = sys.executable
    out = [Part("unit", [py, os.path.join(HERE, "run_unit.py"),
                         "--timeout", str(args.timeout)] +
                    (["-v"] if args.verbose else []) + args.binaries)]
    if args.server and args.shim:
        rpy = [py, os.path.join(HERE, "integration", "run.py"),
               "--server", args.server, "--shim", args.shim]
        if args.pattern:
            rpy += ["-k", args.pattern]
        out.append(Part("integration", rpy + ["--dir", args.integration_dir],
                        may_be_empty=bool(args.pattern)))
        if args.runner_dir:
            out.append(Part("runner", rpy + ["--dir", args.runner_dir],
                            may_be_empty=bool(args.pattern)))
    for name, fmt, cmd in args.part:
        out.append(Part(name, shlex.split(cmd), fmt))
    return out


def main():
    ap = argparse.ArgumentParser(description="run the whole test suite")
    ap.add_argument("--server")
    ap.add_argument("--shim")
    ap.add_argument("-k", dest="pattern", default=None)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--timeout", type=int, default=UNIT_TIMEOUT,
                    help="seconds per unit binary")
    ap.add_argument("--integration-dir",
                    default=os.path.join(HERE, "integration"),
                    help=argparse.SUPPRESS)  # tests/runner/ points it away
    ap.add_argument("--runner-dir", default=os.path.join(HERE, "runner"),
                    help=argparse.SUPPRESS)  # "" in tests/runner/: no part
    ap.add_argument("--part", nargs=3, action="append", default=[],
                    metavar=("NAME", "FORMAT", "COMMAND"),
                    help="one more part; FORMAT: %s" % ", ".join(SUMMARIES))
    ap.add_argument("binaries", nargs="*")
    args = ap.parse_args()
    if bool(args.server) != bool(args.shim):
        ap.error("--server and --shim go together")
    for _, fmt, _ in args.part:
        if fmt not in SUMMARIES:
            ap.error("--part FORMAT is one of %s" % ", ".join(SUMMARIES))

    total = [0, 0, 0]
    lines = []
    for part in parts(args):
        print("== %s" % part.name, flush=True)
        counts = run_part(part)
        line = "%s: %d passed, %d failed, %d skipped" % ((part.name,) + counts)
        print(line, flush=True)
        lines.append(line)
        total = [t + c for t, c in zip(total, counts)]
    print("== total")
    for line in lines:
        print("  " + line)
    passed, failed, skipped = total
    if passed == 0:
        print("run_all.py: no test passed")
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped),
          flush=True)
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
