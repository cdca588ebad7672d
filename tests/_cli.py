"""Helpers of the tests that run the commands in a subprocess: run one, check
that bad input ends in one clean `error:` line, and see that nothing was
written."""

import os
import subprocess
import sys
from pathlib import Path


def run_module(module, *args, cwd, timeout: int = 900):
    """`python -m module args` in `cwd`, output captured, TensorFlow's C++ logs quiet."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
                          timeout=timeout)


def assert_clean_error(result, *needles):
    """Exit code 2, no traceback, exactly one `error:` line holding every needle."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    for needle in needles:
        assert needle in errors[0], errors[0]


def snapshot(folder: Path) -> dict:
    """Size and modification time of every file below `folder` (to see nothing changed)."""
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def run_main(main, *args, cwd, capfd):
    """`main(args)` of a command in this process, in `cwd`, with stdout and
    stderr read at the file-descriptor level (capfd): the result has the
    returncode, stdout and stderr that `run_module` would give, without the
    seconds a fresh Python spends importing TensorFlow. For bad input and
    reruns; each command's real entry point runs in `run_module` tests of its own."""
    import types

    capfd.readouterr()  # drop what came before
    here = os.getcwd()
    os.chdir(cwd)
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    finally:
        os.chdir(here)
    out, err = capfd.readouterr()
    return types.SimpleNamespace(returncode=code, stdout=out, stderr=err)
