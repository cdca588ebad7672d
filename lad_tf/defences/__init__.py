"""Defences, one Keras model with its own `train_step` per file, registered
by name (`harden --method`, `hardening.methods`):

    lad       Eq. 4 fine-tuning on LAD's boundary-guided generated set (the paper)
    fgsm-ft   Eq. 4 fine-tuning with FGSM examples in place of the generated ones
    pgd-ft    ... with PGD-40 examples
    jsma-ft   ... with targeted JSMA examples (every other class as target)
    cw-ft     ... with targeted Carlini-Wagner L2 examples
    pgd-at    Madry et al. PGD-k adversarial training (examples crafted each step)
    trades    TRADES (Zhang et al. 2019): clean CE + beta KL(f(x) || f(x_adv))
    fast-at   Wong et al. (2020) FGSM with a random start (N-FGSM as an option)
    lad+fast  Eq. 4 with the fast-AT term in place of the clean term
    lad+pgd   Eq. 4 with the PGD term in place of the clean term

The Eq. 4 fine-tuning methods take their budget from the recipe's
`hardening` section (and `baselines` for the crafted examples); each
adversarial-training defence from its own section (`pgd_at`, `trades`,
`fast_at`, `lad_fast`, `lad_pgd`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from lad_tf.defences.base import Defence, classification_loss, logits_accuracy
from lad_tf.defences.fast_at import FastAdversarialTraining
from lad_tf.defences.lad import LAD
from lad_tf.defences.lad_fast import LADFast
from lad_tf.defences.lad_pgd import LADPGD
from lad_tf.defences.pgd_at import PGDAdversarialTraining
from lad_tf.defences.selection import RobustSelection
from lad_tf.defences.trades import TRADES
from lad_tf.recipe.names import METHOD_NAMES


@dataclasses.dataclass(frozen=True)
class DefenceSpec:
    """One registered defence.

    Attributes:
        name: registry key, e.g. "lad+pgd".
        title: name for tables.
        description: one line for reports.
        section: the recipe section with its budget ("hardening" for Eq. 4
            fine-tuning, else its own).
        data: "generated" (Eq. 4 pairs with LAD's set), "crafted" (Eq. 4
            pairs with `attack`'s examples) or "train" (clean batches).
        build: callable(classifier, cfg, ramp_steps) -> the Keras model to fit.
        attack: the attack whose examples a fine-tuning baseline uses.
    """

    name: str
    title: str
    description: str
    section: str
    data: str
    build: Callable
    attack: str | None = None


def _lad(classifier, cfg, ramp_steps):
    return LAD(classifier, alpha=cfg.alpha)


def _pgd_at(classifier, cfg, ramp_steps):
    return PGDAdversarialTraining(classifier, eps=cfg.eps, step=cfg.step_size, steps=cfg.steps,
                                  eps_ramp_steps=ramp_steps)


def _trades(classifier, cfg, ramp_steps):
    return TRADES(classifier, eps=cfg.eps, step=cfg.step_size, steps=cfg.steps, beta=cfg.beta,
                  eps_ramp_steps=ramp_steps)


def _fast_at(classifier, cfg, ramp_steps):
    return FastAdversarialTraining(classifier, eps=cfg.eps, nfgsm=cfg.nfgsm,
                                   eps_ramp_steps=ramp_steps)


def _lad_fast(classifier, cfg, ramp_steps):
    return LADFast(classifier, alpha=cfg.alpha, eps=cfg.eps, nfgsm=cfg.nfgsm,
                   eps_ramp_steps=ramp_steps)


def _lad_pgd(classifier, cfg, ramp_steps):
    return LADPGD(classifier, alpha=cfg.alpha, eps=cfg.eps, step=cfg.step_size, steps=cfg.steps,
                  eps_ramp_steps=ramp_steps)


def _ft(name: str) -> DefenceSpec:
    """An Eq. 4 fine-tuning baseline `<attack>-ft`: LAD's step on that attack's examples."""
    attack = name[:-len("-ft")]
    return DefenceSpec(name, f"{attack.upper()}-FT",
                       f"Eq. 4 fine-tuning on {attack.upper()} examples", "hardening", "crafted",
                       _lad, attack)


# name -> (title, description, recipe section, training data, build) of every
# defence that is not an `<attack>-ft` baseline.
_OWN = {
    "lad": ("LAD", "Eq. 4 fine-tuning on LAD's boundary-guided generated examples",
            "hardening", "generated", _lad),
    "pgd-at": ("PGD-AT (Madry)", "PGD-k adversarial training (Madry et al. 2018)",
               "pgd_at", "train", _pgd_at),
    "trades": ("TRADES", "TRADES (Zhang et al. 2019): CE + beta KL to PGD-k examples",
               "trades", "train", _trades),
    "fast-at": ("Fast-AT", "FGSM with a random start (Wong et al. 2020)",
                "fast_at", "train", _fast_at),
    "lad+fast": ("LAD+Fast", "Eq. 4 with the fast-AT term in place of the clean term",
                 "lad_fast", "generated", _lad_fast),
    "lad+pgd": ("LAD+PGD", "Eq. 4 with the PGD-k term in place of the clean term",
                "lad_pgd", "generated", _lad_pgd),
}

# The registry, in the order of the one name list (lad_tf.recipe.names.METHOD_NAMES,
# which recipes are checked against before TensorFlow is imported).
DEFENCES: dict[str, DefenceSpec] = {
    name: _ft(name) if name.endswith("-ft") else DefenceSpec(name, *_OWN[name])
    for name in METHOD_NAMES}


def title(name: str) -> str:
    """A method's table title ("original" for the undefended model)."""
    return DEFENCES[name].title if name in DEFENCES else name


__all__ = ["DEFENCES", "LAD", "LADFast", "LADPGD", "TRADES", "Defence", "DefenceSpec",
           "FastAdversarialTraining", "PGDAdversarialTraining", "RobustSelection",
           "classification_loss", "logits_accuracy", "title"]
