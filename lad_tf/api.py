"""The Python entry point: harden a Keras classifier with one call.

    import keras, lad_tf
    model = keras.models.load_model("my_cnn.keras")           # or build and train one
    hardened, report, run_dir = lad_tf.harden_model(
        model, dataset="digits", latent_layer="fc1", method="lad")
    # your own images: a folder of class sub-folders, or an .npz with x / y
    lad_tf.harden_model(model, dataset="digits", latent_layer="fc1", data="my_images/")

`python -m lad_tf.harden` is a thin layer over `harden_model`: the flags map
one to one onto its arguments. Heavy imports (TensorFlow) happen inside the
functions, so `import lad_tf` and `--help` stay fast.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, NamedTuple

from lad_tf.utils.errors import LadError


class HardenResult(NamedTuple):
    """What `harden_model` returns (a tuple: `model, report, run_dir = ...`).

    model: the hardened Keras classifier (logits), or None when the run
        stopped before the harden stage.
    report: report.json of the run (every stage's numbers), or
        {"stages": ..., "stopped_after": stage} for a run stopped early.
    run_dir: the run directory (artifacts, TensorBoard logs, report.md).
    """

    model: Any
    report: dict
    run_dir: Path


def resolve_run_dir(run_dir, dataset: str, resume: bool) -> Path:
    """`run_dir`, else the newest runs/<dataset>-* (resume), else a new runs/<dataset>-<time>."""
    if run_dir:
        return Path(run_dir)
    runs = sorted(Path("runs").glob(f"{dataset}-*")) if resume else []
    if runs:
        return runs[-1]
    return Path("runs") / f"{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_run_dir(dataset: str, recipe_path, overrides: list[str], run_dir, resume: bool):
    """Resolves the recipe and the run directory; refuses to overwrite a run.

    Returns: (run directory, `Recipe`); on resume, the run's own recipe.
    """
    from lad_tf.recipe.schema import (  # lazy: `import lad_tf` fast
        load_recipe,
    )

    recipe = load_recipe(dataset, recipe_path, overrides)
    run_dir = resolve_run_dir(run_dir, dataset, resume)
    saved = run_dir / "recipe.json"
    if run_dir.exists() and any(run_dir.iterdir()):
        if not resume:
            raise LadError(f"run directory {run_dir} already exists; pass --resume to continue "
                           "it, or --run-dir NEW_DIR to start a new run")
        if saved.is_file():
            from lad_tf.runs.run_dir import RunDir  # lazy, as load_recipe

            previous = RunDir(run_dir).recipe()
            recipe = _refit(recipe, run_dir)  # counts the run lowered to fit your data
            if (overrides or recipe_path) and previous != recipe:
                raise LadError(f"--set/--recipe change the recipe of {run_dir}; resume without "
                               "them, or start a new run with --run-dir NEW_DIR")
            recipe = previous
    return run_dir, recipe


def _refit(recipe, run_dir: Path):
    """`recipe` with the counts that the run lowered to fit its data (its
    recipe_fitted.json, `lad_tf.recipe.fit`) lowered the same way."""
    from lad_tf.recipe.fit import refit  # lazy, as load_recipe

    record = run_dir / "recipe_fitted.json"
    changes = json.loads(record.read_text()).get("changes", []) if record.is_file() else []
    return refit(recipe, changes)


def _as_overrides(overrides, method) -> list[str]:
    """`--set` strings from a list of them or a {"section.key": value} dict, plus `method`."""
    if overrides is None:
        out = []
    elif isinstance(overrides, dict):
        out = [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    else:
        out = [str(o) for o in overrides]
    if method:
        methods = [method] if isinstance(method, str) else list(method)
        methods = [m.strip() for text in methods for m in text.split(",") if m.strip()]
        out.append("hardening.methods=" + json.dumps(methods))
    return out


def _load_own_model(model, latent_layer):
    """(classifier, info) for a model object or a .keras path (see lad_tf.models.own_model).

    info records what identifies the model for --resume and --from-run: a
    file's "sha256", and for every model "weights_sha256" (its config and
    weights after the cut, `lad_tf.utils.files.weights_sha256`, whatever file it
    came from), the one identity an in-memory model has.
    """
    # lazy: TensorFlow loads here, not on `import lad_tf`
    from lad_tf.models.own_model import cut_model, file_sha256, load_model_file
    from lad_tf.utils.files import weights_sha256

    if isinstance(model, (str, Path)):
        path = Path(model)
        loaded = load_model_file(path)
        classifier, info = cut_model(loaded, latent_layer, source=str(path), copy=False)
        info["sha256"] = file_sha256(path)
    else:
        if latent_layer is not None and not isinstance(latent_layer, str):
            raise LadError(f"latent_layer must be a layer name. Received: {latent_layer!r}")
        classifier, info = cut_model(model, latent_layer)
    info["weights_sha256"] = weights_sha256(classifier)
    return classifier, info


def _check_resumed_model(run_dir: Path, info: dict | None):
    """On resume: the run's recorded own model must be the one given (or none)."""
    record = run_dir / "metrics" / "classifier.json"
    recorded = json.loads(record.read_text()).get("provided") if record.is_file() else None
    if info is None:
        if recorded and not (run_dir / "classifier.keras").is_file():
            raise LadError(f"{run_dir} hardens your model {recorded['source']}; resume with "
                           f"--model {recorded['source']} --latent-layer {recorded['latent_layer']}")
        return
    if recorded is None and (run_dir / "classifier.keras").is_file():
        raise LadError(f"{run_dir} trained its own classifier; resume it without --model, or "
                       "start a new run with --run-dir NEW_DIR")
    if recorded and (recorded.get("sha256") != info.get("sha256")
                     or recorded.get("latent_layer") != info.get("latent_layer")):
        raise LadError(f"{run_dir} hardens {recorded['source']} cut at "
                       f"{recorded['latent_layer']!r}, not this model / layer; resume with the "
                       "same --model and --latent-layer, or start a new run with --run-dir NEW_DIR")


def threat_lines(recipe) -> list[str]:
    """The run's first lines: the threat it hardens against and judges by
    (norm, eps, which recipe it came from) and how to change it."""
    from lad_tf.recipe.names import TRAINING_SECTIONS

    ev, sel = recipe.evaluation, recipe.selection
    train = {f"{TRAINING_SECTIONS[m]}.eps": getattr(recipe, TRAINING_SECTIONS[m]).eps
             for m in recipe.hardening.methods if m in TRAINING_SECTIONS}
    trained = "; ".join(f"{key} {value:g}" for key, value in train.items())
    sets = " ".join(f"--set {key}=E" for key in ("evaluation.pgd_eps", "evaluation.fgsm_eps",
                                                 "selection.eps", *train))
    return [f"threat: L-inf, eps {ev.pgd_eps:g} on [0, 1] pixels (recipe {recipe.name!r}: "
            f"evaluation.pgd_eps {ev.pgd_eps:g}; training {trained or 'no L-inf term'}; "
            f"validation selection.eps {sel.eps:g})",
            f"threat: another eps: {sets} (PGD step sizes, e.g. evaluation.pgd_step "
            f"{ev.pgd_step:g}, stay as set)"]


def describe_cut(info: dict) -> list[str]:
    """Lines that say how the provider's model was cut and checked."""
    if info.get("latent_layer") is None:
        return [f"model: {info['source']} ({info['kind']}) defines features() / head(); "
                f"latent width {info['latent_dim']}"]
    shape = info["latent_shape"]
    flat = "" if len(shape) == 1 else f", flattened to {info['latent_dim']}"
    lines = [f"model: {info['source']} ({info['kind']}) cut at {info['latent_layer']!r}: "
             f"phi -> latent {shape}{flat}; f_p -> {info['num_classes']} logits"]
    if info["stripped_activation"]:
        lines.append(f"model: stripped the final {info['stripped_activation']}, so attacks and "
                     "losses see logits (the export serves logits and probabilities)")
    check = info["check"]
    text = (f"model: check head(features(x)) == model(x) on {check['examples']} random images: "
            f"max abs logit difference {check['max_abs_logit_difference']:.3g} "
            f"(tolerance {check['logit_tolerance']:.3g})")
    if "max_abs_probability_difference" in check:
        text += (f", probabilities {check['max_abs_probability_difference']:.3g} "
                 f"(tolerance {check['probability_tolerance']:.3g})")
    return lines + [text]


def harden_model(model=None, dataset: str = "digits", *, latent_layer: str | None = None,
                 data=None, method=None, run_dir=None, recipe: str | None = None, overrides=None,
                 data_dir: str | None = None, export_base: str | None = None,
                 resume: bool = False, stop_after: str | None = None,
                 strategy: str = "default", from_run=None, export_method: str | None = None,
                 allow_weak_model: bool = False) -> HardenResult:
    """Hardens a classifier with LAD, evaluates it and exports it for TF Serving.

    Args:
        model: your classifier: a Keras 3 Functional / Sequential model or the
            path of its `.keras` file, taking float32 images [B, H, W, C] in
            [0, 1] (put any rescaling inside the model) and returning [B, K]
            logits or probabilities (a final softmax / sigmoid is stripped);
            or a `LatentClassifier`. None: train the recipe's zoo classifier.
        dataset: zoo entry whose data and recipe are used (zoo/<dataset>/recipe.json);
            its images must have your model's input shape and its classes
            your model's K outputs (K = 1: one sigmoid logit for two classes).
            With `data`, only its recipe (budgets, models) is used.
        data: your own images instead of the zoo entry's: a folder of class
            sub-folders (streamed from disk) or an `.npz` with x / y (or
            x_train / y_train / x_test / y_test); see lad_tf.data.own_data.
        latent_layer: name of the layer whose output is the latent z (phi
            ends there, f_p is the rest); a conv layer's output is flattened.
        method: defence(s) to build, e.g. "lad" or ["lad", "pgd-at"]
            (default: the recipe's hardening.methods).
        run_dir: run directory (default: runs/<dataset>-<time>).
        recipe: a recipe JSON file instead of the zoo's.
        overrides: recipe changes, ["generator.epochs=2", ...] or
            {"generator.epochs": 2, ...}.
        data_dir, export_base, resume, stop_after, strategy, from_run: as the
            CLI's --data-dir, --export-base, --resume, --stop-after,
            --strategy, --from-run (for your model or data: the same model,
            by file sha256 or weights hash, layer and data).
        export_method: export this defence (or "original") instead of the
            one the run chooses on the validation split (`--export-method`).
        allow_weak_model: go on when your model reads the validation split
            at no better than twice chance (`--allow-weak-model`).

    Returns: HardenResult(the exported model, report, run_dir).

    Raises:
        LadError: bad input (model, layer, data, recipe, run directory),
            raised before anything is trained or written.
    """
    overrides = _run_overrides(overrides, method, model, latent_layer, dataset, recipe,
                               export_method)
    if from_run is not None:
        _check_from_run(from_run, run_dir, resume, model, data)
    run_dir, resolved = prepare_run_dir(dataset, recipe, overrides, run_dir, resume)
    provided, info = _checked_model(model, latent_layer, from_run, data, resume, run_dir)
    from lad_tf.pipeline.runner import run_pipeline  # lazy, as above
    from lad_tf.utils.monitoring import log  # lazy: TensorFlow loads here

    for line in [*threat_lines(resolved), *(describe_cut(info) if info is not None else ())]:
        log(line)
    run, outcome = run_pipeline(run_dir, resolved, data_dir=data_dir, export_base=export_base,
                                resume=resume, strategy=strategy, model=provided,
                                model_info=info, data=data, stop_after=stop_after,
                                from_run=from_run, allow_weak_model=allow_weak_model)
    return _harden_result(run.run_dir, outcome, stop_after)


def _checked_model(model, latent_layer, from_run, data, resume: bool, run_dir: Path):
    """(classifier, info) of your model (None, None without one), checked
    against the run it resumes or the run it starts from."""
    provided, info = (None, None) if model is None else _load_own_model(model, latent_layer)
    if from_run is not None:
        _check_same_sources(from_run, info, data)
    if resume:
        _check_resumed_model(run_dir, info)
    return provided, info


def _harden_result(run_dir: Path, outcome, stop_after: str | None) -> HardenResult:
    """The finished run's report.json, or the stages' metrics when it stopped early."""
    report_path = run_dir / "report.json"
    report = (json.loads(report_path.read_text()) if stop_after is None and report_path.is_file()
              else {"stages": outcome.metrics, "stopped_after": stop_after})
    return HardenResult(outcome.outputs.get("hardened"), report, run_dir)


def _check_from_run(from_run, run_dir, resume: bool, model, data) -> None:
    """LadError unless --from-run names a run and this is a new run (the
    model and data are compared once the model is loaded: `_check_same_sources`)."""
    if resume:
        raise LadError("--from-run starts a new run from an earlier one; drop --resume (or drop "
                       "--from-run to continue the run itself)")
    if run_dir is not None and Path(run_dir).resolve() == Path(from_run).resolve():
        raise LadError(f"--from-run {from_run} is the run directory itself; pass a new "
                       "--run-dir")
    from lad_tf.pipeline.reuse import read_source  # lazy: imports TensorFlow

    read_source(from_run)


def _check_same_sources(from_run, info: dict | None, data) -> None:
    """LadError unless the model (file sha256 and latent layer; an in-memory
    model: the hash of its config and weights) and the data (fingerprint)
    are the earlier run's (`lad_tf.pipeline.reuse.check_same_sources`)."""
    from lad_tf.data.own_data import data_fingerprint  # lazy: imports TensorFlow
    from lad_tf.pipeline.reuse import check_same_sources

    check_same_sources(from_run, info, None if data is None else data_fingerprint(data))


def _run_overrides(overrides, method, model, latent_layer, dataset: str, recipe,
                   export_method=None) -> list[str]:
    """`--set` strings of `harden_model`'s arguments: the overrides, the
    method(s), the forced export and, for your model, its export name
    (unless one is set)."""
    overrides = _as_overrides(overrides, method)
    if export_method:
        overrides.append("export.method=" + json.dumps(export_method))
    if model is None and latent_layer is not None:
        raise LadError("--latent-layer needs --model PATH (Python: model=...); the zoo's "
                       "classifiers define their own latent layer")
    if model is not None and not any(o.startswith("export.name=") for o in overrides):
        overrides = [*overrides, _export_name(model, dataset, recipe)]
    return overrides


def _export_name(model, dataset: str, recipe) -> str:
    """The `export.name=` override for your model: <model>_<recipe>_lad."""
    stem = Path(model).stem if isinstance(model, (str, Path)) else getattr(model, "name", "")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(stem)).strip("._") or "model"
    recipe_name = dataset if recipe is None else Path(recipe).stem
    return "export.name=" + json.dumps(f"{stem}_{recipe_name}_lad")


def export_model(model, base=None, name: str | None = None,
                 metadata: dict | None = None, *, method: str | None = None, **kwargs) -> Path:
    """Writes a model, or a model of a finished run, for TF Serving as the next
    version of `<base>/<name>`.

    The one-call export of a notebook (`lad_tf.export_model(hardened, "export/models")`;
    named like `lad_tf.serving.export.export_model`, which it calls with defaults);
    `harden_model` already exports the run's model, this writes any other
    (for example one hardened again, or another defence of a run:
    `lad_tf.export_model("runs/x", method="pgd-at")`, as `python -m
    lad_tf.export runs/x --method pgd-at`). The SavedModel carries the
    signatures `python -m lad_tf.export` writes (images, image bytes, model card).

    Args:
        model: a built `LatentClassifier` returning logits (what `harden_model`
            returns), or a run directory (str or Path of a folder written by
            `python -m lad_tf.harden`).
        base: the TF Serving base folder (default: export/models; for a run,
            its recipe's export.base).
        name: the model's folder under `base`; default `model.name`, for a
            run `lad_tf.serving.export.default_name` (the recipe's export.name, with
            `_lad` made `_<method>` for a model the run did not choose).
        metadata, **kwargs: as `lad_tf.serving.export.export_model` (model card facts,
            max_batch, out_of_range).
        method: with a run directory, the model to export: a defence the run
            trained, "original", or None for the one the run chose
            (hardened.keras).

    Returns:
        `<base>/<name>/<version>`, complete on disk.

    Raises:
        LadError: with a run: a missing run, method or file, a bad name, a
            file that cannot be loaded (nothing is written); `method` with a
            model object.
    """
    from lad_tf.serving import export  # TensorFlow loads here, not on `import lad_tf`

    if isinstance(model, (str, Path)):
        return export.export_run(model, method, name, base, metadata=metadata, **kwargs)
    if method is not None:
        raise LadError("method= chooses a model of a run directory; pass the run directory "
                       f"as the first argument, or drop method=. Received: method={method!r}")
    return export.export_model(model, base or "export/models", name or model.name, metadata,
                               **kwargs)
