"""SavedModel export: TF Serving layout, versions, crash safety, self-description,
and TensorFlow's own tools (a separate-process loader and saved_model_cli)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from lad_tf.cli.export import main as export_main
from lad_tf.models import build_classifier
from lad_tf.serving.export import export_model

SAVED_MODEL_CLI = Path(sys.executable).parent / "saved_model_cli"
REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
SIGNATURES = {"serving_default", "predict_image_bytes", "model_card"}


def png_bytes(images: np.ndarray) -> list:
    """uint8 PNG files of float images [N, H, W, C] in [0, 1] (exact for MNIST: k / 255)."""
    return [tf.io.encode_png(tf.cast(tf.round(x * 255.0), tf.uint8)).numpy() for x in images]


def pipeline_metadata() -> dict:
    """Model-card facts shaped as the pipeline's export stage passes them."""
    recipe = json.loads((REPO / "zoo" / "mnist" / "recipe.json").read_text())
    return {"dataset": {"name": "mnist", "image_shape": [28, 28, 1]},
            "method": "LAD (Latent Adversarial Defence), Eq. 4 fine-tuning",
            "recipe": recipe,
            "evaluation": {"hardened": {"clean_accuracy": 0.99, "fgsm_accuracy": 0.1,
                                        "pgd_accuracy": 0.0}},
            "run_dir": "runs/mnist-test"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_lenet):
    base = tmp_path_factory.mktemp("serving")
    path = export_model(trained_lenet, base, "lenet", pipeline_metadata())
    return trained_lenet, base, path


def run(*args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=ENV,
                          timeout=300, **kwargs)


# -- layout, versions, crash safety --------------------------------------------------
def test_one_call_export_from_the_package(trained_lenet, tmp_path):
    """`lad_tf.export_model(model, base)`: the notebook's one call, loadable by TF's own loader."""
    import lad_tf

    path = lad_tf.export_model(trained_lenet, tmp_path, "mine")
    assert path == tmp_path / "mine" / "1"
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    x = np.random.default_rng(0).uniform(0, 1, (3, 28, 28, 1)).astype("float32")
    got = served(images=tf.constant(x))["logits"].numpy()
    np.testing.assert_allclose(got, np.asarray(trained_lenet(x)), atol=1e-5)  # same graph, same batch


def test_layout_and_versions(exported, tmp_path):
    model, _, path = exported
    assert path.name == "1"
    assert (path / "saved_model.pb").is_file()
    assert (path / "variables" / "variables.index").is_file()
    base = tmp_path / "models"
    first = export_model(model, base, "lenet")
    second = export_model(model, base, "lenet")
    assert (first.name, second.name) == ("1", "2")
    assert (first / "saved_model.pb").read_bytes()  # the first version is untouched
    # Only complete integer versions are in the folder a server watches.
    assert sorted(p.name for p in (base / "lenet").iterdir()) == ["1", "2"]


def test_export_killed_midway_leaves_previous_versions_intact(tmp_path):
    """SIGKILL at the worst moment (SavedModel written, not yet renamed), then a new export."""
    base = tmp_path / "models"
    script = textwrap.dedent(f"""
        import os, signal
        import lad_tf.serving.export as ex
        from lad_tf.models import build_classifier
        model = build_classifier("lenet")
        print(ex.export_model(model, {str(base)!r}, "lenet"), flush=True)
        ex._fsync_tree = lambda path: os.kill(os.getpid(), signal.SIGKILL)
        ex.export_model(model, {str(base)!r}, "lenet")
        print("not reached", flush=True)
    """)
    result = run(sys.executable, "-c", script)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "not reached" not in result.stdout
    model_dir = base / "lenet"
    names = sorted(p.name for p in model_dir.iterdir())
    assert [n for n in names if n.isdigit()] == ["1"]  # what TF Serving can see
    partial = [n for n in names if not n.isdigit()]
    assert len(partial) == 1 and partial[0].startswith(".partial-")
    assert (model_dir / partial[0] / "sm" / "saved_model.pb").is_file()  # it died after writing
    # Version 1 still loads and answers; the next export takes version 2 and clears the
    # dead process's temporary folder.
    v1 = tf.saved_model.load(str(model_dir / "1")).signatures["serving_default"]
    assert v1(images=tf.zeros([1, 28, 28, 1]))["logits"].shape == (1, 10)
    assert export_model(build_classifier("lenet"), base, "lenet").name == "2"
    assert sorted(p.name for p in model_dir.iterdir()) == ["1", "2"]


def test_export_killed_at_random_moments_never_publishes_a_partial_version(tmp_path):
    base = tmp_path / "models"
    script = textwrap.dedent(f"""
        from lad_tf.serving.export import export_model
        from lad_tf.models import build_classifier
        model = build_classifier("lenet")
        while True:
            print(export_model(model, {str(base)!r}, "lenet").name, flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env=ENV)
    try:
        assert process.stdout.readline().strip() == "1"  # one finished export, then kill
        assert process.stdout.readline().strip() == "2"  # midway through a later one
    finally:
        process.kill()
        process.wait(timeout=30)
    versions = sorted(int(p.name) for p in (base / "lenet").iterdir() if p.name.isdigit())
    assert versions[:2] == [1, 2]
    for version in versions:  # every published version is complete
        folder = base / "lenet" / str(version)
        for part in ("saved_model.pb", "variables/variables.index", "assets/model_card.json"):
            assert (folder / part).is_file(), (version, part)
    loaded = tf.saved_model.load(str(base / "lenet" / str(versions[-1])))
    assert SIGNATURES <= set(loaded.signatures)


# -- self-description ----------------------------------------------------------------
def test_model_card_is_an_asset_and_a_signature(exported):
    _, _, path = exported
    card = json.loads((path / "assets" / "model_card.json").read_text())
    assert card["dataset"]["name"] == "mnist"
    assert card["method"].startswith("LAD")
    assert card["eps"] == {"hardening": [1.0, 2.0], "unit": "calibrated"}
    assert card["evaluation"]["hardened"]["clean_accuracy"] == 0.99
    assert card["recipe"]["export"]["name"] == "lenet_mnist_lad"
    assert card["code_version"]["lad_tf"] and card["code_version"]["tensorflow"] == tf.__version__
    assert len(card["code_version"]["git_commit"] or "0" * 40) == 40
    assert card["serving"]["input_shape"] == [28, 28, 1]
    assert card["serving"]["max_batch"] == 1024 and card["serving"]["out_of_range"] == "clip"
    fn = tf.saved_model.load(str(path)).signatures["model_card"]
    whole, eps = fn(fields=tf.constant(["*", "eps"]))["json"].numpy()
    assert json.loads(whole) == card
    assert json.loads(eps) == card["eps"]


# -- TensorFlow's own tools ----------------------------------------------------------
def test_each_signature_loaded_in_a_separate_process_matches_keras(exported, tmp_path, mnist):
    model, _, path = exported
    x = mnist.x_test[:200]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "png.npy", np.array(png_bytes(x), dtype=object), allow_pickle=True)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({str(path)!r})
        x = np.load({str(tmp_path / 'x.npy')!r})
        png = np.load({str(tmp_path / 'png.npy')!r}, allow_pickle=True)
        a = loaded.signatures["serving_default"](images=tf.constant(x))
        b = loaded.signatures["predict_image_bytes"](image_bytes=tf.constant(list(png)))
        c = loaded.signatures["model_card"](fields=tf.constant(["serving"]))
        np.savez({str(tmp_path / 'out.npz')!r},
                 **{{"images_" + k: v.numpy() for k, v in a.items()}},
                 **{{"bytes_" + k: v.numpy() for k, v in b.items()}},
                 card=np.array([v.decode() for v in c["json"].numpy()]))
    """)
    result = run(sys.executable, "-c", script)
    assert result.returncode == 0, result.stderr
    out = np.load(tmp_path / "out.npz")
    keras_logits = np.asarray(model(x))
    images_diff = float(np.abs(out["images_logits"] - keras_logits).max())
    bytes_diff = float(np.abs(out["bytes_logits"] - keras_logits).max())
    print(f"max abs logit difference vs Keras, 200 MNIST test images: serving_default "
          f"{images_diff}, predict_image_bytes (PNG) {bytes_diff}")
    assert images_diff <= 1e-5  # measured 0.0
    assert bytes_diff <= 1e-5   # measured ~2e-6: same pixels, another graph's conv kernels
    for prefix in ("images_", "bytes_"):
        # classes are the argmax of the same graph's logits (exact: one computation); Keras's
        # own logits differ by up to 1e-5 (above), which may flip a near-tie
        np.testing.assert_array_equal(out[prefix + "classes"], out[prefix + "logits"].argmax(1))
        np.testing.assert_allclose(out[prefix + "probabilities"].sum(1), 1.0, rtol=1e-5)
    assert (out["images_classes"] == mnist.y_test[:200]).mean() > 0.9
    assert json.loads(out["card"][0])["num_classes"] == 10


def test_saved_model_cli_show_lists_the_signatures(exported):
    _, _, path = exported
    result = run(SAVED_MODEL_CLI, "show", "--dir", path, "--all")
    assert result.returncode == 0, result.stderr
    shown = result.stdout
    for name in SIGNATURES:
        assert f"signature_def['{name}']" in shown
    assert shown.count("Method name is: tensorflow/serving/predict") == 3
    assert "inputs['images']" in shown and "inputs['image_bytes']" in shown
    assert "inputs['fields']" in shown and "outputs['json']" in shown
    # The inputs are declared with unknown rank on purpose (lad_tf.serving.signatures):
    # the checks inside the graph, not a declared shape, enforce [batch, 28, 28, 1].
    assert shown.count("shape: unknown_rank") >= 3
    for name in ("logits", "probabilities"):
        assert f"outputs['{name}']" in shown
    assert "shape: (-1, 10)" in shown and "outputs['classes']" in shown


def test_saved_model_cli_run_matches_keras(exported, tmp_path, mnist):
    """saved_model_cli runs the graph in a TF1 session, as tensorflow_model_server does."""
    model, _, path = exported
    x = mnist.x_test[:32]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "png.npy", np.array(png_bytes(x), dtype="S"))  # PNG ends without NULs
    keras_logits = np.asarray(model(x))
    for signature, inputs in (("serving_default", "images=" + str(tmp_path / "x.npy")),
                              ("predict_image_bytes", "image_bytes=" + str(tmp_path / "png.npy"))):
        out = tmp_path / signature
        result = run(SAVED_MODEL_CLI, "run", "--dir", path, "--tag_set", "serve",
                     "--signature_def", signature, "--inputs", inputs, "--outdir", out)
        assert result.returncode == 0, result.stderr
        logits = np.load(out / "logits.npy")
        diff = float(np.abs(logits - keras_logits).max())
        print(f"saved_model_cli run {signature}: max abs logit difference vs Keras {diff}")
        assert diff <= 1e-5
        np.testing.assert_array_equal(np.load(out / "classes.npy"), logits.argmax(1))  # same graph


def test_saved_model_cli_run_wrong_rank_fails_with_the_graphs_message(exported, tmp_path):
    _, _, path = exported
    np.save(tmp_path / "flat.npy", np.zeros((2, 784), np.float32))
    result = run(SAVED_MODEL_CLI, "run", "--dir", path, "--tag_set", "serve",
                 "--signature_def", "serving_default", "--inputs",
                 "images=" + str(tmp_path / "flat.npy"))
    assert result.returncode != 0 and result.returncode > 0  # an error, not an abort
    assert "images must have rank 4, shape [batch, 28, 28, 1]" in result.stderr


def test_one_logit_rgb_model_exports_two_class_probabilities(tmp_path):
    """CelebA's smile classifier: one sigmoid logit, RGB input (at 32x32 to stay small)."""
    model = build_classifier("celeba_net", image_shape=(32, 32, 3))
    path = export_model(model, tmp_path, "smile")
    loaded = tf.saved_model.load(str(path))
    x = np.random.default_rng(1).random((4, 32, 32, 3)).astype("float32")
    out = loaded.signatures["serving_default"](images=tf.constant(x))
    logits = np.asarray(model(x))
    assert float(np.abs(out["logits"].numpy() - logits).max()) <= 1e-5
    p1 = 1 / (1 + np.exp(-logits[:, 0]))
    np.testing.assert_allclose(out["probabilities"].numpy(), np.stack([1 - p1, p1], 1), atol=1e-6)
    # classes from the served graph's own logits (exact); Keras's may sit within 1e-5 of 0
    served = out["logits"].numpy()[:, 0]
    np.testing.assert_array_equal(out["classes"].numpy(), (served > 0).astype(np.int64))
    grey = tf.io.encode_png(tf.cast(tf.round(x[0, :, :, :1] * 255), tf.uint8)).numpy()
    rgb = loaded.signatures["predict_image_bytes"](image_bytes=tf.constant([grey]))
    assert rgb["probabilities"].shape == (1, 2)  # a grey PNG is turned into 3 channels
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"shape \[batch, 32, 32, 3\]"):
        loaded.signatures["serving_default"](images=tf.constant(x[..., :1]))


# -- value range policy --------------------------------------------------------------
def test_out_of_range_values_are_clipped_by_default(exported):
    _, _, path = exported
    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32") * 3 - 1
    a = fn(images=tf.constant(x))["logits"].numpy()
    b = fn(images=tf.constant(np.clip(x, 0, 1)))["logits"].numpy()
    np.testing.assert_array_equal(a, b)


def test_out_of_range_values_can_be_rejected(tmp_path):
    path = export_model(build_classifier("lenet"), tmp_path, "strict", out_of_range="reject")
    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must lie in \[0, 1\]"):
        fn(images=tf.constant(np.full((1, 28, 28, 1), 1.5, np.float32)))
    assert fn(images=tf.constant(np.ones((1, 28, 28, 1), np.float32)))["logits"].shape == (1, 10)
    card = json.loads((path / "assets" / "model_card.json").read_text())
    assert card["serving"]["out_of_range"] == "reject"


def test_bad_export_arguments_are_refused(tmp_path):
    model = build_classifier("lenet")
    with pytest.raises(ValueError, match="name"):
        export_model(model, tmp_path, "../escape")
    with pytest.raises(ValueError, match="max_batch"):
        export_model(model, tmp_path, "m", max_batch=0)
    with pytest.raises(ValueError, match="out_of_range"):
        export_model(model, tmp_path, "m", out_of_range="wrap")
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


# -- CLI -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished-looking run directory: recipe, report and a hardened model."""
    run_dir = tmp_path_factory.mktemp("run")
    model = build_classifier("lenet")
    model.save(run_dir / "hardened.keras")
    recipe = json.loads((REPO / "zoo" / "digits" / "recipe.json").read_text())
    (run_dir / "recipe.json").write_text(json.dumps(recipe))
    report = {"dataset": {"name": "digits"}, "stages": {"evaluate": {"hardened": {
        "clean_accuracy": 0.9, "fgsm_accuracy": 0.2, "pgd_accuracy": 0.05}}}}
    (run_dir / "report.json").write_text(json.dumps(report))
    return run_dir


def test_cli_exports_a_new_version_with_the_runs_card(run_dir, tmp_path):
    base = tmp_path / "models"
    result = run(sys.executable, "-m", "lad_tf.export", run_dir, "--name", "demo",
                 "--base", base, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"exported {base / 'demo' / '1'}"
    assert export_main([str(run_dir), "--name", "demo", "--base", str(base)]) == 0
    card = json.loads((base / "demo" / "2" / "assets" / "model_card.json").read_text())
    assert card["dataset"]["name"] == "digits" and card["model"] == "hardened"
    assert card["evaluation"]["hardened"]["pgd_accuracy"] == 0.05
    assert card["recipe"]["export"]["name"] == "lenet_digits_lad_demo"
    assert card["eps"]["hardening"] == card["recipe"]["hardening"]["eps"]


@pytest.mark.parametrize("args, needle", [
    (["{missing}", "--name", "x"], "not found"),
    (["{run}", "--model", "original", "--name", "x"], "classifier.keras not found"),
    (["{run}", "--name", ".hidden"], "--name"),
    (["{run}", "--name", "x", "--max-batch", "0"], "--max-batch"),
])
def test_cli_bad_input_is_one_line_error(run_dir, tmp_path, capsys, args, needle):
    args = [a.format(missing=tmp_path / "nope", run=run_dir) for a in args]
    assert export_main([*args, "--base", str(tmp_path / "models")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").rglob("*.pb"))


def test_run_metadata_names_the_defence_the_run_exports(tmp_path):
    """`python -m lad_tf.export RUN`'s card says which defence the hardened
    model holds (the recipe's first method), not always LAD."""
    from lad_tf.serving.export import run_metadata

    (tmp_path / "recipe.json").write_text(json.dumps({"hardening": {"methods": ["pgd-at", "lad"]}}))
    assert run_metadata(tmp_path)["method"] == "PGD-AT (Madry)"
    assert run_metadata(tmp_path, "original")["method"].startswith("none")
