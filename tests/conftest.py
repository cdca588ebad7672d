"""Shared fixtures: real MNIST from $LAD_DATA_DIR and a briefly trained LeNet.

Tests on real data read $LAD_DATA_DIR, which `.ci/run` points at the shared
data folder. Outside CI they are skipped when it is unset; under CI (CI=true)
a missing $LAD_DATA_DIR is an error, so those tests can never skip silently.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# On xdist workers (one more than the cores, below), TensorFlow gets one thread per
# pool, in the worker and in every process a test starts (they inherit os.environ);
# set before TensorFlow is first imported. With its default (a pool per core, for
# each of intra- and inter-op) three workers on two cores ran more threads than
# cores, which contended: in a fresh clone on 2026-12-05 the suite took 13 min 44 s
# with one thread, 14 min 22 s and 14 min 52 s without (`-n 0` keeps TensorFlow's
# default).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

# ART configures a logging StreamHandler on whatever sys.stderr is when it is first
# imported. The attacks import it lazily; first imported inside a test that captures
# with capfd (an in-process run whose export choice attacks), the handler kept that
# test's capture file and wrote to it after it was closed, and pytest lost stderr for
# every later test of the worker (577 errors). Imported here (`import art`), it binds
# the real stderr.
import art  # noqa: F401
import keras
import numpy as np
import pytest

# The files whose tests take the longest (end-to-end runs), longest first, by the
# per-file totals of `pytest --durations=0` (2026-12-05). The suite runs on
# pytest-xdist workers one file at a time (--dist loadfile --no-loadscope-reorder,
# in pyproject.toml), in collection order: starting the long files first lets the
# workers finish together. (xdist's default reorders files by their number of
# tests, which started the 2-test, 5-minute export-choice file last: the whole
# suite then waited 5 minutes on one worker.)
LONGEST_FIRST = ("test_robustness.py", "test_export_choice_e2e.py", "test_benchmarks.py",
                 "test_selection_real_collapse.py", "test_own_data.py", "test_svhn_celeba_cli.py",
                 "test_ga.py", "test_export.py", "test_resume.py", "test_from_run.py",
                 "test_distribute.py", "test_cli.py", "test_ga_study.py", "test_own_model.py",
                 "test_threats.py", "test_zoo.py", "test_recipe_fit_run.py",
                 "test_from_run_own.py", "test_defences.py", "test_serving.py",
                 "test_export_methods.py", "test_registration.py", "test_ga_mnist.py",
                 "test_svhn_celeba_lad.py", "test_metrics.py", "test_art_attacks.py",
                 "test_saving.py", "test_nearest_targets.py", "test_selection.py",
                 "test_attacks.py")


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker more than the cores, at most 4. The end-to-end
    tests spend part of their time starting processes, importing TensorFlow
    and tracing, which a third worker overlaps on two cores."""
    return min(4, (os.cpu_count() or 1) + 1)


def pytest_collection_modifyitems(items):
    """Moves the tests of LONGEST_FIRST's files to the front, in that order;
    every other test keeps its place after them."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # a stable sort


@pytest.fixture(scope="session")
def data_dir() -> str:
    """$LAD_DATA_DIR as an absolute path (README and CI give it as ../shared/data)."""
    path = os.environ.get("LAD_DATA_DIR")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("CI must set LAD_DATA_DIR to the shared data folder (see .ci/run)")
        pytest.skip("LAD_DATA_DIR is not set; point it at the shared data folder "
                    "(mnist/, svhn/, celeba/) to run the real-data tests")
    return os.path.abspath(path)


@pytest.fixture(scope="session")
def mnist_dir(data_dir) -> str:
    return data_dir


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """Full MNIST from $LAD_DATA_DIR (50,000 train / 10,000 provider / 10,000 test)."""
    from lad_tf.data import load_dataset

    return load_dataset("mnist", use_tfds=False)


@pytest.fixture(scope="session")
def trained_lenet(mnist):
    """A LeNet trained for one epoch on 12,000 real MNIST training images (~98%)."""
    from lad_tf.defences import classification_loss
    from lad_tf.models import build_classifier

    keras.utils.set_random_seed(0)
    model = build_classifier("lenet")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=classification_loss(10),
                  metrics=["accuracy"])
    model.fit(mnist.x_train[:12000], mnist.y_train[:12000], batch_size=128, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="session")
def provider_latents(mnist, trained_lenet):
    """(latents [N, 500], labels [N]) of the first 3,000 provider images."""
    x, y = mnist.x_provider[:3000], mnist.y_provider[:3000]
    return np.asarray(trained_lenet.features(x)), y


@contextlib.contextmanager
def shared_folder(tmp_path_factory, name: str):
    """(folder, built): one folder of this pytest session shared by every xdist
    worker, held under an exclusive lock while the caller fills it. `built` says
    whether an earlier holder finished it (its "done" file exists); otherwise
    the caller builds it and `done` is written when the block exits cleanly.
    A session-scoped fixture that builds through this runs once per session,
    not once per worker."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # workers' common root
    folder = root / name
    folder.mkdir(exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            built = (folder / "done").is_file()
            yield folder, built
            (folder / "done").write_text("ok")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def tiny_digits_run(tmp_path_factory):
    """One tiny digits run (`_tiny.TINY_DIGITS`) through export, shared by
    test_cli, test_resume and test_nearest_targets on whichever workers they
    run (built once per session, `shared_folder`): `harden --stop-after
    generate`, then `--resume` to the end, in fresh processes. Returns (cwd,
    run_dir, first, second), the two CompletedProcesses with their stderr.
    A test that changes the run works on a copy (shutil.copytree)."""
    from _tiny import TINY_DIGITS

    with shared_folder(tmp_path_factory, "tiny-digits") as (cwd, built):
        run_dir = cwd / "runs" / "tiny"
        record = cwd / "processes.json"
        if not built:
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

            def harden(*args):
                done = subprocess.run([sys.executable, "-m", "lad_tf.harden", *args], cwd=cwd,
                                      env=env, capture_output=True, text=True, timeout=900)
                assert done.returncode == 0, done.stderr[-3000:]
                return {"args": done.args, "returncode": done.returncode,
                        "stdout": done.stdout, "stderr": done.stderr}

            first = harden(*TINY_DIGITS, "--run-dir", str(run_dir), "--export-base",
                           str(cwd / "serving"), "--stop-after", "generate")
            second = harden("--dataset", "digits", "--run-dir", str(run_dir), "--export-base",
                            str(cwd / "serving"), "--resume")
            record.write_text(json.dumps([first, second]))
        first, second = (subprocess.CompletedProcess(**p) for p in json.loads(record.read_text()))
    return cwd, run_dir, first, second
