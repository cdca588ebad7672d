"""Hardening under tf.distribute: MirroredStrategy over 2 logical CPUs gives
the one-device loss, and 2 MultiWorkerMirroredStrategy workers on loopback
finish a tiny hardening epoch. Each case runs in fresh processes, because
logical devices must be configured before TensorFlow starts."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from _tiny import LAD_ONLY_FAST_EVALUATION

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

MIRRORED = textwrap.dedent("""
    import json, sys
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from lad_tf.defences import LAD
    from lad_tf.models import build_classifier

    rng = np.random.default_rng(0)
    x, xa = rng.random((2, 16, 28, 28, 1)).astype("float32")
    y, ya = rng.integers(0, 10, (2, 16)).astype("int64")
    data = tf.data.Dataset.from_tensors(((x, y), (xa, ya)))

    def one_step(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = LAD(build_classifier("lenet"), alpha=0.5)
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        logs = model.fit(data, epochs=1, verbose=0).history
        return logs["loss"][0], [w.numpy() for w in model.classifier.weights]

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    loss_2, weights_2 = one_step(mirrored)
    loss_1, weights_1 = one_step(tf.distribute.get_strategy())
    diff = max(float(np.abs(a - b).max()) for a, b in zip(weights_1, weights_2))
    print(json.dumps({"loss_1": loss_1, "loss_2": loss_2, "weight_diff": diff}))
""")

WORKER = textwrap.dedent("""
    import json, sys
    import numpy as np, tensorflow as tf, keras
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    from lad_tf.defences import LAD
    from lad_tf.defences.datasets import hardening_dataset
    from lad_tf.models import build_classifier
    rng = np.random.default_rng(0)
    x, xa = rng.random((2, 64, 28, 28, 1)).astype("float32")
    y, ya = rng.integers(0, 10, (2, 64)).astype("int64")
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = LAD(build_classifier("lenet"), alpha=0.5)
        model.compile(optimizer=keras.optimizers.SGD(0.05))
    from lad_tf.utils.distribute import fit_multi_worker
    history = fit_multi_worker(model, hardening_dataset(x, y, xa, ya, batch_size=16), 1, strategy)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "loss": history["loss"][0],
                      "steps": int(model.optimizer.iterations.numpy())}))
""")


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_mirrored_two_cpus_matches_one_device():
    result = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True,
                            env=ENV, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = last_json(result.stdout)
    # Same global batch, same initial weights: the loss and the updated weights
    # agree to float32 round-off (tolerance 1e-5).
    assert out["loss_2"] == pytest.approx(out["loss_1"], abs=1e-5)
    assert out["weight_diff"] < 1e-5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_multi_worker_processes_finish_an_epoch():
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(subprocess.Popen(
            [sys.executable, "-c", WORKER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**ENV, "TF_CONFIG": json.dumps(tf_config)}))
    outputs = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, stderr[-3000:]
            outputs.append(last_json(stdout))
    finally:
        for proc in procs:
            proc.kill()
    assert [o["replicas"] for o in outputs] == [2, 2]
    assert [o["steps"] for o in outputs] == [4, 4]  # 64 generated examples, global batch 16
    # All-reduced training: both workers end the epoch with the same loss.
    assert outputs[0]["loss"] == pytest.approx(outputs[1]["loss"], rel=1e-5)


def test_harden_cli_with_two_workers(tmp_path):
    """`harden --strategy multi-worker` end to end: worker 0 writes the run and
    the export, worker 1 trains in step and keeps its files apart."""
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    tiny = ["--dataset", "digits", "--set", "classifier.epochs=1", "--set", "generator.epochs=1",
            "--set", "svm.epochs=2", "--set", "svm.per_class=9", "--set",
            "generation.per_class=2", "--set", "generation.eps_sweep=[1.0]", "--set",
            "hardening.per_class=2", "--set", "hardening.epochs=1", "--set",
            "evaluation.per_class=2", "--set", "evaluation.pgd_iterations=3",
            *LAD_ONLY_FAST_EVALUATION]
    run_dir = tmp_path / "run"
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "lad_tf.harden", *tiny, "--strategy", "multi-worker",
             "--run-dir", str(run_dir), "--export-base", str(tmp_path / "serving")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
            env={**ENV, "TF_CONFIG": json.dumps(tf_config)}))
    try:
        for proc in procs:
            _, stderr = proc.communicate(timeout=600)
            assert proc.returncode == 0, stderr[-3000:]
    finally:
        for proc in procs:
            proc.kill()
    stages = json.loads((run_dir / "report.json").read_text())["stages"]
    assert stages["export"]["version"] == 1
    assert (run_dir / "worker-1" / "report.json").is_file()
    assert json.loads((run_dir / "worker-1" / "report.json").read_text())[
        "stages"]["export"] == {"skipped": "only the chief worker exports",
                                "seconds": pytest.approx(0, abs=1)}
