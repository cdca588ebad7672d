"""The robust suite of the evaluation: worst-case accuracy per image over an
attack ensemble, and checks for gradient masking.

On ONE class-balanced sample of test images (`evaluation.robust_per_class`
per class) every model meets every attack of `evaluation.robust_attacks` at
`evaluation.pgd_eps`: by default AutoAttack as far as ART 1.20.1 runs it
(APGD-CE, APGD-T with the DLR loss, Square with 5000 queries; ART has no
FAB, so no FAB-T) and PGD-100 with 5 restarts. An image counts as robust
only if it is classified correctly clean and under every attack: the robust
accuracy is the mean of that logical AND (`worst_case`).

Per-image correctness is kept in `<folder>/<model>-per-image.npz` beside
the model's JSON result cache, under the same key (model fingerprint and
settings), one array per attack, written after every attack, so an
interrupted evaluation resumes where it stopped.

Three checks flag gradient masking (Athalye et al. 2018; Carlini et al. 2019):
(a) PGD at a huge eps (`evaluation.masking_eps`, 1.0 on [0, 1] images can
    paint any image) must leave ~0% accuracy;
(b) the black-box Square attack must not beat the best white-box attack;
(c) more PGD steps and restarts (PGD-100 x 5) must not raise accuracy over
    PGD-40 on the same images.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from lad_tf.attacks import ATTACKS
from lad_tf.formatting import pct

# AutoAttack's budgets where they differ from the registry's table defaults
# (`square` there is Square-100); attack_params still override them.
SUITE_DEFAULTS = {"square": {"max_iter": 5000}}
REFERENCE = "pgd"  # PGD-40 on the same images, for check (c) only
HIGH_EPS_LIMIT = 0.05  # (a): accuracy above this at masking_eps is flagged
SQUARE_MARGIN = 0.02  # (b): Square below the best white-box accuracy by more is flagged
STEPS_MARGIN = 0.01  # (c): PGD-100 x restarts above PGD-40 by more is flagged


def suite_params(name: str, params: Mapping) -> dict:
    """Parameters of `name` in the suite: SUITE_DEFAULTS under the recipe's `params`."""
    return {**SUITE_DEFAULTS.get(name, {}), **params}


def suite_title(name: str, params: Mapping) -> str:
    """Table title of suite attack `name` run with `params` (over the registry defaults)."""
    p = {**ATTACKS[name].defaults, **params}
    if name == "apgd":
        restarts = p.get("nb_random_init", 1)
        return f"APGD-CE ({p['max_iter']} steps" + (f" x {restarts} restarts)" if restarts > 1
                                                      else ")")
    if name == "apgd_t":
        return f"APGD-T (DLR, {p['n_target_classes']} targets x {p['max_iter']} steps)"
    if name == "square":
        return f"Square ({p['max_iter']} queries)"
    if name == "pgd_restarts":
        return f"PGD-{p['nb_iter']} x {p['restarts']} restarts"
    if name == "pgd":
        return f"PGD-{p['nb_iter']}"
    return ATTACKS[name].title


def worst_case(clean: np.ndarray, per_attack: Mapping[str, np.ndarray]) -> np.ndarray:
    """bool [N]: correct clean AND under every attack, per image.

    Args:
        clean: bool [N] clean correctness.
        per_attack: attack name -> bool [N] correctness on its adversarial
            example of the same N images, in the same order.

    Raises:
        ValueError: arrays of different lengths.
    """
    out = np.asarray(clean, bool).copy()
    for name, correct in per_attack.items():
        correct = np.asarray(correct, bool)
        if correct.shape != out.shape:
            raise ValueError(f"per-image results of {name!r} have shape {correct.shape}, "
                             f"clean has {out.shape}; they must be the same images")
        out &= correct
    return out


def _verdict(ok: bool | None) -> str:
    return "not run" if ok is None else ("PASS" if ok else "FLAG")


def masking_checks(accuracy: Mapping[str, float], high_eps_accuracy: float | None = None,
                   gradient_free: tuple = ("square",)) -> dict:
    """The three gradient-masking checks on one model's numbers.

    Args:
        accuracy: attack name -> accuracy on the robust sample; check (b)
            reads "square" and the white-box (not gradient_free) attacks,
            check (c) "pgd_restarts" and REFERENCE (PGD-40).
        high_eps_accuracy: PGD accuracy at evaluation.masking_eps, or None.
        gradient_free: names of the black-box attacks in `accuracy`.

    Returns:
        {"high_eps" | "square_vs_white_box" | "more_steps": {"status":
        "PASS" | "FLAG" | "not run", the numbers compared}}.
    """
    a = high_eps_accuracy
    high = {"status": _verdict(None if a is None else a <= HIGH_EPS_LIMIT), "accuracy": a,
            "limit": HIGH_EPS_LIMIT}
    white = {k: v for k, v in accuracy.items() if k not in gradient_free}
    best = min(white.values()) if white else None
    square = accuracy.get("square")
    ok = None if square is None or best is None else square >= best - SQUARE_MARGIN
    black = {"status": _verdict(ok), "square": square, "best_white_box": best,
             "best_white_box_attack": min(white, key=white.get) if white else None,
             "margin": SQUARE_MARGIN}
    more, fewer = accuracy.get("pgd_restarts"), accuracy.get(REFERENCE)
    ok = None if more is None or fewer is None else more <= fewer + STEPS_MARGIN
    steps = {"status": _verdict(ok), "pgd_restarts": more, "pgd": fewer, "margin": STEPS_MARGIN}
    return {"high_eps": high, "square_vs_white_box": black, "more_steps": steps}


class PerImageCache:
    """bool [N] per attack in `<folder>/<name>-per-image.npz`, valid for one `key`.

    Args:
        folder: the evaluation folder; name: the model's name.
        key: the model's ResultCache key (fingerprint and settings); a file
            with another key is ignored and overwritten.
    """

    def __init__(self, folder: Path, name: str, key: str):
        self.path, self.key = Path(folder) / f"{name}-per-image.npz", key
        self.data: dict[str, np.ndarray] = {}
        if self.path.is_file():
            try:
                with np.load(self.path) as f:
                    if str(f["key"]) == key:
                        self.data = {k: f[k].astype(bool) for k in f.files if k != "key"}
            except (OSError, ValueError, KeyError):
                pass  # unreadable: recompute

    def get(self, attack: str) -> np.ndarray | None:
        return self.data.get(attack)

    def put(self, attack: str, correct: np.ndarray):
        self.data[attack] = np.asarray(correct, bool)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez_compressed(tmp, key=self.key, **self.data)
        tmp.replace(self.path)


def cached_correct(cache, per_image: PerImageCache, key: str,
                   compute: Callable[[], np.ndarray]) -> tuple[dict, np.ndarray]:
    """(row, correct bool [N]) of one attack, computed once per (model, key).

    Args:
        cache: the model's ResultCache (row: accuracy, examples, seconds).
        per_image: the model's PerImageCache.
        compute: () -> bool [N] correctness; timed here.
    """
    name = key.replace(":", "_")
    correct = per_image.get(name)
    if correct is None or key not in cache.data:
        start = time.perf_counter()
        correct = np.asarray(compute(), bool)
        seconds = time.perf_counter() - start
        per_image.put(name, correct)
        cache.data.pop(key, None)
        cache.get(key, lambda: {"accuracy": float(correct.mean()) if len(correct) else 0.0,
                                "examples": int(len(correct)), "seconds": seconds})
    return cache.data[key], correct


@dataclasses.dataclass(frozen=True)
class SuitePlan:
    """What one model's robust suite runs.

    Attributes:
        attacks: attack name -> params: the ensemble of the worst case.
        reference: REFERENCE's params (PGD-40), run on the same images for
            check (c) (the suite's own run when it lists REFERENCE).
        masking: PGD params at evaluation.masking_eps for check (a), or None.
    """

    attacks: dict
    reference: dict
    masking: dict | None = None


def run_suite(attack: Callable, predict: Callable, plan: SuitePlan, sample: tuple,
              masking_sample: tuple, cache, per_image: PerImageCache, log) -> dict:
    """One model's robust suite.

    Args:
        attack: (name, x, y, params) -> x_adv float32 [N, H, W, C] in [0, 1].
        predict: x -> int [N] predicted labels.
        plan: the attacks and their params.
        sample: (x float32 [N, H, W, C], y int [N]): the robust sample.
        masking_sample: (x, y) of check (a).
        cache, per_image: the model's ResultCache and PerImageCache.
        log: print-like.

    Returns: robust_examples, robust_clean_accuracy, robust_<attack>_accuracy
        (also for REFERENCE), robust_accuracy (worst case over plan.attacks),
        masking_checks, and robust_details (rows with seconds).
    """
    x, y = sample
    clean = predict(x) == y
    out = {"robust_examples": int(len(y)), "robust_clean_accuracy": float(np.mean(clean))
           if len(y) else 0.0}
    details, correct = {}, {}
    for name, params in {REFERENCE: plan.reference, **plan.attacks}.items():
        row, correct[name] = cached_correct(
            cache, per_image, f"robust:{name}",
            lambda name=name, params=params: predict(attack(name, x, y, params)) == y)
        details[name] = row
        out[f"robust_{name}_accuracy"] = row["accuracy"]
        log(f"  robust suite {suite_title(name, params)}: accuracy {row['accuracy']:.4f} on "
            f"{row['examples']} images ({row['seconds']:.0f} s)")
    high = None
    x_mask, y_mask = masking_sample
    if plan.masking is not None and len(y_mask):
        row, _ = cached_correct(cache, per_image, "masking:pgd", lambda: predict(
            attack("pgd", x_mask, y_mask, plan.masking)) == y_mask)
        high, details["masking_pgd"] = row["accuracy"], row
        log(f"  masking check: PGD at eps {plan.masking['eps']:g}: accuracy {high:.4f} on "
            f"{row['examples']} images")
    suite = {k: correct[k] for k in plan.attacks}
    out["robust_accuracy"] = float(worst_case(clean, suite).mean()) if len(y) else 0.0
    free = tuple(k for k in correct if ATTACKS[k].gradient_free)
    out["masking_checks"] = masking_checks({k: details[k]["accuracy"] for k in correct}, high, free)
    log(f"  robust accuracy (worst case per image): {out['robust_accuracy']:.4f}; masking checks "
        + ", ".join(f"{k} {v['status']}" for k, v in out["masking_checks"].items()))
    out["robust_details"] = details
    return out


# -- report --------------------------------------------------------------------------------
CHECKS = ("high_eps", "square_vs_white_box", "more_steps")


def _check_title(key: str, suite: dict) -> str:
    titles = suite["titles"]
    return {"high_eps": f"masking check (a): PGD at eps {suite['masking_eps']:g} ~ 0%",
            "square_vs_white_box": "masking check (b): Square not below the white-box attacks",
            "more_steps": "masking check (c): "
                          f"{titles.get('pgd_restarts', 'PGD x restarts')} <= {titles[REFERENCE]}",
            }[key]



def _check_cell(key: str, c: dict) -> str:
    if c["status"] == "not run":
        return "not run"
    if key == "high_eps":
        return f"{pct(c['accuracy'])} {c['status']}"
    if key == "square_vs_white_box":
        return f"{pct(c['square'])} vs {pct(c['best_white_box'])} {c['status']}"
    return f"{pct(c['pgd_restarts'])} vs {pct(c['pgd'])} {c['status']}"


def table_rows(result: dict, names: list[str]) -> list[str]:
    """Markdown rows of the methods x attacks table: each suite attack, the
    worst case (bold) and the three masking checks; [] without a suite."""
    suite = result.get("robust")
    models = result["models"]
    if not suite or not any("robust_accuracy" in models[n] for n in names):
        return []

    def row(title, key, bold=False):
        cells = [pct(models[n].get(key)) if key in models[n] else "not run" for n in names]
        cells = [f"**{c}**" if bold and c != "not run" else c for c in cells]
        return f"| {title} | " + " | ".join(cells) + " |"

    lines = [row(f"robust sample, clean ({suite['examples']} images)", "robust_clean_accuracy")]
    lines += [row(suite["titles"][a], f"robust_{a}_accuracy") for a in suite["attacks"]]
    lines.append(row("**worst case (robust accuracy)**", "robust_accuracy", bold=True))
    if REFERENCE not in suite["attacks"]:
        lines.append(row(f"{suite['titles'][REFERENCE]}, same images (check c)",
                         f"robust_{REFERENCE}_accuracy"))
    for key in CHECKS:
        lines.append(f"| {_check_title(key, suite)} | " + " | ".join(
            _check_cell(key, models[n]["masking_checks"][key]) if "masking_checks" in models[n]
            else "not run" for n in names) + " |")
    return lines


def notes(result: dict, names: list[str], title: Callable[[str], str] = str) -> list[str]:
    """Markdown paragraphs under the table: what the suite ran and each check's verdict."""
    suite = result.get("robust")
    if not table_rows(result, names):
        return []
    models, titles = result["models"], suite["titles"]
    flagged = {k: [title(n) for n in names
                   if models[n].get("masking_checks", {}).get(k, {}).get("status") == "FLAG"]
               for k in CHECKS}

    def verdict(key):
        return ("flagged: " + ", ".join(flagged[key])) if flagged[key] else "no model flagged"

    return [
        "", f"Robust suite: one class-balanced sample of {suite['examples']} test images "
            f"({suite['per_class']} per class), every attack at eps {suite['eps']:g} against "
            "each model; the worst case counts an image as robust only if it is classified "
            "correctly clean and under every suite attack ("
            + ", ".join(suite["titles"][a] for a in suite["attacks"]) + "). ART 1.20 has no "
            "FAB, so the AutoAttack ensemble here is APGD-CE + APGD-T + Square (no FAB-T), "
            "plus PGD-100 with restarts."
            + "".join(f" Not run: {a} ({why})." for a, why in suite.get("skipped", {}).items()),
        "", "Gradient-masking checks: "
            f"(a) PGD at eps {suite['masking_eps']:g} on {suite['masking_examples']} of these "
            f"images can paint any image, so accuracy must be ~0 (FLAG above "
            f"{100 * HIGH_EPS_LIMIT:g}%): {verdict('high_eps')}. "
            "(b) The black-box Square attack must not beat the best white-box attack by more "
            f"than {100 * SQUARE_MARGIN:g} points, else gradients mislead the white-box attacks: "
            f"{verdict('square_vs_white_box')}. "
            "(c) More steps and restarts must not raise accuracy: "
            f"{titles.get('pgd_restarts', 'PGD with restarts')} at most {100 * STEPS_MARGIN:g} "
            f"point above {titles[REFERENCE]} on the same images: "
            f"{verdict('more_steps')}.",
    ]


def frontier_points(models: Mapping[str, dict], seconds: Mapping[str, float],
                    title: Callable[[str], str] = str) -> list[tuple]:
    """(label, clean accuracy, robust accuracy, training seconds) of every model
    with a robust suite result, for `figures.frontier_figure`; a model
    missing from `seconds` (the original) gets 0."""
    return [(title(n), float(row["clean_accuracy"]), float(row["robust_accuracy"]),
             float(seconds.get(n, 0.0))) for n, row in models.items() if "robust_accuracy" in row]
