"""A run killed in the middle of a training stage resumes from its last
finished epoch and ends where an uninterrupted run ends; a resumed run
recomputes what a recomputed stage made stale."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
from _cli import run_main
from _tiny import TINY_DIGITS

# The settings of conftest.tiny_digits_run: that finished run is the
# uninterrupted reference here, and the starting point of the staleness test.
SETTINGS = TINY_DIGITS
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def arguments(run_dir, *extra):
    return [*SETTINGS, "--run-dir", str(run_dir), "--export-base", str(run_dir.parent / "serving"),
            *extra]


def command(run_dir, *extra):
    return [sys.executable, "-m", "lad_tf.harden", *arguments(run_dir, *extra)]


def report(run_dir) -> dict:
    return json.loads((run_dir / "report.json").read_text())["stages"]


def test_killed_generator_stage_resumes_from_its_backup(tmp_path, tiny_digits_run, capfd):
    """Killed in a fresh process, resumed by the command's main() in this one
    (conftest.tiny_digits_run runs `python -m lad_tf.harden --resume` itself)."""
    from lad_tf.cli.harden import main

    _, reference, _, _ = tiny_digits_run  # the same settings, never interrupted in a stage

    killed = tmp_path / "killed"
    proc = subprocess.Popen(command(killed), stderr=subprocess.PIPE, text=True, env=ENV,
                            cwd=tmp_path)
    seen = []
    for line in proc.stderr:  # kill as soon as two generator epochs are done
        seen.append(line)
        # the end-of-epoch line "generator epoch 2/6 (N s): ...", not the progress line
        # "generator epoch 2/6: step ..." that an epoch longer than 30 s (a loaded
        # machine) logs before its backup exists
        if "generator epoch 2/6 (" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen[-5:])
    assert not (killed / "generator.keras").exists()
    assert (killed / "backup" / "generator").is_dir()

    resumed = run_main(main, *arguments(killed, "--resume"), cwd=tmp_path, capfd=capfd)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "reusing classifier.keras" in resumed.stderr
    epochs = [line.split("generator epoch ")[1].split("/")[0]
              for line in resumed.stderr.splitlines() if "generator epoch " in line]
    assert epochs[0] in ("3", "4"), epochs  # continued after the last backed-up epoch
    assert epochs[-1] == "6"
    assert not (killed / "backup" / "generator").exists()  # removed when the stage finished

    ref, res = report(reference), report(killed)
    # Same recipe, same seed: the resumed run differs only in the shuffle order
    # of the epochs after the restore. Tolerances: 25% on the generator's test
    # MSE, 5 points on clean accuracy.
    assert res["generator"]["test_mse"] == pytest.approx(ref["generator"]["test_mse"], rel=0.25)
    for model in ("original", "hardened"):
        assert res["evaluate"][model]["clean_accuracy"] == pytest.approx(
            ref["evaluate"][model]["clean_accuracy"], abs=0.05)


def test_recomputed_upstream_stage_recomputes_the_per_method_files(tmp_path, tiny_digits_run,
                                                                    capfd):
    """methods/<method>.keras is reused on --resume only while every stage
    before harden was reused; a recomputed generation makes it stale. The
    resumes call harden's main() in this process (the test above and test_cli
    run `python -m lad_tf.harden --resume`)."""
    from lad_tf.cli.harden import main

    run_dir = tmp_path / "run"  # a copy of the finished shared run (same settings)
    shutil.copytree(tiny_digits_run[1], run_dir)
    method = run_dir / "methods" / "lad.keras"
    made = method.stat().st_mtime_ns

    # Nothing upstream recomputed: the finished method is reused.
    (run_dir / "hardened.keras").unlink()
    def resume():
        return run_main(main, *arguments(run_dir, "--resume", "--stop-after", "harden"),
                        cwd=tmp_path, capfd=capfd)

    again = resume()
    assert again.returncode == 0, again.stderr[-3000:]
    assert "stage generate: reusing generated.npz" in again.stderr
    assert "harden lad: reusing lad.keras" in again.stderr
    assert method.stat().st_mtime_ns == made

    # The generation recomputed: the method is trained again on the new set.
    (run_dir / "generated.npz").unlink()
    stale = resume()
    assert stale.returncode == 0, stale.stderr[-3000:]
    assert "stage generate: running" in stale.stderr
    assert "stage harden: removing stale methods" in stale.stderr
    assert "harden lad: reusing" not in stale.stderr
    assert "harden: method lad (1/1)" in stale.stderr
    assert method.stat().st_mtime_ns > made
    info = json.loads((run_dir / "methods" / "lad.json").read_text())
    assert info["examples"] == json.loads(
        (run_dir / "metrics" / "generate.json").read_text())["hardening_set"]["examples"]
