"""The test runners count honestly (issue 18): tests/run_all.py,
tests/run_unit.py and tests/integration/run.py run here as `make test`
runs them, on folders and binaries made for the purpose, and must fail
when nothing ran, when a binary prints no summary, when a part exits
non-zero, and must show a skip as a skip.

Run by tests/integration/run.py --dir tests/runner (run_all.py's `runner`
part); ctx.binary and ctx.shim are only passed through to the runners
under test (no server is started here)."""

import os
import re
import subprocess
import sys
import textwrap

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_ALL = os.path.join(TESTS, "run_all.py")
RUN_UNIT = os.path.join(TESTS, "run_unit.py")
RUN_PY = os.path.join(TESTS, "integration", "run.py")
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$")

CMOCKA_SRC = r"""
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
static void t_ok(void **s) { (void)s; assert_int_equal(2, 1 + 1); }
static void t_skip(void **s) { (void)s; skip(); }
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_ok), cmocka_unit_test(t_skip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
"""
EMPTY_MAIN_SRC = "int main(void) { return 0; }\n"

PY_TESTS = textwrap.dedent('''
    import harness

    def test_passes():
        assert 1 + 1 == 2

    def test_skipped():
        raise harness.Skip("nothing to check in this build")
''')


def _run(cmd, timeout=240):
    env = dict(os.environ)
    env.pop("ASAN_OPTIONS", None)   # the binaries built here are plain
    p = subprocess.run([sys.executable] + cmd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, env=env)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def _last_summary(out):
    """(passed, failed, skipped) of the last summary line, or None."""
    found = None
    for line in out.splitlines():
        m = SUMMARY.match(line.strip())
        if m:
            found = tuple(int(x) for x in m.groups())
    return found


def _cc(ctx, name, src, *libs):
    c = os.path.join(ctx.tmpdir, name + ".c")
    with open(c, "w") as f:
        f.write(src)
    out = os.path.join(ctx.tmpdir, name)
    subprocess.run(["cc", "-o", out, c] + list(libs), check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return out


def _folder(ctx, name, files=None):
    d = os.path.join(ctx.tmpdir, name)
    os.makedirs(d)
    for fname, text in (files or {}).items():
        with open(os.path.join(d, fname), "w") as f:
            f.write(text)
    return d


def _run_all(ctx, *extra, integration=None, runner=""):
    args = [RUN_ALL, "--server", ctx.binary, "--shim", ctx.shim,
            "--runner-dir", runner]
    if integration:
        args += ["--integration-dir", integration]
    return _run(args + list(extra))


def test_integration_runner_fails_an_empty_folder(ctx):
    rc, out = _run([RUN_PY, "--server", ctx.binary, "--shim", ctx.shim,
                    "--dir", _folder(ctx, "empty")])
    assert rc == 1 and _last_summary(out) == (0, 0, 0), (rc, out)


def test_make_test_fails_when_the_integration_part_ran_nothing(ctx):
    ok = _cc(ctx, "ok", CMOCKA_SRC, "-lcmocka")
    rc, out = _run_all(ctx, ok, integration=_folder(ctx, "empty"))
    assert rc == 1, out
    assert "part integration passed no test" in out, out
    assert out.rstrip().splitlines()[-1] == "1 passed, 1 failed, 1 skipped", \
        out


def test_summaryless_binary_is_a_failure(ctx):
    ok = _cc(ctx, "ok", CMOCKA_SRC, "-lcmocka")
    empty = _cc(ctx, "empty_main", EMPTY_MAIN_SRC)
    rc, out = _run([RUN_UNIT, empty])
    assert rc == 1 and _last_summary(out) == (0, 1, 0), (rc, out)
    assert "without a cmocka summary" in out, out
    rc, out = _run([RUN_UNIT, ok, empty])
    assert rc == 1 and _last_summary(out) == (1, 1, 1), (rc, out)
    # and through run_all.py as make test runs it
    tests = _folder(ctx, "it", {"test_x.py": PY_TESTS})
    rc, out = _run_all(ctx, ok, empty, integration=tests)
    assert rc == 1, out
    assert out.rstrip().splitlines()[-1] == "2 passed, 1 failed, 2 skipped", \
        out


def test_skip_is_shown_and_counted(ctx):
    tests = _folder(ctx, "it", {"test_x.py": PY_TESTS})
    rc, out = _run([RUN_PY, "--server", ctx.binary, "--shim", ctx.shim,
                    "--dir", tests])
    assert rc == 0 and _last_summary(out) == (1, 0, 1), (rc, out)
    assert re.search(r"^SKIP test_x\.py::test_skipped: nothing to check in "
                     r"this build \(", out, re.M), out
    assert "PASS test_x.py::test_passes" in out, out
    # a folder whose only test skips passed nothing: a failure
    only = _folder(ctx, "only", {"test_y.py": PY_TESTS.split(
        "def test_passes")[0] + "def test_skipped():\n"
        "    raise harness.Skip('no')\n"})
    rc, out = _run([RUN_PY, "--server", ctx.binary, "--shim", ctx.shim,
                    "--dir", only])
    assert rc == 1 and _last_summary(out) == (0, 0, 1), (rc, out)
    # cmocka's skip() is a skip too, and the total shows both
    ok = _cc(ctx, "ok", CMOCKA_SRC, "-lcmocka")
    rc, out = _run_all(ctx, ok, integration=tests)
    assert rc == 0, out
    assert out.rstrip().splitlines()[-1] == "2 passed, 0 failed, 2 skipped", \
        out


def test_a_part_is_read_by_its_summary_and_exit_status(ctx):
    ok = _cc(ctx, "ok", CMOCKA_SRC, "-lcmocka")
    node_out = "sh -c 'printf \"# tests 4\\n# pass 3\\n# fail 0\\n" \
               "# skipped 1\\n\"'"
    rc, out = _run([RUN_ALL, "--runner-dir", "", "--part", "js", "node",
                    node_out, ok])
    assert rc == 0, out
    assert "js: 3 passed, 0 failed, 1 skipped" in out, out
    assert out.rstrip().splitlines()[-1] == "4 passed, 0 failed, 2 skipped", \
        out
    bad = [("exits 2", "plain", "sh -c 'echo 3 passed, 0 failed; exit 2'",
            "exited 2 though its summary counts no failure", (4, 1, 1)),
           ("no summary", "plain", "sh -c 'echo all good'",
            "exited 0 without a summary", (1, 1, 1)),
           ("ran none", "node", "sh -c 'printf \"# pass 0\\n# fail 0\\n\"'",
            "passed no test", (1, 1, 1))]
    for what, fmt, cmd, says, total in bad:
        rc, out = _run([RUN_ALL, "--runner-dir", "", "--part", "x", fmt, cmd,
                        ok])
        assert rc == 1, (what, out)
        assert "part x " + says in out, (what, out)
        assert _last_summary(out) == total, (what, out)
