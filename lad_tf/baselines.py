"""Defences built in one harness, selected with `harden --method` (Table IV).

Every method starts from the same original classifier and the same data:

    lad       Eq. 4 fine-tuning on the boundary-guided generated set (the paper)
    fgsm-ft   Eq. 4 fine-tuning with FGSM examples in place of the generated ones
    pgd-ft    ... with PGD-40 examples
    jsma-ft   ... with targeted JSMA examples (every other class as target)
    cw-ft     ... with targeted Carlini-Wagner L2 examples
    pgd-at    Madry et al. PGD-40 adversarial training (examples crafted each step)
    lad+pgd   Eq. 4 with Madry's PGD term in place of the clean term

Fine-tuning examples are crafted against the original model from the
provider split, never from the test images the evaluation reports on.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import keras

from lad_tf.adversarial_training import LADPGDTraining, PGDAdversarialTraining
from lad_tf.attacks import ATTACKS, craft
from lad_tf.attacks.logits import attack_classes
from lad_tf.config import METHOD_NAMES
from lad_tf.errors import LadError
from lad_tf.hardening import LADHardening, hardening_dataset
from lad_tf.sampling import balanced_subset, targeted_subset


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    title: str  # for tables
    description: str
    attack: str | None = None  # the attack whose examples a fine-tuning baseline uses


METHODS = {m.name: m for m in (
    Method("lad", "LAD", "Eq. 4 fine-tuning on LAD's boundary-guided generated examples"),
    Method("fgsm-ft", "FGSM-FT", "Eq. 4 fine-tuning on FGSM examples", "fgsm"),
    Method("pgd-ft", "PGD-FT", "Eq. 4 fine-tuning on PGD examples", "pgd"),
    Method("jsma-ft", "JSMA-FT", "Eq. 4 fine-tuning on targeted JSMA examples", "jsma"),
    Method("cw-ft", "CW-FT", "Eq. 4 fine-tuning on targeted C&W-L2 examples", "cw"),
    Method("pgd-at", "PGD-AT (Madry)", "PGD-40 adversarial training (Madry et al. 2018)"),
    Method("lad+pgd", "LAD+PGD", "Eq. 4 with PGD-40 examples as the clean term"),
)}
assert tuple(METHODS) == METHOD_NAMES, "lad_tf.config.METHOD_NAMES is out of date"


class Hardener:
    """Builds the defended models of one run, each from a fresh copy of the original.

    Args:
        original_path: the original classifier's `.keras` file.
        data: the run's `DatasetSplits`.
        recipe: the resolved `Recipe`.
        fit: callable(stage, model, dataset, epochs, validation_data) that
            trains with the run's callbacks (progress, TensorBoard, backups).
        generated: callable() -> (x_adv, y_adv), the LAD set (read lazily).
        log: progress output.
    """

    def __init__(self, original_path, data, recipe, fit: Callable, generated: Callable,
                 log=print):
        self.original_path, self.data, self.recipe = original_path, data, recipe
        self.fit, self.generated, self.log = fit, generated, log

    def original(self):
        return keras.models.load_model(self.original_path)

    def _optimizer(self):
        cfg = self.recipe.hardening
        if cfg.optimizer == "sgd":
            return keras.optimizers.SGD(cfg.learning_rate, momentum=cfg.momentum)
        return keras.optimizers.Adam(cfg.learning_rate)

    def _clean_and(self, x_adv, y_adv, batch_size):
        try:
            return hardening_dataset(self.data.x_train, self.data.y_train, x_adv, y_adv,
                                     batch_size, seed=self.recipe.data.seed)
        except ValueError as exc:
            raise LadError(str(exc)) from None

    def craft_examples(self, attack: str, model):
        """Examples of `attack` against `model` from the provider split, with true labels."""
        cfg, ev = self.recipe.baselines, self.recipe.evaluation
        x, y = self.data.x_provider, self.data.y_provider
        k = attack_classes(model)
        params = self._attack_params(attack)
        if ATTACKS[attack].targeted:
            idx, target = targeted_subset(y, cfg.targeted_per_class, k, self.recipe.data.seed)
        else:
            idx, target = balanced_subset(y, cfg.per_class, self.recipe.data.seed), None
        self.log(f"harden: crafting {len(idx)} {attack} examples against the original model "
                 "from the provider split")
        batch = ev.batch_size if attack in ("fgsm", "pgd") else 128
        every = max(1, -(-len(idx) // batch) // 4)  # about four progress lines

        def progress(done, total):
            if (done // batch) % every == 0 or done == total:
                self.log(f"  {attack}: {done}/{total} images")

        x_adv = craft(attack, model, x[idx], y=y[idx], target=target, num_classes=k,
                      batch_size=batch, progress=progress, **params)
        return x_adv, y[idx].astype("int64")

    def _attack_params(self, attack: str) -> dict:
        ev = self.recipe.evaluation
        params = {"fgsm": {"eps": ev.fgsm_eps},
                  "pgd": {"eps": ev.pgd_eps, "eps_iter": ev.pgd_step, "nb_iter": ev.pgd_iterations},
                  }.get(attack, {})
        return {**params, **self.recipe.baselines.attack_params.get(attack, {})}

    def lad_finetune(self, x_adv, y_adv, stage: str, validation=None):
        """A fresh copy of the original fine-tuned with Eq. 4 on (x_adv, y_adv)."""
        hard = self.recipe.hardening
        model = self.original()
        wrapper = LADHardening(model, alpha=hard.alpha)
        wrapper.compile(optimizer=self._optimizer())
        self.fit(stage, wrapper, self._clean_and(x_adv, y_adv, hard.batch_size), hard.epochs,
                 validation)
        return model

    def build(self, name: str):
        """Trains method `name`; returns (model, info dict with examples and seconds)."""
        method = METHODS[name]
        start = time.perf_counter()
        hard, base, ev = self.recipe.hardening, self.recipe.baselines, self.recipe.evaluation
        model = self.original()
        info = {"method": name, "title": method.title, "description": method.description}
        validation = self.data.dataset("provider", 500)
        if name in ("lad", "lad+pgd") or method.attack:
            if method.attack:
                x_adv, y_adv = self.craft_examples(method.attack, model)
                info["crafting_seconds"] = time.perf_counter() - start
            else:
                x_adv, y_adv = self.generated()
            info["examples"] = int(len(x_adv))
            if name == "lad+pgd":
                wrapper = LADPGDTraining(model, alpha=hard.alpha, eps=ev.pgd_eps,
                                         eps_iter=ev.pgd_step, nb_iter=ev.pgd_iterations)
                epochs = base.lad_pgd_epochs
            else:
                wrapper = LADHardening(model, alpha=hard.alpha)
                epochs = hard.epochs
            wrapper.compile(optimizer=self._optimizer())
            self.log(f"harden {name}: fine-tuning on {len(x_adv)} examples + clean batches, "
                     f"alpha {hard.alpha}, {epochs} epoch(s)")
            data = self._clean_and(x_adv, y_adv, hard.batch_size)
        else:  # pgd-at
            wrapper = PGDAdversarialTraining(model, eps=ev.pgd_eps, eps_iter=ev.pgd_step,
                                             nb_iter=ev.pgd_iterations)
            wrapper.compile(optimizer=keras.optimizers.Adam(base.pgd_at_learning_rate))
            data = self.data.dataset("train", base.pgd_at_batch_size, shuffle=True,
                                     seed=self.recipe.data.seed)
            if base.pgd_at_steps_per_epoch:
                data = data.take(base.pgd_at_steps_per_epoch)
            epochs = base.pgd_at_epochs
            info["examples"] = int(min(len(self.data.y_train), (base.pgd_at_steps_per_epoch or 1e12)
                                       * base.pgd_at_batch_size)) * epochs
            self.log(f"harden {name}: PGD-{ev.pgd_iterations} training, eps {ev.pgd_eps}, "
                     f"{epochs} epoch(s) of batch {base.pgd_at_batch_size}")
        history = self.fit(f"harden-{name}", wrapper, data, epochs, validation)
        info["epochs"] = epochs
        info["history"] = {k: [float(v) for v in vs] for k, vs in history.items()}
        info["seconds"] = time.perf_counter() - start
        return model, info

