"""Builds the defended models of one run, each from a fresh copy of the
original classifier, with the budget of its recipe section and checkpoint
selection on the validation split (`RobustSelection`).

Fine-tuning examples (FGSM-FT, ...) are crafted against the original model
from the provider split; LAD's generated set also comes from the provider
split. Validation images are a part of the training data that neither
training nor generation sees; test images are never read here.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import keras

from lad_tf.attacks import ATTACKS
from lad_tf.attacks.budget import attack_params, run_attack
from lad_tf.attacks.logits import attack_classes
from lad_tf.defences import DEFENCES
from lad_tf.defences.datasets import hardening_dataset, paired_dataset
from lad_tf.defences.selection import RobustSelection
from lad_tf.utils.errors import LadError
from lad_tf.utils.optimizers import make_optimizer
from lad_tf.utils.sampling import balanced_subset, targeted_subset


def fresh_copy(model: keras.Model, seed: int) -> keras.Model:
    """The architecture of `model` (its config) with freshly initialised weights."""
    keras.utils.set_random_seed(seed)
    copy = model.__class__.from_config(model.get_config())
    shape = model.get_build_config()["input_shape"]
    copy(keras.ops.zeros((1, *shape[1:]), "float32"))  # builds the weights
    return copy


class DefenceTrainer:
    """Trains the methods of `hardening.methods`.

    Args:
        original_path: the original classifier's `.keras` file.
        data: the run's `DatasetSplits`.
        recipe: the resolved `Recipe`.
        fit: callable(stage, model, dataset, epochs, validation_data, callbacks)
            that trains with the run's callbacks (progress, TensorBoard,
            backups) and returns the history dict.
        generated: callable() -> (x_gen, y_gen), LAD's set (read lazily).
        selection_folder: callable(stage) -> folder for the best weights.
        log: progress output.
    """

    def __init__(self, original_path, data, recipe, fit: Callable, generated: Callable,
                 selection_folder: Callable | None = None, log=print):
        self.original_path, self.data, self.recipe = original_path, data, recipe
        self.fit, self.generated, self.log = fit, generated, log
        self.selection_folder = selection_folder or (lambda stage: None)

    def original(self):
        return keras.models.load_model(self.original_path)

    def attack_params(self, attack: str) -> dict:
        """The evaluation's budget for `attack`, with the baselines' overrides."""
        return {**attack_params(self.recipe.evaluation, attack),
                **self.recipe.baselines.attack_params.get(attack, {})}

    def craft_examples(self, attack: str, model):
        """Examples of `attack` against `model` from the provider split, with true labels."""
        cfg = self.recipe.baselines
        x, y = self.data.x_provider, self.data.y_provider
        k = attack_classes(model)
        if ATTACKS[attack].targeted:
            idx, target = targeted_subset(y, cfg.targeted_per_class, k, self.recipe.data.seed)
        else:
            idx, target = balanced_subset(y, cfg.per_class, self.recipe.data.seed), None
        self.log(f"harden: crafting {len(idx)} {attack} examples against the original model "
                 "from the provider split")
        x_adv = run_attack(attack, model, x[idx], y[idx], target, self.recipe.evaluation,
                           self.log, "", params=self.attack_params(attack))
        return x_adv, y[idx].astype("int64")

    def _dataset(self, spec, cfg, model, info):
        """(tf.data pipeline, steps per epoch) for `spec`'s kind of training data."""
        seed = self.recipe.data.seed
        if spec.data == "train":
            steps = math.ceil(len(self.data.y_train) / cfg.batch_size)
            return self.data.dataset("train", cfg.batch_size, shuffle=True, seed=seed), steps
        if spec.data == "crafted":
            start = time.perf_counter()
            x_gen, y_gen = self.craft_examples(spec.attack, model)
            info["crafting_seconds"] = time.perf_counter() - start
        else:
            x_gen, y_gen = self.generated()
        info["examples"] = int(len(x_gen))
        # A training split read from disk comes as a dataset of examples, else as arrays.
        x_clean, y_clean = ((self.data.examples("train", shuffle=True, seed=seed), None)
                            if self.data.streamed else (self.data.x_train, self.data.y_train))
        try:
            if spec.section == "hardening":  # the paper's Eq. 4: an epoch is a pass over x_gen
                steps = math.ceil(len(x_gen) / cfg.batch_size)
                return hardening_dataset(x_clean, y_clean, x_gen, y_gen,
                                         cfg.batch_size, seed=seed), steps
            steps = len(self.data.y_train) // cfg.batch_size  # hybrids: a pass over train
            return paired_dataset(x_clean, y_clean, x_gen, y_gen,
                                  cfg.batch_size, seed=seed), steps
        except ValueError as exc:
            raise LadError(str(exc)) from None

    def _selection(self, stage: str, cfg, model):
        sel = self.recipe.selection
        if sel.per_class == 0 or len(self.data.y_validation) == 0:
            return None
        idx = balanced_subset(self.data.y_validation, sel.per_class, self.recipe.data.seed)
        return RobustSelection(model, self.data.x_validation[idx], self.data.y_validation[idx],
                               eps=sel.eps, steps=sel.pgd_steps, patience=sel.patience,
                               min_epochs=math.ceil(getattr(cfg, "eps_ramp_epochs", 0.0)),
                               min_delta=sel.min_delta, collapse_drop=sel.collapse_drop,
                               folder=self.selection_folder(stage), log=self.log)

    def build(self, name: str, model=None, stage: str | None = None):
        """Trains method `name` from a copy of the original (or `model`), or
        from fresh weights of its architecture where the section says
        `init: scratch`;
        `stage` names its backup and TensorBoard folders (default harden-NAME).

        Returns:
            (trained classifier, info dict: examples, epochs, history,
            selection, seconds).
        """
        spec = DEFENCES[name]
        cfg = getattr(self.recipe, spec.section)
        start = time.perf_counter()
        model = model or self.original()
        if getattr(cfg, "init", "original") == "scratch":
            model = fresh_copy(model, self.recipe.data.seed)
        info = {"method": name, "title": spec.title, "description": spec.description,
                "section": spec.section}
        data, steps = self._dataset(spec, cfg, model, info)
        if getattr(cfg, "steps_per_epoch", None):
            data, steps = data.take(cfg.steps_per_epoch), min(steps, cfg.steps_per_epoch)
        ramp = math.ceil(getattr(cfg, "eps_ramp_epochs", 0.0) * steps)
        wrapper = spec.build(model, cfg, ramp)
        wrapper.compile(optimizer=make_optimizer(cfg, steps))
        stage = stage or f"harden-{name}"
        selection = self._selection(stage, cfg, model)
        validation = None if selection else self.data.dataset("provider", 500)
        self.log(f"harden {name}: {spec.description}; at most {cfg.epochs} epoch(s) of {steps} "
                 f"steps (recipe section `{spec.section}`)"
                 + (f", selected on {len(selection.y)} validation images" if selection else ""))
        history = self.fit(stage, wrapper, data, cfg.epochs, validation,
                           [selection] if selection else [])
        info["epochs"] = len(next(iter(history.values()), []))
        batch = cfg.batch_size
        info.setdefault("examples", info["epochs"] * steps * batch)  # "train" defences
        info["steps_per_epoch"] = steps
        info["history"] = {k: [float(v) for v in vs] for k, vs in history.items()}
        if selection:
            info["selection"] = selection.summary()
        # A resumed run also counts the epochs trained before it was killed.
        info["seconds"] = time.perf_counter() - start + getattr(history, "earlier_seconds", 0.0)
        return model, info
