"""Clean and white-box accuracy of one model: every attack of
`evaluation.attacks` crafted against the model under test."""

from __future__ import annotations

import time

from lad_tf.attacks.budget import attack_title, run_attack
from lad_tf.evaluation.samples import sample_for
from lad_tf.utils.cache import ResultCache
from lad_tf.utils.metrics import accuracy, perturbation_sizes, score_examples
from lad_tf.utils.sampling import balanced_subset

REDUCED_ATTACKS = ("fgsm", "pgd")  # what evaluation.reduced_methods still meet


def clean_accuracy(ctx, model, cache: ResultCache) -> float:
    """Accuracy on the whole test split, cached as "clean"."""
    data = ctx.data
    return cache.get("clean", lambda: accuracy(model, data.x_test, data.y_test))


def attacks_for(ctx, name: str) -> list[str]:
    """The white-box attacks model `name` meets: all of evaluation.attacks,
    or FGSM and PGD only for a method in evaluation.reduced_methods."""
    cfg = ctx.cfg
    if name not in cfg.reduced_methods:
        return list(cfg.attacks)
    attacks = [a for a in cfg.attacks if a in REDUCED_ATTACKS]
    ctx.log(f"  {name} is in evaluation.reduced_methods: attacks {attacks} only")
    return attacks


def attack_row(ctx, name: str, model, attack: str) -> dict:
    """One attack against one model on its sample: accuracy, examples,
    target_success (targeted), clean accuracy of the sample, seconds and
    the perturbation sizes."""
    data = ctx.data
    sample = sample_for(ctx.cfg, attack, data.y_test, ctx.num_classes)
    x, y = data.x_test[sample.index], data.y_test[sample.index]
    start = time.perf_counter()
    x_adv = run_attack(attack, model, x, y, sample.target, ctx.cfg, ctx.log, name)
    seconds = time.perf_counter() - start
    return {**score_examples(model, x_adv, y, sample.target),
            "clean_accuracy": accuracy(model, x, y), "seconds": seconds,
            **perturbation_sizes(x, x_adv)}


def evaluate_whitebox(ctx, name: str, model, cache: ResultCache) -> tuple[dict, dict]:
    """Every white-box attack against model `name`, cached per attack.

    Args:
        ctx: the `EvaluationContext`; model: a logits model; cache: its ResultCache.

    Returns:
        (result, details): result holds `<attack>_accuracy` (and
        `<attack>_target_success` for targeted attacks) and `attack_examples`;
        details holds each attack's full row (`attack_row`).
    """
    cfg, result, details = ctx.cfg, {}, {}
    for attack in attacks_for(ctx, name):
        row = details[attack] = cache.get(f"white:{attack}",
                                          lambda attack=attack: attack_row(ctx, name, model, attack))
        target = (f", target reached {row['target_success']:.4f}"
                  if "target_success" in row else "")
        ctx.log(f"  {attack_title(cfg, attack)}: accuracy {row['accuracy']:.4f} on "
                f"{row['examples']} examples{target} ({row['seconds']:.0f} s)")
        result[f"{attack}_accuracy"] = row["accuracy"]
        if "target_success" in row:
            result[f"{attack}_target_success"] = row["target_success"]
    result["attack_examples"] = int(len(balanced_subset(ctx.data.y_test, cfg.per_class, cfg.seed)))
    return result, details
