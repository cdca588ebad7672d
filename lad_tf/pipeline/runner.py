"""The LAD pipeline behind `python -m lad_tf.harden`: a table of stages.

    data -> classifier -> generator -> attention SVMs -> generation
         -> hardening (the defences) -> evaluation -> export

`STAGE_TABLE` lists each stage with its artifact, the outputs of earlier
stages it takes, the function that runs it and the one that loads it back
(lad_tf.pipeline.stages, one module per stage). `run_stages` walks the table: on
--resume a stage whose artifact and metrics/<stage>.json exist is loaded,
else it runs; a stage that runs makes every later stage stale, so their
artifacts, metrics and partial work (the hardening stage's per-method files,
training backups) and the run's report are deleted before it starts.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Callable, NamedTuple

from lad_tf.pipeline.report import write_report
from lad_tf.pipeline.reuse import seed_from_run
from lad_tf.pipeline.run import Run
from lad_tf.pipeline.stages import (
    classifier,
    evaluate,
    export,
    figures,
    generate,
    generator,
    harden,
    svm,
)
from lad_tf.pipeline.stages.data import open_run
from lad_tf.recipe.names import STAGE_ARTIFACTS
from lad_tf.utils.files import write_json
from lad_tf.utils.monitoring import log


@dataclasses.dataclass(frozen=True)
class Stage:
    """One row of the stage table.

    Attributes:
        name: the stage's name (`lad_tf.recipe.names.STAGES`; metrics/<name>.json,
            --stop-after NAME).
        artifact: the file (in the run directory) whose presence marks it done.
        inputs: the names of earlier outputs it takes, in `run`'s order
            ("metrics": every earlier stage's metrics).
        run: callable(run, *inputs) -> (metrics dict, outputs dict).
        load: callable(run) -> outputs dict, for a stage reused on --resume.
        figures: callable(run, metrics, *figure_inputs), drawn from the
            stage's saved results after it ran; None: no figures.
        figure_inputs: the outputs `figures` takes.
        owns: other paths (globs, relative to the run directory) it writes:
            deleted with its artifact and metrics when it is stale.
    """

    name: str
    artifact: str
    inputs: tuple
    run: Callable
    load: Callable
    figures: Callable | None = None
    figure_inputs: tuple = ()
    owns: tuple = ()


def _no_outputs(run: Run) -> dict:
    return {}


MODELS = ("classifier", "generator", "svm", "targets")  # the outputs of stages 1-3
REPORT_FILES = ("report.json", "report.md")  # written by `run_pipeline` after the last stage

# The rows of the table, keyed by the names of lad_tf.recipe.names.STAGES.
_ROWS = {
    "classifier": dict(inputs=(), run=classifier.train_classifier,
                       load=classifier.load_classifier, owns=("backup/classifier",)),
    "generator": dict(inputs=("classifier",), run=generator.train_generator,
                      load=generator.load_generator, figures=figures.generator_figures,
                      figure_inputs=("classifier", "generator"), owns=("backup/generator",)),
    "svm": dict(inputs=("classifier",), run=svm.fit_svms,
                load=svm.load_svms),
    "generate": dict(inputs=MODELS, run=generate.generate_sets,
                     load=generate.load_generated, figures=figures.generation_figures,
                     owns=(generate.SWEEP_FILE,)),
    "harden": dict(inputs=MODELS, run=harden.harden, load=harden.load_hardened,
                   owns=(harden.METHODS_DIR, "backup/harden-*")),
    "evaluate": dict(inputs=(), run=evaluate.evaluate, load=_no_outputs),
    "export": dict(inputs=("hardened", "metrics"), run=export.export, load=_no_outputs),
}

# The stages in order: data -> classifier -> generator -> attention SVMs ->
# generation -> hardening -> evaluation -> export.
STAGE_TABLE: tuple[Stage, ...] = tuple(Stage(name, artifact, **_ROWS.pop(name))
                                       for name, artifact in STAGE_ARTIFACTS.items())
if _ROWS:  # a row for a stage the one list lacks
    raise RuntimeError(f"STAGE_ARTIFACTS lacks the stages {sorted(_ROWS)}")



class RunOutcome(NamedTuple):
    """What `run_stages` returns.

    metrics: stage name -> its metrics (metrics/<stage>.json), for the
        stages run or reused.
    outputs: the models of the stages run or reused ("classifier",
        "generator", "svm", "targets", "hardened").
    stopped_after: the stage the run stopped after (`stop_after`), or None.
    """

    metrics: dict
    outputs: dict
    stopped_after: str | None = None


def invalidate(run_dir: Path, stages) -> None:
    """Deletes the artifacts, metrics and owned paths of `stages` (now stale)."""
    for stage in stages:
        paths = [run_dir / stage.artifact, run_dir / "metrics" / f"{stage.name}.json"]
        for pattern in stage.owns:
            paths.extend(run_dir.glob(pattern))
        for path in paths:
            if not path.exists():
                continue
            log(f"stage {stage.name}: removing stale {path.relative_to(run_dir)}")
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def _done(run: Run, stage: Stage) -> bool:
    return (run.run_dir / stage.artifact).exists() and \
        (run.run_dir / "metrics" / f"{stage.name}.json").is_file()


def run_stage(run: Run, stage: Stage, state: dict) -> dict:
    """Runs `stage` on the outputs in `state`, writes metrics/<stage>.json,
    draws its figures; adds its outputs to `state`. Returns its metrics."""
    log(f"stage {stage.name}: running")
    t0 = time.perf_counter()
    result, outputs = stage.run(run, *(state[name] for name in stage.inputs))
    result["seconds"] = time.perf_counter() - t0
    write_json(run.run_dir / "metrics" / f"{stage.name}.json", result)
    state.update(outputs)
    state["metrics"][stage.name] = result
    if stage.figures is not None:
        stage.figures(run, result, *(state[name] for name in stage.figure_inputs))
    log(f"stage {stage.name}: done in {result['seconds']:.0f} s")
    return result


def run_stages(run: Run, stop_after: str | None = None,
               table: tuple[Stage, ...] = STAGE_TABLE, redraw: tuple = ()) -> RunOutcome:
    """Runs (or, on --resume, reuses) the stages of `table` in order.

    Args:
        run: the run (`lad_tf.pipeline.stages.data.open_run`).
        stop_after: the last stage to run, or None for all.
        table: the stages (tests pass their own).
        redraw: reused stages whose figures are drawn again (copied by --from-run).

    Returns: the `RunOutcome` of the stages run or reused.
    """
    state: dict = {"metrics": {}}
    running = False  # True from the first stage that runs: all later ones run too
    for i, stage in enumerate(table):
        if run.resume and not running and _done(run, stage):
            log(f"stage {stage.name}: reusing {stage.artifact}")
            state["metrics"][stage.name] = json.loads(
                (run.run_dir / "metrics" / f"{stage.name}.json").read_text())
            state.update(stage.load(run))
            if stage.name in redraw and stage.figures is not None:
                stage.figures(run, state["metrics"][stage.name],
                              *(state[name] for name in stage.figure_inputs))
        else:
            if not running:  # what later stages made came from older inputs
                invalidate(run.run_dir, table[i + 1:])
                for name in REPORT_FILES:  # the report sums up every stage
                    (run.run_dir / name).unlink(missing_ok=True)
                running = True
            run_stage(run, stage, state)
        if stage.name == stop_after:
            log(f"stopped after {stage.name}; continue with --resume --run-dir {run.run_dir}")
            metrics = state.pop("metrics")
            return RunOutcome(metrics, state, stage.name)
    metrics = state.pop("metrics")
    return RunOutcome(metrics, state)


def _model_row(label: str, r: dict, lad_eps: float | None) -> str:
    """One model's line: clean, worst case (PGD-40 without a robust suite), LAD examples."""
    if "robust_accuracy" in r:
        robust = f"worst case {100 * r['robust_accuracy']:6.2f}%"
    else:
        robust = f"PGD-40 {100 * r.get('pgd_accuracy', float('nan')):6.2f}%"
    lad = r.get("lad_accuracy") or {}
    if lad:  # LAD's own kind of example, beside the L-inf attacks
        key = f"{lad_eps:g}" if lad_eps is not None else None
        key = key if key in lad else max(lad, key=float)
        robust += f"   LAD examples (eps {key}) {100 * lad[key]:6.2f}%"
    return f"{label:22s} clean {100 * r['clean_accuracy']:6.2f}%   {robust}"


def bought_lines(metrics: dict, exported: str, eps: float,
                 lad_eps: float | None = None, run_dir="RUN_DIR") -> list[str]:
    """The run's last lines: every model it built, the exported one marked.

    Args:
        metrics: the run's stage metrics (`evaluate` with a row per model
            under `models`; `export` with the SavedModel's path).
        exported: the exported model's name (a method, or "original").
        eps: the evaluation's L-inf budget.
        lad_eps: the LAD-example eps to show (LAD's largest training eps);
            None, or one not evaluated: the largest evaluated.
        run_dir: the run directory, as the export command to serve another
            model names it.

    Returns: per model (the original, then each defence) its clean and
        worst-case robust accuracy over the named suite (PGD-40 where the
        robust suite is off) and its accuracy on LAD's own examples (at
        `lad_eps`) where there are some; the export choice's rule; where the
        SavedModel is. [] when the run has no evaluation.
    """
    result = metrics.get("evaluate") or {}
    models = result.get("models") or {}
    if "original" not in models:
        return []
    suite = result.get("robust") or {}
    if suite:
        how = (f"worst case per image over {', '.join(suite['titles'][a] for a in suite['attacks'])}"
               f", {suite['examples']} images")
    else:
        how = "PGD-40"
    lines = [f"every model of the run (test split; threat L-inf eps {eps:g}; {how}):"]
    for name, row in models.items():
        mark = "* exported:" if name == exported else ""
        lines.append(f"  {mark:11s} " + _model_row(name, row, lad_eps))
    choice = (metrics.get("harden") or {}).get("export_choice") or {}
    if choice.get("forced"):
        lines.append(f"  exported {exported} as asked (--export-method)"
                     + (f"; warning: {choice['warning']}" if choice.get("warning") else ""))
    elif choice.get("candidates"):
        row = choice["candidates"][exported]
        lines.append(f"  exported {exported}: chosen on the validation split ({choice['examples']} "
                     f"images: clean {100 * row['clean']:.2f}%, worst case "
                     f"{100 * row['worst_case']:.2f}%), the {choice['rule']}")
    path = (metrics.get("export") or {}).get("path")
    if path:
        lines.append(f"  serving: {path}  (tensorflow_model_server --model_base_path="
                     f"{Path(path).parent.resolve()}; another model of the run: "
                     f"python -m lad_tf.export {run_dir} --method NAME)")
    return lines


def run_pipeline(run_dir, recipe, data_dir=None, export_base=None, resume: bool = False,
                 strategy: str = "default", model=None, model_info: dict | None = None,
                 data=None, stop_after: str | None = None,
                 from_run=None, allow_weak_model: bool = False) -> tuple[Run, RunOutcome]:
    """Runs one LAD run in `run_dir`: every stage, then report.md and the last lines.

    Args:
        run_dir: the run directory (created if missing).
        recipe: the resolved `Recipe`.
        data_dir: dataset folder (else $LAD_DATA_DIR and the caches).
        export_base: TF Serving base folder (else the recipe's).
        resume: reuse the artifacts of finished stages.
        strategy: "default", "mirrored" or "multi-worker" (see lad_tf.utils.distribute).
        model: your own classifier (a `LatentClassifier`, e.g. the
            `CutClassifier` of `lad_tf.models.own_model.cut_model`), used as the
            original model instead of training the recipe's classifier.
        model_info: what `cut_model` reports about it (recorded in the run).
        data: your own data, an image folder or an .npz (lad_tf.data.own_data),
            used instead of the recipe's dataset; recorded in data.json. On
            resume, None means the run's recorded data.
        stop_after: the last stage to run (None: all, then the report).
        from_run: an earlier run directory whose unchanged stages and
            defences are copied into this new run first (`lad_tf.pipeline.reuse`).
        allow_weak_model: go on when the original model reads the
            validation split at no better than twice chance.

    Returns: (the `Run`, the `RunOutcome`: metrics and models of the stages).
    """
    run = open_run(run_dir, recipe, data_dir, export_base, resume, strategy, model,
                   model_info, data, allow_weak_model=allow_weak_model)
    recipe = run.recipe  # with any per-class counts lowered to fit your data
    start = time.perf_counter()
    log(f"run directory {run.run_dir}; data {run.data.source}: "
        f"{len(run.data.y_train)} train / {len(run.data.y_validation)} validation / "
        f"{len(run.data.y_provider)} provider / {len(run.data.y_test)} test")
    redraw = ()
    if from_run is not None:
        seeded = seed_from_run(from_run, run.run_dir, recipe, STAGE_TABLE)
        redraw = tuple(seeded["figures_redrawn"])
        run.resume = True  # the copies are reused like a resumed run's stages
    outcome = run_stages(run, stop_after, redraw=redraw)
    if outcome.stopped_after is not None:
        return run, outcome
    total = time.perf_counter() - start
    write_report(run.run_dir, recipe, run.data.summary(), outcome.metrics, total)
    log(f"report: {run.run_dir / 'report.md'} ({total:.0f} s in all)")
    exported = outcome.metrics.get("harden", {}).get("exported_method",
                                                       recipe.hardening.methods[0])
    for line in bought_lines(outcome.metrics, exported,
                             recipe.evaluation.pgd_eps, max(recipe.hardening.eps, default=None),
                             run.run_dir):
        log(line)
    return run, outcome


__all__ = ["MODELS", "REPORT_FILES", "STAGE_TABLE", "RunOutcome", "Stage", "bought_lines",
           "invalidate", "run_pipeline", "run_stage", "run_stages"]
