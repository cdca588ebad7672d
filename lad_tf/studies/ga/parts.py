"""The parts of the GA study (`lad_tf.studies.ga.study`), each cached in RUN_DIR/ga/<part>.json."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np

from lad_tf.attacks.budget import attack_params, run_attack
from lad_tf.attacks.ga import ga_search, resolve_acgan
from lad_tf.defences.trainer import DefenceTrainer
from lad_tf.evaluation.context import load_model
from lad_tf.pipeline.run import latents
from lad_tf.runs.run_dir import RunDir
from lad_tf.studies.ga.judge import judge_rates, train_judge
from lad_tf.utils.batching import batched, predict
from lad_tf.utils.cache import read_keyed_json, read_keyed_npz, write_keyed_json, write_npz
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import cache_key, fingerprint, save_keras
from lad_tf.utils.metrics import accuracy, spread_ratio
from lad_tf.utils.sampling import balanced_subset, targeted_subset
from lad_tf.utils.traced import traced_call

# Each GA set draws its z0 from its own seed offset, so the sets are independent.
SEED_OFFSETS = {"samples": 0, "transfer": 1, "whitebox": 2, "ga-ft": 3, "steps": 4}


@dataclasses.dataclass
class GASet:
    """Examples of one GA search: sources, images, the attacked model's and
    the auxiliary classifier's labels, and the seconds it took."""

    source: np.ndarray
    images: np.ndarray
    predictions: np.ndarray
    aux_predictions: np.ndarray
    seconds: float

    def summary(self) -> dict:
        """n, attack success (the attacked model leaves s), valid (the auxiliary
        classifier keeps s), success and valid, seconds per example."""
        fooled, kept = self.predictions != self.source, self.aux_predictions == self.source
        n = len(self.source)
        return {"n": n, "attack_success": float(fooled.mean()), "aux_keeps_source":
                float(kept.mean()), "valid_success": float((fooled & kept).mean()),
                "seconds": self.seconds, "seconds_per_example": self.seconds / max(n, 1)}


class GAStudy:
    """The run, the AC-GAN and the models a GA study reads, and its cache."""

    def __init__(self, run_dir: Path, acgan_path: Path, settings, methods, data_dir, log,
                 extra: dict | None = None):
        self.run_dir, self.settings, self.log = run_dir, settings, log
        self.folder = run_dir / "ga"
        self.folder.mkdir(exist_ok=True)
        run = RunDir(run_dir)
        self.recipe = run.recipe()
        self.data = run.splits(data_dir, recipe=self.recipe)
        self.acgan_path = acgan_path
        self.acgan = resolve_acgan(str(acgan_path))
        if tuple(self.acgan.image_shape) != tuple(self.data.image_shape) or (
                self.acgan.num_classes != self.data.num_classes):
            raise LadError(f"the AC-GAN makes {self.acgan.image_shape} images of "
                           f"{self.acgan.num_classes} classes, the run has "
                           f"{self.data.image_shape} and {self.data.num_classes}; train the "
                           "AC-GAN on the run's dataset")
        self.models = {"original": run_dir / "classifier.keras", **self._methods(methods),
                       **(extra or {})}
        self.key = {"settings": dataclasses.asdict(settings),
                    "acgan": fingerprint(acgan_path),
                    "models": {n: fingerprint(p) for n, p in self.models.items()}}
        self.cache_key = cache_key(self.key)  # every part's file carries it (lad_tf.utils.cache)
        self._loaded = {}

    def _methods(self, names) -> dict:
        folder = self.run_dir / "methods"
        found = sorted(p.stem for p in folder.glob("*.keras") if not p.stem.startswith("lad-eps-"))
        names = found if names is None else names
        missing = [n for n in names if not (folder / f"{n}.keras").is_file()]
        if missing:
            raise LadError(f"{folder} has no {missing}; choose from {found}")
        sweep = sorted(folder.glob("lad-eps-*.keras"), key=lambda p: float(p.stem[8:]))
        chosen = {n: folder / f"{n}.keras" for n in names}
        if sweep:  # the paper's FT-0.1 column: the smallest eps of the sweep
            chosen[f"FT-{sweep[0].stem[8:]}"] = sweep[0]
        return chosen

    def model(self, name: str) -> keras.Model:
        if name not in self._loaded:
            self._loaded[name] = load_model(self.models[name])
        return self._loaded[name]

    def saved(self, part: str) -> dict | None:
        """The part's result in RUN_DIR/ga/<part>.json if it was made under this key."""
        return read_keyed_json(self.folder / f"{part}.json", self.cache_key)

    def cached(self, part: str) -> dict:
        """The part's saved result under this study's key, else computed and saved."""
        result = self.saved(part)
        if result is not None:
            self.log(f"ga study: {part} (cached)")
            return result
        self.log(f"ga study: {part}")
        start = time.perf_counter()
        result = PART_FUNCTIONS[part](self)
        result["part_seconds"] = time.perf_counter() - start
        write_keyed_json(self.folder / f"{part}.json", self.cache_key, result)
        return result

    def finished(self) -> dict:
        """{part: result} of the parts saved under this study's key."""
        return {part: result for part in PART_FUNCTIONS
                if (result := self.saved(part)) is not None}

    def ga(self, model, source: np.ndarray, part: str, steps: int | None = None,
           label: str = "", target: np.ndarray | None = None) -> GASet:
        """GA against `model` for `source` labels (untargeted, or to `target`), in
        batches, with progress."""
        steps = self.settings.steps if steps is None else steps
        seed = self.settings.seed * 10 + SEED_OFFSETS[part]
        batch = self.settings.batch_size
        parts, start = [], time.perf_counter()
        for first in range(0, len(source), batch):
            parts.append(ga_search(model, self.acgan, source[first:first + batch],
                                   None if target is None else target[first:first + batch],
                                   steps=steps, seed=seed, first_index=first))
            self.log(f"ga study: {part} {label} {min(first + batch, len(source))}/"
                     f"{len(source)} searched ({steps} steps)")
        cat = lambda name: np.concatenate([getattr(r, name) for r in parts])  # noqa: E731
        return GASet(source, cat("images"), cat("predictions"), cat("aux_predictions"),
                     time.perf_counter() - start)

    def judge_path(self) -> Path:
        s = self.settings
        return self.folder / f"judge-e{s.judge_epochs}-s{s.seed}.keras"

    def judge_with_info(self):
        """(the judge, what its training measured), trained once per key."""
        return train_judge(self.data, self.judge_path(), epochs=self.settings.judge_epochs,
                           seed=self.settings.seed, log=self.log)

    def judge(self):
        return self.judge_with_info()[0]

    def test_sources(self, per_class: int) -> np.ndarray:
        """Source labels: test-split labels, `per_class` of each class."""
        return self.data.y_test[balanced_subset(self.data.y_test, per_class,
                                                self.settings.seed)].astype("int32")


def samples(study: GAStudy) -> dict:
    """The original LeNet (and the judge) on plain class-conditional AC-GAN samples."""
    source = np.repeat(np.arange(study.data.num_classes),
                       study.settings.sample_per_class).astype("int32")
    made = study.ga(study.model("original"), source, "samples", steps=0)
    lenet = made.predictions
    per_class = [float(np.mean(lenet[source == c] == c)) for c in range(study.data.num_classes)]
    write_npz(study.folder / "samples.npz", key=study.cache_key, images=made.images, source=source)
    return {"n": len(source), "lenet_accuracy": float(np.mean(lenet == source)),
            "lenet_per_class": per_class,
            "aux_accuracy": float(np.mean(made.aux_predictions == source)),
            "judge_accuracy": float(np.mean(predict(study.judge(), made.images) == source)),
            "spread_ratio": spread_ratio(made.images, source, study.data.x_test,
                                         study.data.y_test),
            "acgan": _acgan_record(study.acgan_path)}


def _acgan_record(path: Path) -> dict:
    """The AC-GAN's state.json, with the step(s) `acgan_select` chose when `path` is its pick."""
    state, selection = path.parent / "state.json", path.parent / "selection.json"
    record = json.loads(state.read_text()) if state.is_file() else {}
    if path.name == "chosen.keras" and selection.is_file():
        chosen = json.loads(selection.read_text())
        record["chosen_step"] = chosen["chosen"]
        record["averaged_steps"] = chosen.get("averaged_steps", [chosen["chosen"]])
    return record


def judge_part(study: GAStudy) -> dict:
    """The judge's clean accuracy, and its rate on LAD's reconstructions G(phi(x))."""
    judge, info = study.judge_with_info()
    idx = balanced_subset(study.data.y_test, 100, study.settings.seed)
    x, y = study.data.x_test[idx], study.data.y_test[idx]
    generator = load_model(study.run_dir / "generator.keras")
    recon = batched(traced_call(generator), latents(study.model("original"), x), 500)
    return {**info, "reconstructions": {
        "n": int(len(y)), "judge_keeps_source": float(np.mean(predict(judge, recon) == y)),
        "lenet_keeps_source": float(np.mean(predict(study.model("original"), recon) == y))}}


def transfer(study: GAStudy) -> dict:
    """Table III's GA row: GA crafted on the black-box CNN, read by every model."""
    path = study.run_dir / "evaluation" / "blackbox.keras"
    if not path.is_file():
        raise LadError(f"{path} is missing; run `python -m lad_tf.evaluate {study.run_dir}` "
                       "first (it trains the black-box CNN)")
    made = study.ga(load_model(path), study.test_sources(study.settings.per_class), "transfer",
                    label="on the black-box CNN")
    write_npz(study.folder / "transfer.npz", key=study.cache_key, images=made.images,
              source=made.source, blackbox=made.predictions, aux=made.aux_predictions)
    return {"crafting": made.summary(), "accuracy": {
        name: accuracy(study.model(name), made.images, made.source) for name in study.models}}


def whitebox(study: GAStudy) -> dict:
    """GA against each model itself: accuracy (the model keeps s) and success rates."""
    source = study.test_sources(study.settings.whitebox_per_class)
    out = {}
    for name in study.models:
        made = study.ga(study.model(name), source, "whitebox", label=f"against {name}")
        out[name] = {**made.summary(), "accuracy": 1.0 - made.summary()["attack_success"]}
        if name == "original":
            write_npz(study.folder / "whitebox-original.npz", key=study.cache_key,
                      images=made.images, source=source, predictions=made.predictions)
    return out


def ga_ft(study: GAStudy) -> dict:
    """Table IV's GA-FT row: the FT baselines' Eq. 4 step on GA examples."""
    y_provider = study.data.y_provider
    source = y_provider[balanced_subset(y_provider, study.settings.ft_per_class,
                                        study.settings.seed)].astype("int32")
    made = study.ga(study.model("original"), source, "ga-ft", label="against the original")
    fit = lambda stage, model, ds, epochs, val, cbs: model.fit(  # noqa: E731
        ds, epochs=epochs, verbose=0, shuffle=False, callbacks=list(cbs)).history
    # No selection folder: the validation selection keeps its best weights in
    # memory. With one (ga/ga-ft/, as before), it restored the best weights it
    # found there, meant for a resumed defence; but this part runs again only
    # under a new key, so what it found was an older study's GA-FT model.
    trainer = DefenceTrainer(study.run_dir / "classifier.keras", study.data, study.recipe,
                             fit=fit, generated=lambda: (made.images, source.astype("int64")),
                             log=study.log)
    model, info = trainer.build("lad", stage="ga-ft")
    save_keras(model, study.folder / "ga-ft.keras")
    return {"crafting": made.summary(), "examples": int(len(source)), "epochs": info["epochs"],
            "training_seconds": info["seconds"],
            "clean_accuracy": accuracy(model, study.data.x_test, study.data.y_test)}


def rates(study: GAStudy) -> dict:
    """The judge's rates for GA, LAD (per eps), JSMA and C&W examples."""
    judge, out = study.judge(), {}
    # GA's examples count only when written under this study's key (another
    # AC-GAN or setting leaves stale .npz files behind).
    for name, label in (("transfer", "GA, crafted on the black-box CNN"),
                        ("whitebox-original", "GA, white box on the original")):
        d = read_keyed_npz(study.folder / f"{name}.npz", study.cache_key)
        if d is not None:
            attacked = d["blackbox"] if "blackbox" in d else d["predictions"]
            out[label] = judge_rates(predict(judge, d["images"]), d["source"], attacked)
    lad = study.run_dir / "evaluation" / "lad-test-set.npz"
    if lad.is_file():
        d = np.load(lad)
        for i, eps in enumerate(d["eps"]):
            n = d["pred_image"][i].size
            source = np.repeat(d["pairs"][:, 0], d["images"].shape[2])
            target = np.repeat(d["pairs"][:, 1], d["images"].shape[2])
            out[f"LAD, eps {float(eps):g}"] = judge_rates(
                predict(judge, d["images"][i].reshape(n, *d["images"].shape[3:])), source,
                d["pred_image"][i].reshape(n), target)
    original = study.model("original")
    idx, target = targeted_subset(study.data.y_test, study.settings.targeted_per_class,
                                  study.data.num_classes, study.settings.seed)
    x, y = study.data.x_test[idx], study.data.y_test[idx]
    for attack, label in (("jsma", "JSMA (targeted)"), ("cw", "C&W-L2 (targeted)")):
        x_adv = targeted_examples(study, attack, x, y, target)
        out[label] = judge_rates(predict(judge, x_adv), y, predict(original, x_adv), target)
    return out


def targeted_examples(study: GAStudy, attack: str, x, y, target) -> np.ndarray:
    """`attack`'s examples against the original, cached in ga/<attack>-examples.npz
    under the key of the original's file, the images, targets and parameters
    (they do not depend on the AC-GAN)."""
    cfg = study.recipe.evaluation
    params = attack_params(cfg, attack)
    key = cache_key({"model": study.key["models"]["original"], "params": params,
                     "y": y.tolist(), "target": target.tolist(), "n": len(x)})
    path = study.folder / f"{attack}-examples.npz"
    saved = read_keyed_npz(path, key)
    if saved is not None:
        return saved["x_adv"]
    x_adv = run_attack(attack, study.model("original"), x, y, target, cfg, study.log,
                       "original", params=params)
    write_npz(path, x_adv=x_adv, key=key)
    return x_adv


def steps_check(study: GAStudy) -> dict:
    """GA against the original at the study's steps and at `check_steps`:
    untargeted, and targeted (each source to the classes after it in turn)."""
    source = study.test_sources(study.settings.check_per_class)
    target = ((source + 1 + np.arange(len(source)) % (study.data.num_classes - 1))
              % study.data.num_classes).astype("int32")
    out = {}
    for steps in sorted({study.settings.steps, study.settings.check_steps}):
        made = study.ga(study.model("original"), source, "steps", steps=steps,
                        label=f"untargeted ({steps} steps)")
        aimed = study.ga(study.model("original"), source, "steps", steps=steps,
                         label=f"targeted ({steps} steps)", target=target)
        reached, kept = aimed.predictions == target, aimed.aux_predictions == source
        out[str(steps)] = {**made.summary(), "targeted": {
            "n": int(len(source)), "target_reached": float(reached.mean()),
            "aux_keeps_source": float(kept.mean()), "valid_success": float((reached & kept).mean()),
            "seconds_per_example": aimed.seconds / max(len(source), 1)}}
    return out


PART_FUNCTIONS = {"samples": samples, "judge": judge_part, "transfer": transfer,
                  "whitebox": whitebox, "ga-ft": ga_ft, "rates": rates, "steps": steps_check}

__all__ = ["GASet", "GAStudy", "PART_FUNCTIONS"]
