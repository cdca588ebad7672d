"""Attack budgets: what each attack runs with, how it is titled, and how it
is called (batch size, progress lines).

One copy for the whole project: the evaluation reads it, and the defences
that fine-tune on crafted examples (`lad_tf.defences.trainer`) take the
evaluation's budget from here too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np

from lad_tf.attacks import ATTACKS, craft
from lad_tf.attacks.logits import attack_classes

QUICK = {  # --quick: the same code paths on a few images, for tests and smoke runs
    "per_class": 3, "targeted_per_class": 1, "cw_per_class": 1, "pgd_iterations": 10,
    "blackbox_epochs": 1, "lad_per_class": 2, "diversity_per_class": 2,
    "robust_per_class": 2, "masking_per_class": 1,
    "attack_params": {"cw": {"max_iter": 5, "binary_search_steps": 2},
                      "apgd": {"max_iter": 5}, "square": {"max_iter": 20},
                      "apgd_t": {"max_iter": 5, "n_target_classes": 2},
                      "pgd_restarts": {"nb_iter": 10, "restarts": 2}},
    "ga_searches": 1, "ga_steps": 10,
    "l2_attack_params": {"apgd": {"max_iter": 5}, "square": {"max_iter": 20},
                         "apgd_t": {"max_iter": 5, "n_target_classes": 2},
                         "pgd_restarts": {"nb_iter": 10, "restarts": 2}, "pgd": {"nb_iter": 10}},
}
_MERGED = ("attack_params", "l2_attack_params")  # the recipe's own entries win over QUICK's

# The robust suite's (AutoAttack's) budgets where they differ from the
# registry's table defaults (`square` there is Square-100); attack_params
# still override them.
SUITE_DEFAULTS = {"square": {"max_iter": 5000}}

# cleverhans attacks run whole batches at once; ART's batches cost memory per image.
WHOLE_BATCH = ("fgsm", "pgd", "bim", "mim", "pgd_restarts")
ART_BATCH = 128
PROGRESS_LINES = 4  # about this many progress lines per attack


def quick_settings(cfg):
    """`cfg` (an EvaluationConfig) with QUICK's sizes; the recipe's own
    attack_params and l2_attack_params win over QUICK's."""
    sizes = {k: v for k, v in QUICK.items() if k not in _MERGED}
    return dataclasses.replace(cfg, **sizes, **{k: {**QUICK[k], **getattr(cfg, k)} for k in _MERGED})


def attack_params(cfg, name: str) -> dict:
    """The recipe's parameters for attack `name` (budgets shared across attacks).

    Args:
        cfg: an EvaluationConfig (fgsm_eps, pgd_eps, pgd_step,
            pgd_iterations, seed, attack_params).
        name: a key of `lad_tf.attacks.ATTACKS`.

    Returns:
        keyword arguments for `craft(name, ...)`: the shared budget under
        `cfg.attack_params[name]`.
    """
    iterative = {"eps": cfg.pgd_eps, "eps_iter": cfg.pgd_step, "nb_iter": cfg.pgd_iterations}
    shared = {
        "fgsm": {"eps": cfg.fgsm_eps},
        "pgd": {**iterative, "seed": cfg.seed},
        "bim": iterative,
        "mim": iterative,
        "apgd": {"eps": cfg.pgd_eps},
        "square": {"eps": cfg.pgd_eps},
        "apgd_t": {"eps": cfg.pgd_eps},
        "pgd_restarts": {"eps": cfg.pgd_eps, "eps_iter": cfg.pgd_step, "seed": cfg.seed},
    }.get(name, {})
    return {**shared, **cfg.attack_params.get(name, {})}


def suite_params(name: str, params: Mapping) -> dict:
    """Parameters of `name` in the robust suite: SUITE_DEFAULTS under `params`."""
    return {**SUITE_DEFAULTS.get(name, {}), **params}


def suite_title(name: str, params: Mapping) -> str:
    """Table title of suite attack `name` run with `params` (over the registry defaults)."""
    p = {**ATTACKS[name].defaults, **params}
    if p.get("norm", "inf") not in ("inf", float("inf")):  # an L2 suite (lad_tf.evaluation.threats)
        return f"{suite_title(name, {**params, 'norm': 'inf'})}, L2"
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


def attack_title(cfg, name: str) -> str:
    """Table title of white-box attack `name` at the recipe's budget, e.g. "PGD-40 (eps 0.3)"."""
    params = {**ATTACKS[name].defaults, **attack_params(cfg, name)}
    if name in ("pgd", "bim", "mim"):
        return f"{name.upper()}-{params['nb_iter']} (eps {params['eps']:g})"
    if name in ("apgd_t", "pgd_restarts"):
        return f"{suite_title(name, params)} (eps {params['eps']:g})"
    if name in ("fgsm", "apgd", "square"):
        label = {"fgsm": "FGSM", "apgd": "APGD-CE", "square": "Square (black box)"}[name]
        return f"{label} (eps {params['eps']:g})"
    return {"jsma": "JSMA (targeted)", "cw": "C&W-L2 (targeted)"}[name]


def attack_batch_size(name: str, batch_size: int) -> int:
    """Images per attack call: `batch_size` (the recipe's evaluation.batch_size)
    for the cleverhans attacks, at most ART_BATCH for ART's."""
    return batch_size if name in WHOLE_BATCH else min(batch_size, ART_BATCH)


def progress_logger(log: Callable, label: str, name: str, total: int,
                    batch: int) -> Callable | None:
    """A `craft(progress=...)` callback that logs about PROGRESS_LINES lines
    ("  LABEL NAME: done/total images"; "  NAME: ..." for an empty label),
    or None when one batch holds all."""
    if total <= batch:
        return None
    every = max(1, total // (batch * PROGRESS_LINES))
    counter = {"n": 0}
    prefix = f"  {label} {name}" if label else f"  {name}"

    def progress(done, total):
        counter["n"] += 1
        if counter["n"] % every == 0 or done == total:
            log(f"{prefix}: {done}/{total} images")

    return progress


def run_attack(name: str, model, x: np.ndarray, y: np.ndarray, target: np.ndarray | None, cfg,
               log: Callable, label: str, params: dict | None = None) -> np.ndarray:
    """Crafts `name` examples against `model` with progress output.

    Args:
        x: float32 [N, H, W, C] in [0, 1]; y: int [N] true labels.
        target: int [N] target labels for a targeted attack, else None.
        cfg: the EvaluationConfig (batch_size; the budget when params is None).
        log: print-like; label: what the progress lines name (the model).
        params: the attack's parameters; None: `attack_params(cfg, name)`.

    Returns:
        float32 [N, H, W, C] in [0, 1], the adversarial images.
    """
    batch = attack_batch_size(name, cfg.batch_size)
    params = attack_params(cfg, name) if params is None else params
    return craft(name, model, x, y=y, target=target, num_classes=attack_classes(model),
                 batch_size=batch, progress=progress_logger(log, label, name, len(x), batch),
                 **params)
