"""`harden --from-run OLD_RUN`: a new run that starts from an earlier run's
finished stages.

A run of your model (`--model`) or your data (`--data`) can be a source when
this run has the same model (file sha256 and latent layer; an in-memory
model: the hash of its config and weights) and the same data (fingerprint):
`check_same_sources` refuses any other before anything is written. Its
classifier stage is your model saved as it is, so it is copied whenever the
`data` section is unchanged.

Changing one defence's budget should not retrain the generator. A stage of
the earlier run is copied into the new run directory when the recipe values
it depends on (`STAGE_DEPENDS`) are the same in both runs and every stage
before it was copied too; the first stage that differs, and every stage
after it, runs again. The hardening stage is never copied whole: each of
its defences (methods/<method>.keras and .json) is copied when every stage
before hardening was copied and the defence's own recipe values
(`method_depends`) are unchanged, so a run that changes `pgd_at.epochs`
retrains PGD-AT only. Evaluation and export always
run again, from a copy of the earlier evaluation's result cache whose keys
(model file, settings) make every changed model be attacked afresh. What
was copied is recorded in the new run's from_run.json.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lad_tf.defences import DEFENCES
from lad_tf.runs.run_dir import RECIPE_FILE, RunDir
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import write_json
from lad_tf.utils.monitoring import log

# The recipe values each stage's artifact depends on, given that the stages
# before it are unchanged ("section" or "section.key").
STAGE_DEPENDS = {
    "classifier": ("data", "classifier"),
    "generator": ("generator",),
    "svm": ("svm",),
    "generate": ("generation", "hardening.eps", "hardening.per_class",
                 "hardening.only_inconsistent"),
}
# What the crafted examples of the fine-tuning baselines depend on.
_CRAFT_DEPENDS = ("baselines", "evaluation.fgsm_eps", "evaluation.pgd_eps",
                  "evaluation.pgd_step", "evaluation.pgd_iterations",
                  "evaluation.attack_params", "evaluation.batch_size", "evaluation.seed")
# The evaluation's result cache (`lad_tf.utils.cache`), keyed entries.
EVALUATION_CACHE = "evaluation"
# Stage files that are partial work or drawn later, never copied.
_NOT_COPIED = ("backup/",)


def _value(recipe: dict, path: str):
    section, _, key = path.partition(".")
    value = recipe.get(section, {})
    if not key:
        return value
    return value.get(key) if isinstance(value, dict) else None


def _changed(old: dict, new: dict, paths) -> list[str]:
    return [p for p in paths if _value(old, p) != _value(new, p)]


def method_depends(name: str) -> tuple:
    """The recipe values method `name`'s trained model depends on (beyond
    the stages it trains on)."""
    spec = DEFENCES[name]
    if spec.section == "hardening":
        own = tuple(f"hardening.{k}" for k in ("alpha", "eps", "per_class", "only_inconsistent",
                                               "epochs", "batch_size", "optimizer",
                                               "learning_rate", "momentum"))
    else:
        own = (spec.section,)
    return own + ("selection",) + (_CRAFT_DEPENDS if spec.data == "crafted" else ())


def _copy(source: Path, run_dir: Path, relative: str) -> None:
    src, dst = source / relative, run_dir / relative
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def read_source(source) -> tuple[Path, dict]:
    """(the earlier run's directory, its recipe as a dict); LadError if it is no run."""
    run = RunDir(source, "--from-run takes the folder a finished `harden` run wrote, e.g. "
                         "runs/mnist-20261124-120000")
    return run.path, run.recipe_dict()


def _provided(source: Path) -> dict | None:
    """The earlier run's own model (metrics/classifier.json's "provided"), or
    None: it trained the recipe's classifier, or never finished that stage."""
    path = source / "metrics" / "classifier.json"
    return json.loads(path.read_text()).get("provided") if path.is_file() else None


def _model_difference(source: Path, info: dict | None) -> str | None:
    """How this run's model differs from the earlier run's, or None."""
    if not (source / "metrics" / "classifier.json").is_file():
        return None  # no classifier stage to copy, so nothing that could differ
    old = _provided(source)
    if old is None and info is None:
        return None
    if old is None:
        return "it trained the recipe's classifier, this run hardens your model (drop --model)"
    cut = f"{old['source']} cut at {old.get('latent_layer')!r}"
    if info is None:
        return f"it hardened your model {cut} (pass the same --model and --latent-layer)"
    if old.get("sha256") and info.get("sha256"):
        same, key = old["sha256"] == info["sha256"], "sha256"
    else:  # an in-memory model on either side: its config and weights
        same, key = (bool(old.get("weights_sha256"))
                     and old.get("weights_sha256") == info.get("weights_sha256")), "weights_sha256"
    if same and old.get("latent_layer") == info.get("latent_layer"):
        return None
    return (f"it hardened {cut} ({key} {str(old.get(key))[:12]}), this run {info['source']} cut "
            f"at {info.get('latent_layer')!r} ({key} {str(info.get(key))[:12]})")


def _data_difference(source: Path, fingerprint: str | None) -> str | None:
    """How this run's data differ from the earlier run's, or None."""
    path = source / "data.json"
    old = json.loads(path.read_text()) if path.is_file() else None
    if old is None and fingerprint is None:
        return None
    if old is None:
        return "it used the recipe's dataset, this run your data (drop --data)"
    if fingerprint is None:
        return f"it used your data {old['path']} (pass --data {old['path']})"
    if old.get("fingerprint") == fingerprint:
        return None
    return (f"it used the data {old['path']} (fingerprint {str(old.get('fingerprint'))[:12]}), "
            f"this run other data (fingerprint {fingerprint[:12]})")


def check_same_sources(source, info: dict | None, fingerprint: str | None) -> None:
    """Refuses --from-run when this run's model or data are not the earlier run's.

    Args:
        source: the earlier run directory.
        info: this run's own model as `lad_tf.api` records it ("source",
            "latent_layer", a file's "sha256", "weights_sha256"), or None.
        fingerprint: this run's data fingerprint (`own_data.data_fingerprint`),
            or None for the recipe's dataset.

    Raises:
        LadError: one line saying what differs: a file model's sha256 or
            latent layer (an in-memory model on either side: the hash of its
            config and weights), or the data's fingerprint.
    """
    source, _ = read_source(source)
    differences = [d for d in (_model_difference(source, info),
                               _data_difference(source, fingerprint)) if d]
    if differences:
        raise LadError(f"--from-run {source} made its stages from another model or data: "
                       + "; ".join(differences) + "; pass the earlier run's model and data, or "
                       "start a new run without --from-run")


def seed_from_run(source, run_dir, recipe, table) -> dict:
    """Copies the reusable stages and defences of run `source` into `run_dir`.

    Args:
        source: the earlier run directory.
        run_dir: the new run directory (already holding the new recipe.json).
        recipe: the new run's resolved `Recipe`.
        table: the stage table (`lad_tf.pipeline.runner.STAGE_TABLE`).

    Returns: {"source", "stages": the stages copied, "methods": the
        defences copied, "changed": the first differing stage's changed
        recipe values, "figures_redrawn": the copied stages whose figures
        can be drawn again (all their files were there), "evaluation_cache":
        whether the evaluation's result cache was copied}, also written to
        run_dir/from_run.json.
    """
    source, old = read_source(source)
    run_dir = Path(run_dir)
    # The new run's recipe.json, fitted to its data (lad_tf.recipe.fit), else
    # `recipe` through JSON, as recipe.json would hold it (tuples become lists).
    new = (RunDir(run_dir).recipe_dict() if (run_dir / RECIPE_FILE).is_file()
           else json.loads(json.dumps(recipe.to_dict())))
    provided = _provided(source) is not None  # same model and data: check_same_sources
    stages, redraw, changed = [], [], {}
    for stage in table:
        depends = STAGE_DEPENDS.get(stage.name)
        if stage.name == "classifier" and provided:  # your model, saved as it is:
            depends = ("data",)  # the recipe's classifier section is unused
        metrics = f"metrics/{stage.name}.json"
        if depends is None or not (source / stage.artifact).exists() \
                or not (source / metrics).is_file():
            break
        diff = _changed(old, new, depends)
        if diff:
            changed[stage.name] = diff
            break
        missing = False
        for relative in (stage.artifact, metrics, *stage.owns):
            matches = [p.relative_to(source).as_posix() for p in source.glob(relative)]
            missing |= not matches and not relative.startswith(_NOT_COPIED)
            for path in matches:
                if not path.startswith(_NOT_COPIED):
                    _copy(source, run_dir, path)
        stages.append(stage.name)
        if not missing:  # a run older than a file its figures read keeps no figures
            redraw.append(stage.name)
        log(f"stage {stage.name}: copied from {source} (unchanged: {', '.join(depends)})")
    methods = _seed_methods(source, run_dir, old, new, stages)
    evaluation = "generate" in stages and (source / EVALUATION_CACHE).is_dir()
    if evaluation:  # every entry is keyed by model file and settings: stale ones are redone
        _copy(source, run_dir, EVALUATION_CACHE)
        log(f"evaluation: cache copied from {source} (entries whose model or settings changed "
            "are computed again)")
    summary = {"source": str(source), "stages": stages, "methods": methods, "changed": changed,
               "figures_redrawn": redraw, "evaluation_cache": evaluation}
    write_json(run_dir / "from_run.json", summary)
    return summary


def _seed_methods(source: Path, run_dir: Path, old: dict, new: dict, stages: list) -> list:
    """Copies methods/<m>.keras and .json of the defences that would be trained the same."""
    if "generate" not in stages:  # a stage that runs again makes every defence stale
        return []
    copied = []
    for name in new["hardening"]["methods"]:
        files = [f"methods/{name}.keras", f"methods/{name}.json"]
        if any(not (source / f).is_file() for f in files):
            continue
        diff = _changed(old, new, method_depends(name))
        if diff:
            log(f"harden {name}: trained again ({', '.join(diff)} changed)")
            continue
        for f in files:
            _copy(source, run_dir, f)
        copied.append(name)
        log(f"harden {name}: copied from {source}")
    # Fig. 7's one-eps models: LAD's budget, each on its own set of the sweep.
    sweep_depends = method_depends("lad") + ("hardening.sweep_per_class",)
    if not _changed(old, new, sweep_depends):
        for path in source.glob("methods/lad-eps-*.keras"):
            _copy(source, run_dir, path.relative_to(source).as_posix())
    return copied
