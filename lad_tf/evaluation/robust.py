"""The robust suite: worst-case accuracy per image over an attack ensemble,
and checks for gradient masking.

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

import numpy as np

from lad_tf.attacks import ATTACKS
from lad_tf.attacks.budget import attack_params, run_attack, suite_params, suite_title
from lad_tf.evaluation.samples import robust_samples
from lad_tf.utils.batching import predict
from lad_tf.utils.cache import PerImageCache, ResultCache

REFERENCE = "pgd"  # PGD-40 on the same images, for check (c) only
HIGH_EPS_LIMIT = 0.05  # (a): accuracy above this at masking_eps is flagged
SQUARE_MARGIN = 0.02  # (b): Square below the best white-box accuracy by more is flagged
STEPS_MARGIN = 0.01  # (c): PGD-100 x restarts above PGD-40 by more is flagged


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
            check (c) (the suite's own run when it lists REFERENCE); None:
            not run (the export choice's short suite).
        masking: PGD params at evaluation.masking_eps for check (a), or None.
    """

    attacks: dict
    reference: dict | None
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
        masking_checks, robust_details (rows with seconds), and robust_per_image
        (bool [N], the worst case per image; not JSON: callers pop it).
    """
    x, y = sample
    clean = predict(x) == y
    out = {"robust_examples": int(len(y)), "robust_clean_accuracy": float(np.mean(clean))
           if len(y) else 0.0}
    details, correct = {}, {}
    reference = {} if plan.reference is None else {REFERENCE: plan.reference}
    for name, params in {**reference, **plan.attacks}.items():
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
    worst = worst_case(clean, suite)
    out["robust_accuracy"] = float(worst.mean()) if len(y) else 0.0
    free = tuple(k for k in correct if ATTACKS[k].gradient_free)
    out["masking_checks"] = masking_checks({k: details[k]["accuracy"] for k in correct}, high, free)
    log(f"  robust accuracy (worst case per image): {out['robust_accuracy']:.4f}; masking checks "
        + ", ".join(f"{k} {v['status']}" for k, v in out["masking_checks"].items()))
    out["robust_details"] = details
    out["robust_per_image"] = worst
    return out


def skipped_attacks(cfg, num_classes: int) -> dict[str, str]:
    """Suite attacks this dataset cannot run, with the reason."""
    if "apgd_t" in cfg.robust_attacks and num_classes < 3:
        return {"apgd_t": f"DLR needs >= 3 classes; this task has {num_classes}"}
    return {}


def suite_plan(cfg, num_classes: int) -> SuitePlan:
    """The suite's attacks and params at the evaluation settings `cfg`."""
    reference = attack_params(cfg, REFERENCE)
    steps = reference.get("nb_iter", ATTACKS["pgd"].defaults["nb_iter"])
    masking = ({**reference, "eps": cfg.masking_eps, "nb_iter": steps,
                "eps_iter": 2.5 * cfg.masking_eps / steps}  # Madry's step rule
               if cfg.masking_per_class else None)
    skipped = skipped_attacks(cfg, num_classes)
    return SuitePlan(
        attacks={a: suite_params(a, attack_params(cfg, a))
                 for a in cfg.robust_attacks if a not in skipped},
        reference=reference, masking=masking)


def suite_summary(cfg, y_test: np.ndarray, num_classes: int) -> dict:
    """What the robust suite ran, for evaluation.json's "robust" and the report."""
    plan, (idx, mask_idx) = suite_plan(cfg, num_classes), robust_samples(cfg, y_test)
    runs = {REFERENCE: plan.reference, **plan.attacks}
    return {"examples": int(len(idx)), "per_class": cfg.robust_per_class,
            "eps": cfg.pgd_eps, "attacks": list(plan.attacks),
            "titles": {a: suite_title(a, p) for a, p in runs.items()},
            "params": runs, "skipped": skipped_attacks(cfg, num_classes),
            "masking_eps": cfg.masking_eps,
            "masking_examples": int(len(mask_idx)) if plan.masking else 0}


def evaluate_robust(ctx, name: str, model, cache: ResultCache) -> dict:
    """The robust suite for one model, cached per attack.

    Args:
        ctx: the `EvaluationContext`; name: the model's name; model: a logits
            model; cache: its ResultCache (the per-image cache shares its key).

    Returns:
        `run_suite`'s dict (robust_accuracy, masking_checks, robust_details, ...).
    """
    cfg, x_test, y_test = ctx.cfg, ctx.data.x_test, ctx.data.y_test
    idx, mask_idx = robust_samples(cfg, y_test)
    per_image = PerImageCache(ctx.folder, name, cache.key)

    def attack(attack_name, x, y, params):
        return run_attack(attack_name, model, x, y, None, cfg, ctx.log, name, params)

    return run_suite(
        attack, lambda x: predict(model, x), suite_plan(cfg, ctx.num_classes),
        (x_test[idx], y_test[idx]), (x_test[mask_idx], y_test[mask_idx]), cache, per_image,
        ctx.log)
