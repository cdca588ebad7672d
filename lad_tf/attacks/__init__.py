"""Thin adapters over maintained attack libraries, one attack per file, and a
registry that calls any of them the same way.

Every attack takes a model that returns logits and images float32 [B, H, W, C]
in [0, 1], and returns adversarial images of the same shape and range. A
binary model with one sigmoid logit is attacked as a two-class model
(`softmax_logits`). `craft(name, model, x, ...)` looks an attack up in
`ATTACKS`, fills in its paper-style defaults and runs it batch by batch.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Callable

import numpy as np

from lad_tf.attacks.apgd import apgd
from lad_tf.attacks.apgd_t import apgd_t
from lad_tf.attacks.bim import bim
from lad_tf.attacks.carlini_wagner import carlini_wagner_l2
from lad_tf.attacks.fgsm import fgsm
from lad_tf.attacks.ga import ga, ga_targeted
from lad_tf.attacks.jsma import jsma
from lad_tf.attacks.mim import mim
from lad_tf.attacks.pgd import pgd
from lad_tf.attacks.pgd_restarts import pgd_restarts
from lad_tf.attacks.square import square
from lad_tf.utils.errors import LadError

CLEVERHANS = "cleverhans 4.0.0"
ART = "ART 1.20.1"
LAD_TF = "lad_tf (after Song et al. 2018's released code)"


@dataclasses.dataclass(frozen=True)
class AttackSpec:
    """One registered attack.

    Attributes:
        name: registry key, e.g. "pgd".
        title: name for tables, e.g. "PGD-40".
        fn: the adapter, (model, x, ...) -> x_adv.
        targeted: True if it pushes towards `target` labels (JSMA, C&W).
        library: the library that implements it.
        gradient_free: True if it only reads the model's outputs (Square).
        defaults: the paper-style parameters `craft` uses unless overridden.
    """

    name: str
    title: str
    fn: Callable
    targeted: bool
    library: str
    gradient_free: bool
    defaults: dict


def _spec(name, title, fn, library, defaults, targeted=False, gradient_free=False):
    return AttackSpec(name=name, title=title, fn=fn, targeted=targeted, library=library,
                      gradient_free=gradient_free, defaults=defaults)


_ITERATIVE = {"eps": 0.3, "eps_iter": 0.01, "nb_iter": 40}

ATTACKS: dict[str, AttackSpec] = {s.name: s for s in [
    _spec("fgsm", "FGSM", fgsm, CLEVERHANS, {"eps": 0.3}),
    _spec("pgd", f"PGD-{_ITERATIVE['nb_iter']}", pgd, CLEVERHANS,
          {**_ITERATIVE, "rand_init": True}),
    _spec("bim", f"BIM-{_ITERATIVE['nb_iter']}", bim, CLEVERHANS, dict(_ITERATIVE)),
    _spec("mim", f"MIM-{_ITERATIVE['nb_iter']}", mim, CLEVERHANS,
          {**_ITERATIVE, "decay_factor": 1.0}),
    _spec("jsma", "JSMA", jsma, ART, {"theta": 1.0, "gamma": 0.1}, targeted=True),
    # ART's own C&W defaults (learning_rate 0.01, initial_const 0.01) seldom
    # reach the target in 20 steps; these do on a trained LeNet.
    _spec("cw", "C&W-L2", carlini_wagner_l2, ART,
          {"confidence": 0.0, "max_iter": 20, "binary_search_steps": 5, "learning_rate": 0.1,
           "initial_const": 10.0}, targeted=True),
    _spec("apgd", "APGD-CE-100", apgd, ART, {"eps": 0.3, "max_iter": 100}),
    _spec("square", "Square-100", square, ART, {"eps": 0.3, "max_iter": 100},
          gradient_free=True),
    # AutoAttack's APGD-T: 100 steps for each of the 9 top-scoring wrong classes.
    _spec("apgd_t", "APGD-T-100 (DLR, 9 targets)", apgd_t, ART,
          {"eps": 0.3, "max_iter": 100, "n_target_classes": 9}),
    _spec("pgd_restarts", "PGD-100 x 5 restarts", pgd_restarts, CLEVERHANS,
          {"eps": 0.3, "eps_iter": 0.01, "nb_iter": 100, "restarts": 5, "seed": 0}),
    # GA (Song et al. 2018) synthesises images from an AC-GAN: pass acgan=;
    # x only sets the count and shape, y gives the source classes. Not yet a
    # recipe attack (lad_tf.recipe.schema.ATTACK_NAMES): it needs a trained AC-GAN.
    _spec("ga", "GA (untargeted)", ga, LAD_TF, {}),
    _spec("ga_t", "GA (targeted)", ga_targeted, LAD_TF, {}, targeted=True),
]}

# Attacks a recipe cannot name yet (they need artefacts the pipeline does not make).
NOT_IN_RECIPES = frozenset({"ga", "ga_t"})

# Arguments `craft` fills in itself; `targeted` is fixed by the spec, since
# an untargeted attack gets the true labels.
_FILLED = frozenset({"model", "x", "y", "target", "num_classes", "batch_size", "targeted",
                     "progress", "first_index"})


def accepted_params(name: str) -> list[str]:
    """The parameters `craft(name, ..., **params)` takes for attack `name`."""
    params = inspect.signature(_lookup(name).fn).parameters
    return sorted(p for p in params if p not in _FILLED)


def _lookup(name: str) -> AttackSpec:
    if name not in ATTACKS:
        raise LadError(f"unknown attack {name!r}; known attacks: {', '.join(ATTACKS)}")
    return ATTACKS[name]


def craft(name: str, model, x, y=None, target=None, num_classes: int = 10,
          batch_size: int = 128, progress: Callable | None = None, **params) -> np.ndarray:
    """Adversarial images from the registered attack `name`.

    Args:
        name: a key of `ATTACKS` (fgsm, pgd, bim, mim, jsma, cw, apgd, square,
            apgd_t, pgd_restarts, ga, ga_t).
        model: callable images -> logits [B, K], or [B, 1] for a binary
            model with one sigmoid logit.
        x: float32 [N, H, W, C] in [0, 1].
        y: int [N] true labels for the untargeted attacks (without them the
            attack uses the model's predictions); a targeted attack that
            takes `y` (GA: the source classes) gets it too.
        target: int [N] target labels; required by the targeted attacks.
        num_classes: the model's classes K (2 for a one-logit binary model).
        batch_size: images per attack call (and per ART batch).
        progress: optional callable(done, total) called after each batch.
        **params: overrides of the attack's `defaults`; see `accepted_params`.
    Returns: float32 [N, H, W, C] in [0, 1].

    Raises:
        LadError: unknown attack or parameter, a missing `target` for a
            targeted attack, a `target` for an untargeted one, or labels
            whose length differs from x's.
    """
    spec = _lookup(name)
    _check_params(name, params)
    x = np.asarray(x, "float32")
    labels, sources = _check_labels(spec, x, y, target)
    kwargs = {**spec.defaults, **params}
    if spec.library == ART:  # cleverhans needs neither: softmax_logits sizes the logits
        kwargs.update(num_classes=num_classes, batch_size=batch_size)
    order = None
    if spec.targeted and spec.library == ART:
        # ART computes class gradients once per distinct target in a batch;
        # batches of one target each make JSMA / C&W several times faster.
        order = np.argsort(labels, kind="stable")
        x, labels = x[order], labels[order]
    x_adv = _run_batches(spec, model, x, labels, sources, kwargs, batch_size, progress)
    if order is not None:
        x_adv[order] = x_adv.copy()  # back to the caller's order
    return x_adv


def _check_params(name: str, params: dict) -> None:
    accepted = accepted_params(name)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise LadError(f"attack {name!r} takes no parameter {', '.join(map(repr, unknown))}; "
                       f"accepted: {', '.join(accepted)}")


def _check_labels(spec: AttackSpec, x: np.ndarray, y, target):
    """(labels the attack is pointed by: `target` or `y`, GA's source classes or None)."""
    name = spec.name
    if spec.targeted and target is None:
        raise LadError(f"attack {name!r} is targeted: pass target= (int labels, one per image)")
    if not spec.targeted and target is not None:
        raise LadError(f"attack {name!r} is untargeted: pass the true labels as y=, not target=")
    labels = target if spec.targeted else y
    if labels is not None:
        labels = np.asarray(labels)
        if len(labels) != len(x):
            raise LadError(f"{'target' if spec.targeted else 'y'} has {len(labels)} labels "
                           f"for {len(x)} images")
    # A targeted attack that also reads the true labels (GA: its source classes).
    takes_y = "y" in inspect.signature(spec.fn).parameters
    sources = np.asarray(y) if spec.targeted and takes_y and y is not None else None
    if sources is not None and len(sources) != len(x):
        raise LadError(f"y has {len(sources)} labels for {len(x)} images")
    return labels, sources


def _run_batches(spec: AttackSpec, model, x, labels, sources, kwargs: dict, batch_size: int,
                 progress) -> np.ndarray:
    """The attack on x batch by batch, float32 [N, H, W, C] clipped to [0, 1]."""
    signature = inspect.signature(spec.fn).parameters
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        lb = None if labels is None else labels[start:start + batch_size]
        if "first_index" in signature:  # per-example randomness keyed by the example's index
            kwargs["first_index"] = start
        if sources is not None:
            kwargs["y"] = sources[start:start + batch_size]
        if spec.targeted:
            x_adv = spec.fn(model, xb, target=lb, **kwargs)
        else:
            x_adv = spec.fn(model, xb, y=lb, **kwargs)
        out.append(np.asarray(x_adv, "float32").reshape(xb.shape))
        if progress:
            progress(start + len(xb), len(x))
    if not out:
        return np.zeros(x.shape, "float32")
    # ART and cleverhans clip already; this guards float round-off at the edges.
    return np.clip(np.concatenate(out), 0.0, 1.0)


__all__ = ["ATTACKS", "AttackSpec", "NOT_IN_RECIPES", "accepted_params", "apgd", "apgd_t", "bim",
           "carlini_wagner_l2", "craft", "fgsm", "ga", "ga_targeted", "jsma", "mim", "pgd",
           "pgd_restarts", "square"]
