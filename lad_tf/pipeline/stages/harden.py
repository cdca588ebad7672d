"""Stage 5, hardening: every defence of `hardening.methods`, then Fig. 7's one-eps models.

Artifacts: hardened.keras (the model the run exports, chosen on the
validation split by `lad_tf.evaluation.choice`: the original or a defence)
and, per
method, methods/<method>.keras with methods/<method>.json (and
methods/lad-eps-<eps>.keras for `hardening.sweep_eps`). A finished method is
kept on disk, so a resumed run continues with the next one; the pipeline
deletes these files whenever an earlier stage is recomputed
(`lad_tf.pipeline.runner.STAGE_TABLE`: `Stage.owns`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras

from lad_tf.defences.trainer import DefenceTrainer
from lad_tf.evaluation.choice import candidate_files, choose_export
from lad_tf.lad.boundary import GeneratedSet
from lad_tf.lad.targets import TargetChoice
from lad_tf.pipeline.run import Run
from lad_tf.pipeline.stages.generate import generate_set
from lad_tf.utils.files import save_keras, write_json
from lad_tf.utils.metrics import accuracy
from lad_tf.utils.monitoring import log
from lad_tf.utils.shared_models import shared_model

METHODS_DIR = "methods"


def validation_summary(methods: dict) -> dict:
    """Per method with a validation selection: its best epoch's validation
    clean and robust accuracy, training seconds and any collapse."""
    out = {}
    for name, info in methods.items():
        sel = info.get("selection")
        if sel and sel.get("best"):
            out[name] = {"best_epoch": sel["best_epoch"], "clean": sel["best"]["val_clean_accuracy"],
                         "robust": sel["best"]["val_robust_accuracy"], "pgd_steps": sel["pgd_steps"],
                         "seconds": info["seconds"], "collapsed_at_epoch": sel["collapsed_at_epoch"]}
    return out


def defence_trainer(run: Run, generated) -> DefenceTrainer:
    """The `DefenceTrainer` of this run: from classifier.keras, with the run's fit.

    Args:
        generated: callable() -> (x_gen, y_gen), the Eq. 4 generated set.
    """
    return DefenceTrainer(
        run.artifact("classifier"), run.data, run.recipe, fit=run.fit,
        generated=generated, log=log,
        selection_folder=lambda stage: run.run_dir / "backup" / stage / "selection")


def train_method(run: Run, trainer: DefenceTrainer, method: str, index: int) -> dict:
    """Trains one method, saves methods/<method>.keras and .json; returns its info
    (or reuses them on a resumed run)."""
    methods_dir = run.run_dir / METHODS_DIR
    path, info_path = methods_dir / f"{method}.keras", methods_dir / f"{method}.json"
    if run.resume and path.is_file() and info_path.is_file():
        log(f"harden {method}: reusing {path.name}")
        return json.loads(info_path.read_text())
    log(f"harden: method {method} ({index + 1}/{len(run.recipe.hardening.methods)})")
    with run.strategy.scope():
        model, info = trainer.build(method)
    info["provider_accuracy"] = accuracy(model, run.data.x_provider, run.data.y_provider)
    log(f"harden {method}: done in {info['seconds']:.0f} s; provider accuracy "
        f"{info['provider_accuracy']:.4f}")
    save_keras(model, path)
    write_json(info_path, info)
    return info


def train_eps_model(run: Run, inputs: tuple, eps: float, path: Path) -> dict:
    """Fig. 7: LAD fine-tuned on a set generated at `eps` only, saved to `path`.

    Args:
        inputs: (classifier, generator, svm, targets), the outputs of stages 1-3.
    """
    cfg = run.recipe.hardening
    made = generate_set(run, *inputs, cfg.sweep_per_class, [eps], f"FT-{eps:g} set")
    x_adv, y_adv = made.training_set(cfg.only_inconsistent)
    start = time.perf_counter()
    log(f"harden FT-{eps:g}: fine-tuning on {len(x_adv)} examples at eps {eps:g} only")
    with run.strategy.scope():
        model, _ = defence_trainer(run, lambda: (x_adv, y_adv)).build(
            "lad", stage=f"harden-eps-{eps:g}")
    save_keras(model, path)
    return {"examples": int(len(x_adv)), "seconds": time.perf_counter() - start}


def harden(run: Run, classifier, generator, svm, targets: TargetChoice) -> tuple[dict, dict]:
    """Builds every method of `hardening.methods` (lad_tf.defences) from the
    original model (classifier.keras), then the one-eps models of Fig. 7,
    then chooses the exported model on the validation split
    (`lad_tf.evaluation.choice`).

    Args:
        run: the run (its recipe's `hardening` and defence sections).
        classifier, generator, svm, targets: the outputs of stages 1-3 (the
            one-eps models generate their own sets); LAD's set is
            generated.npz.

    Returns:
        (metrics: per method its info (examples, epochs, history, selection,
         seconds, provider accuracy), the validation summary, the export
         choice and the exported method, {"hardened": the chosen model, as
         saved in hardened.keras}).
    """
    cfg = run.recipe.hardening
    (run.run_dir / METHODS_DIR).mkdir(exist_ok=True)
    only = cfg.only_inconsistent
    trainer = defence_trainer(
        run, lambda: GeneratedSet.load(run.artifact("generate")).training_set(only))
    result = {"methods": {}, "sweep": {}}
    for i, method in enumerate(cfg.methods):
        result["methods"][method] = train_method(run, trainer, method, i)
    for eps in cfg.sweep_eps:  # Fig. 7: one model per eps ("Large Adv." sets)
        path = run.run_dir / METHODS_DIR / f"lad-eps-{eps:g}.keras"
        if run.resume and path.is_file():
            continue
        result["sweep"][f"{eps:g}"] = train_eps_model(
            run, (classifier, generator, svm, targets), float(eps), path)
    for name, row in validation_summary(result["methods"]).items():
        log(f"harden: {name}: best validation epoch {row['best_epoch']}, clean "
            f"{row['clean']:.4f}, PGD-{row['pgd_steps']} {row['robust']:.4f}, {row['seconds']:.0f} s"
            + (f", collapsed at epoch {row['collapsed_at_epoch']}" if row["collapsed_at_epoch"]
               else ""))
    # shared read-only with the evaluation stage, which attacks the same files
    result["export_choice"] = choose_export(run.run_dir, run.recipe, run.data, shared_model, log)
    chosen = result["export_choice"]["chosen"]
    hardened = keras.models.load_model(candidate_files(run.run_dir, cfg.methods)[chosen])
    save_keras(hardened, run.artifact("harden"))
    main = result["methods"].get(chosen, {})
    result["exported_method"] = chosen
    result["generated_examples"] = result["methods"].get(cfg.methods[0], {}).get("examples", 0)
    result["history"] = main.get("history", {})
    result["validation"] = validation_summary(result["methods"])
    return result, {"hardened": hardened}


def load_hardened(run: Run) -> dict:
    """{"hardened": the exported method's model read from hardened.keras}."""
    return {"hardened": keras.models.load_model(run.artifact("harden"))}
