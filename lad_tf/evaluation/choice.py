"""Which model a run exports: every candidate judged on the validation split.

After the defences are trained, each candidate (the original classifier and
every defence of `hardening.methods`) meets a short worst case over the
run's robust suite (`evaluation.robust_attacks` at `evaluation.pgd_eps`,
with `export.attack_params`' budgets) on `export.per_class` validation images
per class: never provider or test images. The rule (`choose`):

    eligible = candidates whose validation clean accuracy is at least the
               original's minus `export.max_clean_drop` points
    export   = the eligible one with the highest validation worst case
               (ties: higher clean accuracy, then the original, then recipe order)

The original is always eligible, so a defence that is weaker than the
original on validation is never exported by default. `export.method`
(`harden --export-method NAME`) forces a model; forcing one whose validation
worst case is below the original's logs one warning line that says by how
much. A run without a validation split (`data.validation_fraction` 0)
exports the first method, as it always did, and says so.

Per-image results are cached in `<run>/export-choice/` under the model file's
fingerprint and the settings (`lad_tf.utils.cache`), so a resumed run
does not attack a finished candidate again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from lad_tf.attacks.budget import run_attack, suite_title
from lad_tf.evaluation.robust import SuitePlan, run_suite, suite_plan
from lad_tf.recipe.names import ORIGINAL
from lad_tf.runs.run_dir import harden_record
from lad_tf.utils.batching import predict
from lad_tf.utils.cache import PerImageCache, ResultCache
from lad_tf.utils.files import fingerprint
from lad_tf.utils.sampling import balanced_subset

FOLDER = "export-choice"


def choice_settings(recipe):
    """The EvaluationConfig of the choice: the run's suite with the short budgets
    of `export.attack_params`, no masking check."""
    cfg = recipe.evaluation
    params = {**cfg.attack_params}
    for name, overrides in recipe.export.attack_params.items():
        params[name] = {**params.get(name, {}), **overrides}
    return dataclasses.replace(cfg, attack_params=params, masking_per_class=0)


def choice_plan(recipe, num_classes: int) -> SuitePlan:
    """The short suite: the robust suite's attacks at the run's eps, no
    PGD-40 reference (check (c) is the evaluation's) and no masking run."""
    plan = suite_plan(choice_settings(recipe), num_classes)
    return SuitePlan(attacks=plan.attacks, reference=None, masking=None)


def rule_text(max_clean_drop: float) -> str:
    return (f"highest validation worst case among the models whose validation clean accuracy "
            f"is within {max_clean_drop:g} points of the original's (export.max_clean_drop)")


def choose(candidates: dict, max_clean_drop: float, forced: str = "auto") -> dict:
    """Applies the export rule to the candidates' validation figures.

    Args:
        candidates: name -> {"clean": float, "worst_case": float}, in recipe
            order, "original" among them.
        max_clean_drop: percentage points of clean accuracy a model may lose
            against the original and stay eligible.
        forced: "auto", or the name of the model to export regardless.

    Returns: {"candidates": the figures with "eligible" added, "chosen",
        "best" (what the rule picks), "forced": bool, "warning": str or None}.
    """
    base = candidates[ORIGINAL]
    floor = base["clean"] - max_clean_drop / 100 - 1e-9
    rows = {name: {**row, "eligible": row["clean"] >= floor} for name, row in candidates.items()}
    order = list(rows)
    best = max((n for n in order if rows[n]["eligible"]),
               key=lambda n: (rows[n]["worst_case"], rows[n]["clean"], n == ORIGINAL,
                              -order.index(n)))
    chosen, warning = best, None
    if forced != "auto":
        chosen = forced
        row = rows[forced]
        gap = 100 * (base["worst_case"] - row["worst_case"])
        if gap > 0:
            warning = (f"exporting {forced} as asked (--export-method), although its validation "
                       f"worst case {100 * row['worst_case']:.2f}% is {gap:.2f} points below "
                       f"the original's {100 * base['worst_case']:.2f}%")
        elif not row["eligible"]:
            warning = (f"exporting {forced} as asked (--export-method), although its validation "
                       f"clean accuracy {100 * row['clean']:.2f}% is more than {max_clean_drop:g} "
                       f"points below the original's {100 * base['clean']:.2f}%")
    return {"candidates": rows, "chosen": chosen, "best": best, "forced": forced != "auto",
            "warning": warning}


def candidate_files(run_dir: Path, methods) -> dict[str, Path]:
    """original, then each trained defence of `methods`, in recipe order."""
    files = {ORIGINAL: Path(run_dir) / "classifier.keras"}
    for method in methods:
        path = Path(run_dir) / "methods" / f"{method}.keras"
        if path.is_file():
            files[method] = path
    return files


def judge_candidate(name: str, path: Path, load: Callable, sample: tuple, recipe,
                    num_classes: int, folder: Path, log) -> dict:
    """One candidate's validation clean accuracy and short worst case (cached).

    Args:
        name: "original" or a method; path: its `.keras` file; load: path -> model.
        sample: (x, y), the validation images the choice judges on.
        folder: the cache folder (`<run>/export-choice`).
    """
    cfg, plan = choice_settings(recipe), choice_plan(recipe, num_classes)
    settings = {"plan": plan.attacks, "eps": cfg.pgd_eps, "labels": sample[1].tolist(),
                "per_class": recipe.export.per_class}
    cache = ResultCache(folder, name, fingerprint(path), settings)
    per_image = PerImageCache(folder, name, cache.key)
    model = load(path)
    log(f"export choice: {name} on {len(sample[1])} validation images")

    def attack(attack_name, x, y, params):
        return run_attack(attack_name, model, x, y, None, cfg, log, name, params)

    out = run_suite(attack, lambda x: predict(model, x), plan, sample, (sample[0][:0],
                    sample[1][:0]), cache, per_image, log)
    return {"clean": out["robust_clean_accuracy"], "worst_case": out["robust_accuracy"],
            "examples": out["robust_examples"]}


def choose_export(run_dir: Path, recipe, data, load: Callable, log=print) -> dict:
    """Judges every candidate of a run on its validation split and applies the rule.

    Args:
        run_dir: the run (classifier.keras, methods/<method>.keras).
        recipe: its resolved `Recipe`; data: its `DatasetSplits`.
        load: path -> Keras model.
        log: print-like.

    Returns: the record metrics/harden.json keeps as "export_choice":
        rule, max_clean_drop, eps, norm, suite (attack titles), examples,
        candidates (name -> clean, worst_case, eligible), chosen, best,
        forced, warning; logged line by line.
    """
    cfg, methods = recipe.export, list(recipe.hardening.methods)
    files = candidate_files(run_dir, methods)
    plan = choice_plan(recipe, data.num_classes)
    record = {"rule": rule_text(cfg.max_clean_drop), "max_clean_drop": cfg.max_clean_drop,
              "eps": recipe.evaluation.pgd_eps, "norm": "linf",
              "suite": [suite_title(a, p) for a, p in plan.attacks.items()]}
    y_val = data.y_validation
    if len(y_val) == 0:  # nothing to judge on: the first method, as before
        chosen = cfg.method if cfg.method != "auto" else methods[0]
        log(f"export choice: no validation split (data.validation_fraction 0); exporting "
            f"{chosen} ({'as asked' if cfg.method != 'auto' else 'the first method'})")
        return {**record, "rule": "no validation split: the first method of hardening.methods",
                "examples": 0, "candidates": {}, "chosen": chosen, "best": None,
                "forced": cfg.method != "auto", "warning": None}
    idx = balanced_subset(y_val, cfg.per_class, recipe.data.seed)
    sample = (data.x_validation[idx], y_val[idx])
    folder = Path(run_dir) / FOLDER
    folder.mkdir(exist_ok=True)
    figures = {name: judge_candidate(name, path, load, sample, recipe, data.num_classes, folder,
                                     log)
               for name, path in files.items()}
    result = {**record, "examples": int(len(idx)),
              **choose({n: {"clean": f["clean"], "worst_case": f["worst_case"]}
                        for n, f in figures.items()}, cfg.max_clean_drop, cfg.method)}
    for line in choice_lines(result):
        log(line)
    return result


def exported_method(run_dir: Path, recipe) -> str:
    """The name of the model in a run's hardened.keras (`lad_tf.runs.run_dir.harden_record`)."""
    return harden_record(run_dir, recipe.hardening.methods)["exported_method"]


def choice_lines(choice: dict) -> list[str]:
    """The choice as printed: one line per candidate, the rule, the choice, a warning."""
    lines = [f"export choice on the validation split ({choice['examples']} images, L-inf eps "
             f"{choice['eps']:g}, worst case per image over {', '.join(choice['suite'])}):"]
    for name, row in choice["candidates"].items():
        mark = "*" if name == choice["chosen"] else " "
        note = "" if row["eligible"] else "   (clean accuracy too low)"
        lines.append(f"  {mark} {name:12s} clean {100 * row['clean']:6.2f}%   worst case "
                     f"{100 * row['worst_case']:6.2f}%{note}")
    how = "as asked by --export-method" if choice["forced"] else f"rule: {choice['rule']}"
    lines.append(f"export choice: {choice['chosen']} ({how})")
    if choice["warning"]:
        lines.append(f"warning: {choice['warning']}")
    return lines
