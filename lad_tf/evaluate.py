"""Robustness evaluation of a run: `python -m lad_tf.evaluate RUN_DIR`.

Also the `evaluate` stage of `python -m lad_tf.harden`. For the original
model and every defended model of the run (`hardening.methods`):

- clean accuracy on the whole test split;
- white-box accuracy under every attack of `evaluation.attacks`, crafted
  against the model under test: untargeted attacks on `per_class` test images
  of every class, targeted ones (JSMA, C&W) on `targeted_per_class` images of
  every class x every other class as target (Sec. IV-D1), with the rate of
  reaching the target;
- the robust suite (`lad_tf.robust_suite`) on one class-balanced sample of
  `robust_per_class` test images per class: APGD-CE, APGD-T, Square (5000
  queries) and PGD-100 x 5 restarts, the worst case per image as the robust
  accuracy, and three gradient-masking checks; drawn as a clean-vs-robust
  frontier sized by training time;
- transfer ("unknown attack", Table III) accuracy on examples crafted against
  an independent black-box CNN of another architecture, trained here on the
  training split;
- accuracy on LAD examples generated from test images through the original
  model's latent space, at every eps (Fig. 7), and the clean accuracy of the
  models fine-tuned per eps.

It also measures the diversity of LAD, FGSM and JSMA examples made from the
same provider images, and draws Figs. 4, 5 and 7. All attacks read only the
test split (diversity: the provider split); the examples used for hardening
come from the provider split, so no hardening example is a reported image.

Every finished (model, attack) result is cached under `<run>/evaluation/` with
a fingerprint of the model file and the settings, so an interrupted evaluation
continues where it stopped and a retrained model is evaluated afresh.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from lad_tf import robust_suite
from lad_tf.attacks import ATTACKS, craft
from lad_tf.attacks.logits import attack_classes
from lad_tf.batching import batched, predict_labels
from lad_tf.errors import LadError
from lad_tf.formatting import pct
from lad_tf.sampling import balanced_subset, targeted_subset
from lad_tf.traced import traced_call

QUICK = {  # --quick: the same code paths on a few images, for tests and smoke runs
    "per_class": 3, "targeted_per_class": 1, "cw_per_class": 1, "pgd_iterations": 10,
    "blackbox_epochs": 1, "lad_per_class": 2, "diversity_per_class": 2,
    "robust_per_class": 2, "masking_per_class": 1,
    "attack_params": {"cw": {"max_iter": 5, "binary_search_steps": 2},
                      "apgd": {"max_iter": 5}, "square": {"max_iter": 20},
                      "apgd_t": {"max_iter": 5, "n_target_classes": 2},
                      "pgd_restarts": {"nb_iter": 10, "restarts": 2}},
}
FGSM_SWEEP = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)  # diversity: FGSM examples per source


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Top-1 accuracy of a logits model on x float32 [N, H, W, C] in [0, 1]."""
    return float(np.mean(predict(model, x, batch_size) == y))


def predict(model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Predicted labels int [N] of a logits model."""
    if len(x) == 0:
        return np.zeros((0,), "int64")
    return predict_labels(batched(traced_call(model), x, min(batch_size, len(x))))


def attack_accuracy(model, attack, x, y, batch_size: int, progress=None, **kwargs) -> float:
    """Accuracy on adversarial images crafted batch by batch against `model`.

    Args:
        attack: a function (model, x, y=..., **kwargs) -> x_adv.
        progress: optional callable(done, total) called after each batch.
    """
    correct = 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        x_adv = attack(model, xb, y=yb, **kwargs)
        correct += int(np.sum(predict_labels(model(x_adv, training=False)) == yb))
        if progress:
            progress(min(start + batch_size, len(x)), len(x))
    return correct / max(len(x), 1)


def attack_params(cfg, name: str) -> dict:
    """The recipe's parameters for attack `name` (budgets shared across attacks)."""
    shared = {
        "fgsm": {"eps": cfg.fgsm_eps},
        "pgd": {"eps": cfg.pgd_eps, "eps_iter": cfg.pgd_step, "nb_iter": cfg.pgd_iterations,
                "seed": cfg.seed},
        "bim": {"eps": cfg.pgd_eps, "eps_iter": cfg.pgd_step, "nb_iter": cfg.pgd_iterations},
        "mim": {"eps": cfg.pgd_eps, "eps_iter": cfg.pgd_step, "nb_iter": cfg.pgd_iterations},
        "apgd": {"eps": cfg.pgd_eps},
        "square": {"eps": cfg.pgd_eps},
        "apgd_t": {"eps": cfg.pgd_eps},
        "pgd_restarts": {"eps": cfg.pgd_eps, "eps_iter": cfg.pgd_step, "seed": cfg.seed},
    }.get(name, {})
    return {**shared, **cfg.attack_params.get(name, {})}


def attack_title(cfg, name: str) -> str:
    params = {**ATTACKS[name].defaults, **attack_params(cfg, name)}
    if name in ("pgd", "bim", "mim"):
        return f"{name.upper()}-{params['nb_iter']} (eps {params['eps']:g})"
    if name in ("apgd_t", "pgd_restarts"):
        return f"{robust_suite.suite_title(name, params)} (eps {params['eps']:g})"
    if name in ("fgsm", "apgd", "square"):
        label = {"fgsm": "FGSM", "apgd": "APGD-CE", "square": "Square (black box)"}[name]
        return f"{label} (eps {params['eps']:g})"
    return {"jsma": "JSMA (targeted)", "cw": "C&W-L2 (targeted)"}[name]


@dataclasses.dataclass
class AttackSample:
    """The test images an attack runs on: untargeted (target None) or targeted."""

    index: np.ndarray  # into the test split
    target: np.ndarray | None


def sample_for(cfg, name: str, y_test: np.ndarray, num_classes: int) -> AttackSample:
    if ATTACKS[name].targeted:
        per_class = cfg.cw_per_class if (name == "cw" and cfg.cw_per_class) else cfg.targeted_per_class
        idx, target = targeted_subset(y_test, per_class, num_classes, cfg.seed)
        return AttackSample(idx, target)
    return AttackSample(balanced_subset(y_test, cfg.per_class, cfg.seed), None)


def fingerprint(path: Path) -> str:
    """Identifies a model file's content version (size and modification time)."""
    st = Path(path).stat()
    return f"{st.st_size}-{st.st_mtime_ns}"


class ResultCache:
    """One JSON file per model with a result per key, written after every result."""

    def __init__(self, folder: Path, name: str, model_print: str, settings: dict):
        self.path = folder / f"{name}.json"
        self.key = hashlib.sha1(json.dumps([model_print, settings], sort_keys=True,
                                           default=str).encode()).hexdigest()
        self.data = {}
        if self.path.is_file():
            try:
                stored = json.loads(self.path.read_text())
                if stored.get("key") == self.key:
                    self.data = stored["results"]
            except (json.JSONDecodeError, KeyError):
                pass  # unreadable cache: recompute

    def get(self, key, compute):
        if key not in self.data:
            self.data[key] = compute()
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps({"key": self.key, "results": self.data}, indent=1,
                                      default=float))
            tmp.replace(self.path)
        return self.data[key]


def perturbation_sizes(x, x_adv) -> dict:
    diff = (np.asarray(x_adv) - np.asarray(x)).reshape(len(x), -1)
    if len(diff) == 0:
        return {"mean_linf": 0.0, "median_l2": 0.0}
    return {"mean_linf": float(np.abs(diff).max(axis=1).mean()),
            "median_l2": float(np.median(np.sqrt((diff ** 2).sum(axis=1))))}


def run_attack(name: str, model, x, y, target, cfg, log, label: str,
               params: dict | None = None) -> np.ndarray:
    """Crafts `name` examples against `model` with progress output.

    Args:
        params: the attack's parameters; None: `attack_params(cfg, name)`.
    """
    k = attack_classes(model)
    big = ("fgsm", "pgd", "bim", "mim", "pgd_restarts")  # cleverhans: whole batches at once
    batch = cfg.batch_size if name in big else min(cfg.batch_size, 128)
    every = max(1, len(x) // (batch * 4))  # about four progress lines per attack
    counter = {"n": 0}

    def progress(done, total):
        counter["n"] += 1
        if counter["n"] % every == 0 or done == total:
            log(f"  {label} {name}: {done}/{total} images")

    params = attack_params(cfg, name) if params is None else params
    return craft(name, model, x, y=y, target=target, num_classes=k, batch_size=batch,
                 progress=progress if len(x) > batch else None, **params)


def score_examples(model, x_adv, y, target) -> dict:
    pred = predict(model, x_adv)
    out = {"accuracy": float(np.mean(pred == y)), "examples": int(len(y))}
    if target is not None:
        out["target_success"] = float(np.mean(pred == target))
    return out


class RunEvaluation:
    """Evaluates the models of one run directory (see the module docstring).

    Args:
        run_dir: a run of `python -m lad_tf.harden` (classifier.keras, and the
            files of the earlier stages).
        recipe: its resolved `Recipe`.
        data: its `DatasetSplits`.
        quick: evaluate on a few images (QUICK), writing `evaluation-quick.json`.
        summaries: a `RunSummaries` for figures (PNG + TensorBoard), or None.
        methods: the methods to evaluate beside the original; None: all of
            `hardening.methods`.
    """

    def __init__(self, run_dir: Path, recipe, data, quick: bool = False, summaries=None,
                 log=print, methods=None):
        self.run_dir, self.recipe, self.data, self.log = Path(run_dir), recipe, data, log
        self.methods = tuple(recipe.hardening.methods if methods is None else methods)
        cfg = recipe.evaluation
        if quick:
            cfg = dataclasses.replace(cfg, **{k: v for k, v in QUICK.items()
                                              if k != "attack_params"},
                                      attack_params={**QUICK["attack_params"], **cfg.attack_params})
        self.cfg, self.quick, self.summaries = cfg, quick, summaries
        self.folder = self.run_dir / ("evaluation-quick" if quick else "evaluation")
        self.folder.mkdir(exist_ok=True)
        self.num_classes = data.num_classes

    # -- models ------------------------------------------------------------------------
    def model_files(self) -> dict[str, Path]:
        """original, then every method's model that exists, in recipe order
        (only `methods` where given)."""
        files = {"original": self.run_dir / "classifier.keras"}
        for method in (m for m in self.recipe.hardening.methods if m in self.methods):
            path = self.run_dir / "methods" / f"{method}.keras"
            if path.is_file():
                files[method] = path
        if not files["original"].is_file():
            raise LadError(f"{self.run_dir} has no classifier.keras; run `python -m lad_tf.harden "
                           f"--resume --run-dir {self.run_dir}` first")
        return files

    @staticmethod
    def load(path):
        import keras

        import lad_tf.attention_svm  # noqa: F401 (registers AttentionSVM for loading)
        import lad_tf.models  # noqa: F401 (registers the model classes)

        return keras.models.load_model(path)

    def settings(self) -> dict:
        return dataclasses.asdict(self.cfg)

    # -- black-box CNN (Table III) -----------------------------------------------------
    def blackbox(self):
        """The independent CNN the transfer attacks are crafted on (trained once)."""
        import keras

        from lad_tf import models
        from lad_tf.hardening import classification_accuracy, classification_loss

        cfg = self.cfg
        path = self.folder / "blackbox.keras"
        meta_path = self.folder / "blackbox.json"
        want = {"model": cfg.blackbox_model, "epochs": cfg.blackbox_epochs, "seed": cfg.seed}
        if path.is_file() and meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            if meta.get("settings") == want:
                return keras.models.load_model(path), meta
        outputs = 1 if self.num_classes == 2 else self.num_classes
        keras.utils.set_random_seed(cfg.seed + 1)  # not the original's initialisation
        model = models.build_classifier(cfg.blackbox_model, num_classes=outputs,
                                        image_shape=self.data.image_shape)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=classification_loss(outputs),
                      metrics=[classification_accuracy(outputs)])
        self.log(f"evaluate: training the black-box {cfg.blackbox_model} "
                 f"({model.count_params()} parameters) on the training split, "
                 f"{cfg.blackbox_epochs} epoch(s)")
        start = time.perf_counter()
        from lad_tf.monitoring import EpochLogger

        model.fit(self.data.dataset("train", 128, shuffle=True, seed=cfg.seed + 1),
                  epochs=cfg.blackbox_epochs, verbose=0, shuffle=False,  # the dataset shuffles
                  callbacks=[EpochLogger("black-box CNN", cfg.blackbox_epochs)])
        tmp = path.with_name("partial-" + path.name)
        model.save(tmp)
        tmp.replace(path)
        meta = {"settings": want, "model": cfg.blackbox_model,
                "parameters": int(model.count_params()),
                "clean_accuracy": accuracy(model, self.data.x_test, self.data.y_test),
                "seconds": time.perf_counter() - start}
        meta_path.write_text(json.dumps(meta, indent=1))
        return model, meta

    def transfer_examples(self, blackbox, print_: str) -> dict[str, dict]:
        """Examples crafted on the black-box CNN, cached as .npz per attack."""
        out = {}
        for name in self.cfg.transfer_attacks:
            sample = sample_for(self.cfg, name, self.data.y_test, self.num_classes)
            path = self.folder / f"transfer-{name}.npz"
            key = hashlib.sha1(json.dumps([print_, attack_params(self.cfg, name),
                                           sample.index.tolist()]).encode()).hexdigest()
            if path.is_file():
                with np.load(path) as f:
                    if str(f["key"]) == key:
                        out[name] = {"x": f["x"], "sample": sample, "seconds": float(f["seconds"])}
                        continue
            x, y = self.data.x_test[sample.index], self.data.y_test[sample.index]
            start = time.perf_counter()
            x_adv = run_attack(name, blackbox, x, y, sample.target, self.cfg, self.log,
                               "black-box CNN")
            seconds = time.perf_counter() - start
            np.savez_compressed(path, x=x_adv, key=key, seconds=seconds)
            out[name] = {"x": x_adv, "sample": sample, "seconds": seconds}
        return out

    # -- one model ---------------------------------------------------------------------
    def evaluate_model(self, name: str, path: Path, transfer: dict, lad_sets: dict) -> dict:
        cfg, data = self.cfg, self.data
        model = self.load(path)
        cache = ResultCache(self.folder, name, fingerprint(path), self.settings())
        self.log(f"evaluate: {name} model")
        result = {"model_file": str(path.relative_to(self.run_dir)),
                  "test_examples": int(len(data.y_test))}
        result["clean_accuracy"] = cache.get("clean", lambda: accuracy(model, data.x_test,
                                                                       data.y_test))
        self.log(f"  clean accuracy {result['clean_accuracy']:.4f} on {len(data.y_test)} test images")
        details = {}
        attacks = cfg.attacks
        if name in cfg.reduced_methods:
            attacks = [a for a in cfg.attacks if a in ("fgsm", "pgd")]
            self.log(f"  {name} is in evaluation.reduced_methods: attacks {attacks} only")
        for attack in attacks:
            sample = sample_for(cfg, attack, data.y_test, self.num_classes)

            def compute(attack=attack, sample=sample):
                x, y = data.x_test[sample.index], data.y_test[sample.index]
                start = time.perf_counter()
                x_adv = run_attack(attack, model, x, y, sample.target, cfg, self.log, name)
                seconds = time.perf_counter() - start
                return {**score_examples(model, x_adv, y, sample.target),
                        "clean_accuracy": accuracy(model, x, y), "seconds": seconds,
                        **perturbation_sizes(x, x_adv)}

            details[attack] = cache.get(f"white:{attack}", compute)
            row = details[attack]
            target = (f", target reached {row['target_success']:.4f}"
                      if "target_success" in row else "")
            self.log(f"  {attack_title(cfg, attack)}: accuracy {row['accuracy']:.4f} on "
                     f"{row['examples']} examples{target} ({row['seconds']:.0f} s)")
            result[f"{attack}_accuracy"] = row["accuracy"]
            if "target_success" in row:
                result[f"{attack}_target_success"] = row["target_success"]
        result["attack_examples"] = int(len(balanced_subset(data.y_test, cfg.per_class, cfg.seed)))
        for attack, crafted in transfer.items():
            sample = crafted["sample"]
            row = cache.get(f"transfer:{attack}", lambda crafted=crafted, sample=sample:
                            score_examples(model, crafted["x"], data.y_test[sample.index],
                                           sample.target))
            details[f"transfer_{attack}"] = row
            result[f"transfer_{attack}_accuracy"] = row["accuracy"]
            self.log(f"  transfer {attack} from the black-box CNN: accuracy {row['accuracy']:.4f}")
        for eps, (x_lad, y_lad) in lad_sets.items():
            result.setdefault("lad_accuracy", {})[f"{eps:g}"] = cache.get(
                f"lad:{eps:g}", lambda x_lad=x_lad, y_lad=y_lad: accuracy(model, x_lad, y_lad))
        if cfg.robust_per_class:
            result.update(self.robust(name, model, cache))
            details["robust"] = result.pop("robust_details")
        result["details"] = details
        return result

    # -- robust suite: worst case per image, masking checks --------------------------------
    def robust_plan(self) -> robust_suite.SuitePlan:
        """The suite's attacks and params at this evaluation's settings."""
        cfg = self.cfg
        reference = attack_params(cfg, robust_suite.REFERENCE)
        steps = reference.get("nb_iter", ATTACKS["pgd"].defaults["nb_iter"])
        masking = ({**reference, "eps": cfg.masking_eps, "nb_iter": steps,
                    "eps_iter": 2.5 * cfg.masking_eps / steps}  # Madry's step rule
                   if cfg.masking_per_class else None)
        return robust_suite.SuitePlan(
            attacks={a: robust_suite.suite_params(a, attack_params(cfg, a))
                     for a in cfg.robust_attacks if a not in self.robust_skipped()},
            reference=reference, masking=masking)

    def robust_skipped(self) -> dict[str, str]:
        """Suite attacks this dataset cannot run, with the reason."""
        if "apgd_t" in self.cfg.robust_attacks and self.num_classes < 3:
            return {"apgd_t": f"DLR needs >= 3 classes; this task has {self.num_classes}"}
        return {}

    def robust_samples(self) -> tuple[np.ndarray, np.ndarray]:
        """Test-split indices of the robust sample and of masking check (a)'s
        images (the first masking_per_class per class of the same draw)."""
        y, cfg = self.data.y_test, self.cfg
        return (balanced_subset(y, cfg.robust_per_class, cfg.seed),
                balanced_subset(y, cfg.masking_per_class, cfg.seed))

    def robust(self, name: str, model, cache: ResultCache) -> dict:
        """The robust suite for one model (lad_tf.robust_suite), cached per attack."""
        cfg, x_test, y_test = self.cfg, self.data.x_test, self.data.y_test
        idx, mask_idx = self.robust_samples()
        per_image = robust_suite.PerImageCache(self.folder, name, cache.key)

        def attack(attack_name, x, y, params):
            return run_attack(attack_name, model, x, y, None, cfg, self.log, name, params)

        return robust_suite.run_suite(
            attack, lambda x: predict(model, x), self.robust_plan(), (x_test[idx], y_test[idx]),
            (x_test[mask_idx], y_test[mask_idx]), cache, per_image, self.log)

    # -- LAD examples from test images (Fig. 7) ------------------------------------------
    def lad_pieces(self):
        """(classifier, generator, svm) of the run, or None when a file is missing."""
        names = ("classifier.keras", "generator.keras", "svm.keras")
        if not all((self.run_dir / n).is_file() for n in names):
            return None
        return tuple(self.load(self.run_dir / n) for n in names)

    def curve_eps(self) -> list[float]:
        hard = self.recipe.hardening
        return [float(e) for e in (hard.sweep_eps or self.recipe.generation.eps_sweep)]

    def lad_test_sets(self, pieces) -> dict[float, tuple]:
        """LAD examples from `lad_per_class` test images per class and target, per eps.

        Crafted through the original model's latent space; labelled with the
        source class. Evaluation only: none of them is used for training.
        """
        from lad_tf.attention_svm import svm_for_pairs
        from lad_tf.boundary import GeneratedSet, generate
        from lad_tf.targets import run_targets

        if pieces is None or self.cfg.lad_per_class == 0:
            return {}
        path = self.folder / "lad-test-set.npz"
        eps = self.curve_eps()
        targets = run_targets(self.run_dir, self.num_classes)  # the run's svm.targets
        pairs = targets.pairs
        if path.is_file():
            found = GeneratedSet.load(path)
            if (list(map(float, found.eps)) == eps and found.images.shape[2] == self.cfg.lad_per_class
                    and found.pairs.tolist() == [list(p) for p in pairs]):
                return {e: (found.images[i].reshape(-1, *found.images.shape[3:]),
                            found.source[i].reshape(-1)) for i, e in enumerate(eps)}
        classifier, generator, svm = pieces
        self.log(f"evaluate: LAD examples from {self.cfg.lad_per_class} test images per class and "
                 f"target at eps {eps}")
        made = generate(classifier, generator, svm_for_pairs(svm, targets.svm_pairs, pairs),
                        self.data.x_test, self.data.y_test, pairs, self.cfg.lad_per_class, eps,
                        self.recipe.generation.eps_unit, seed=self.cfg.seed + 2)
        made.save(path)
        return {e: (made.images[i].reshape(-1, *made.images.shape[3:]), made.source[i].reshape(-1))
                for i, e in enumerate(eps)}

    def sweep_models(self, lad_sets, transfer) -> dict:
        """Clean and LAD-example accuracy of the models fine-tuned at one eps each."""
        out = {}
        for eps in self.recipe.hardening.sweep_eps:
            path = self.run_dir / "methods" / f"lad-eps-{eps:g}.keras"
            if not path.is_file():
                continue
            model = self.load(path)
            cache = ResultCache(self.folder, f"lad-eps-{eps:g}", fingerprint(path), self.settings())
            row = {"clean_accuracy": cache.get("clean", lambda: accuracy(
                model, self.data.x_test, self.data.y_test))}
            if eps in lad_sets:
                row["lad_accuracy"] = cache.get(f"lad:{eps:g}", lambda: accuracy(model, *lad_sets[eps]))
            for attack, crafted in transfer.items():  # Table III's FT-eps column
                sample = crafted["sample"]
                row[f"transfer_{attack}_accuracy"] = cache.get(
                    f"transfer:{attack}", lambda crafted=crafted, sample=sample: score_examples(
                        model, crafted["x"], self.data.y_test[sample.index], sample.target))["accuracy"]
            out[f"{eps:g}"] = row
            self.log(f"  FT-{eps:g} (one eps): clean {row['clean_accuracy']:.4f}"
                     + (f", LAD examples {row['lad_accuracy']:.4f}" if "lad_accuracy" in row else ""))
        return out

    # -- diversity and Fig. 4 -----------------------------------------------------------
    def diversity(self, pieces) -> dict:
        """How varied each method's examples from the same source image are."""
        from lad_tf.attention_svm import svm_for_pairs
        from lad_tf.boundary import generate
        from lad_tf.targets import run_targets

        if pieces is None or self.cfg.diversity_per_class == 0:
            return {}
        classifier, generator, svm = pieces
        cached = self.folder / "diversity.json"
        targets = run_targets(self.run_dir, self.num_classes)  # the run's svm.targets
        key = hashlib.sha1(json.dumps([fingerprint(self.run_dir / "classifier.keras"),
                                       self.settings(), self.curve_eps()]
                                      + ([targets.to_dict()] if targets.mode != "all" else [])
                                      ).encode()).hexdigest()
        if cached.is_file():
            stored = json.loads(cached.read_text())
            if stored.get("key") == key:
                return stored["result"]
        n = self.cfg.diversity_per_class
        idx = balanced_subset(self.data.y_provider, n, self.cfg.seed + 3)
        x, y = self.data.x_provider[idx], self.data.y_provider[idx]
        pairs = targets.pairs
        eps = [e for e in self.curve_eps() if e > 0]
        self.log(f"evaluate: diversity of LAD, FGSM and JSMA examples from {len(idx)} provider images")
        lad = generate(classifier, generator, svm_for_pairs(svm, targets.svm_pairs, pairs), x, y, pairs, n,
                       eps, self.recipe.generation.eps_unit, seed=self.cfg.seed)
        # per source image s (position in x): its examples over targets and eps
        lad_images, lad_paths, lad_labels = {}, [], {}
        for p in range(len(pairs)):
            for j, src in enumerate(lad.source_index[p]):
                lad_images.setdefault(int(src), []).extend(lad.images[:, p, j])
                lad_labels.setdefault(int(src), []).extend(lad.pred_image[:, p, j].tolist())
                lad_paths.append(tuple(lad.pred_image[:, p, j].tolist()))
        lad_groups = [np.stack(lad_images[i]) for i in range(len(x))]
        lad_label_groups = [lad_labels[i] for i in range(len(x))]
        fgsm_imgs = [craft("fgsm", classifier, x, y=y, num_classes=attack_classes(classifier), eps=e)
                     for e in FGSM_SWEEP]
        fgsm_pred = [predict(classifier, xa) for xa in fgsm_imgs]
        fgsm_groups = [np.stack([xa[i] for xa in fgsm_imgs]) for i in range(len(x))]
        fgsm_label_groups = [[int(p[i]) for p in fgsm_pred] for i in range(len(x))]
        fgsm_paths = [tuple(lbl) for lbl in fgsm_label_groups]
        src_t, tgt = targeted_subset(y, n, attack_classes(classifier), self.cfg.seed)
        x_jsma = craft("jsma", classifier, x[src_t], target=tgt, num_classes=attack_classes(classifier),
                       **attack_params(self.cfg, "jsma"))
        jsma_pred = predict(classifier, x_jsma)
        jsma_groups = [x_jsma[src_t == i] for i in range(len(x))]
        jsma_label_groups = [jsma_pred[src_t == i].tolist() for i in range(len(x))]
        result = {
            "sources": int(len(x)), "eps": eps, "fgsm_eps": list(FGSM_SWEEP),
            "LAD": diversity_stats(lad_groups, lad_label_groups, x, lad_paths),
            "FGSM": diversity_stats(fgsm_groups, fgsm_label_groups, x, fgsm_paths),
            "JSMA": diversity_stats(jsma_groups, jsma_label_groups, x, None),
        }
        cached.write_text(json.dumps({"key": key, "result": result}, indent=1))
        if self.summaries is not None:
            self._examples_figure(x, y, lad, fgsm_imgs[-1], x_jsma, src_t, classifier)
        return result

    def _examples_figure(self, x, y, lad, x_fgsm, x_jsma, src_t, classifier):
        from lad_tf import figures

        rows = min(8, len(x))
        pick = np.linspace(0, len(x) - 1, rows).astype(int)
        first_jsma = np.array([np.flatnonzero(src_t == i)[0] for i in pick])
        # LAD: the example beyond the boundary (largest eps <= 2) toward the first target
        e = max([i for i, v in enumerate(lad.eps) if v <= 2.0] or [0])
        lad_x = []
        for i in pick:
            p = int(np.flatnonzero(lad.pairs[:, 0] == y[i])[0])
            j = int(np.flatnonzero(lad.source_index[p] == i)[0])
            lad_x.append(lad.images[e, p, j])
        lad_x = np.stack(lad_x)
        columns = {"original": x[pick], "FGSM": x_fgsm[pick], "JSMA": x_jsma[first_jsma],
                   f"LAD (eps {float(lad.eps[e]):g})": lad_x}
        labels = {k: predict(classifier, v) for k, v in columns.items()}
        self.summaries.image("fig4_examples", figures.examples_figure(columns, labels, n=rows),
                             description="FGSM / JSMA / LAD examples of the same provider images; "
                                         "titles: the original model's prediction")

    # -- everything --------------------------------------------------------------------
    def run(self) -> dict:
        cfg, start = self.cfg, time.perf_counter()
        files = self.model_files()
        result = {"quick": self.quick, "settings": self.settings(),
                  "samples": {"untargeted": int(len(balanced_subset(self.data.y_test, cfg.per_class,
                                                                      cfg.seed))),
                              **{a: int(len(sample_for(cfg, a, self.data.y_test,
                                                       self.num_classes).index))
                                 for a in cfg.attacks if ATTACKS[a].targeted}},
                  "attack_titles": {a: attack_title(cfg, a) for a in set(cfg.attacks)
                                    | set(cfg.transfer_attacks)}}
        if cfg.robust_per_class:
            result["robust"] = self.robust_summary()
        transfer = {}
        if cfg.transfer_attacks and cfg.blackbox_epochs > 0:
            blackbox, meta = self.blackbox()
            self.log(f"  black-box CNN clean accuracy {meta['clean_accuracy']:.4f}")
            print_ = fingerprint(self.folder / "blackbox.keras")
            transfer = self.transfer_examples(blackbox, print_)
            bb = {"model": meta["model"], "parameters": meta["parameters"],
                  "clean_accuracy": meta["clean_accuracy"], "training_seconds": meta["seconds"]}
            for name, crafted in transfer.items():
                sample = crafted["sample"]
                row = score_examples(blackbox, crafted["x"], self.data.y_test[sample.index],
                                     sample.target)
                bb[f"{name}_accuracy"] = row["accuracy"]
                bb[f"{name}_seconds"] = crafted["seconds"]
                if "target_success" in row:
                    bb[f"{name}_target_success"] = row["target_success"]
            result["blackbox"] = bb
        pieces = self.lad_pieces()
        lad_sets = self.lad_test_sets(pieces)
        result["models"] = {name: self.evaluate_model(name, path, transfer, lad_sets)
                            for name, path in files.items()}
        result["sweep_models"] = self.sweep_models(lad_sets, transfer)
        result["diversity"] = self.diversity(pieces)
        if self.summaries is not None and lad_sets:
            self._accuracy_figure(result)
        if self.summaries is not None:
            self._frontier_figure(result)
        result["seconds"] = time.perf_counter() - start
        # The exported model's numbers under the names earlier reports used.
        result["original"] = result["models"]["original"]
        first = self.recipe.hardening.methods[0]
        if first in result["models"]:
            result["hardened"] = result["models"][first]
        path = self.run_dir / ("evaluation-quick.json" if self.quick else "evaluation.json")
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=2, default=float))
        tmp.replace(path)
        return result

    def robust_summary(self) -> dict:
        """What the robust suite ran, for evaluation.json and the report."""
        plan, (idx, mask_idx) = self.robust_plan(), self.robust_samples()
        runs = {robust_suite.REFERENCE: plan.reference, **plan.attacks}
        return {"examples": int(len(idx)), "per_class": self.cfg.robust_per_class,
                "eps": self.cfg.pgd_eps, "attacks": list(plan.attacks),
                "titles": {a: robust_suite.suite_title(a, p) for a, p in runs.items()},
                "params": runs, "skipped": self.robust_skipped(),
                "masking_eps": self.cfg.masking_eps,
                "masking_examples": int(len(mask_idx)) if plan.masking else 0}

    def _frontier_figure(self, result):
        from lad_tf import figures

        points = robust_suite.frontier_points(
            result["models"], training_seconds(method_seconds(self.run_dir)), method_title)
        if points:
            self.summaries.image(
                "frontier", figures.frontier_figure(points),
                description="clean test accuracy against robust (worst-case) accuracy on the "
                            "robust sample; marker area: training seconds (the original: 0)")

    def _accuracy_figure(self, result):
        from lad_tf import figures

        eps = self.curve_eps()
        models = result["models"]
        curves = {}
        if result["sweep_models"]:
            sweep = result["sweep_models"]
            have = [e for e in eps if f"{e:g}" in sweep]
            if have == eps:
                curves["clean test: FT-eps, one model per eps (Large Adv.)"] = [
                    sweep[f"{e:g}"]["clean_accuracy"] for e in eps]
                curves["LAD test examples: FT-eps (Large Adv.)"] = [sweep[f"{e:g}"].get("lad_accuracy", np.nan)
                                                       for e in eps]
        for name, label in (("original", "original"), ("lad", "LAD, mixed eps (Small Adv.)")):
            if name in models and "lad_accuracy" in models[name]:
                curves[f"clean test: {label}"] = [models[name]["clean_accuracy"]] * len(eps)
                curves[f"LAD test examples: {label}"] = [models[name]["lad_accuracy"][f"{e:g}"]
                                                         for e in eps]
        if curves:
            self.summaries.image(
                "fig7_accuracy_vs_eps",
                figures.accuracy_curves(eps, curves, "Accuracy against LAD eps "
                                        f"({self.recipe.generation.eps_unit} units)"),
                description="clean test accuracy and accuracy on LAD examples made from test "
                            "images, for models fine-tuned at one eps and for the original")


def diversity_stats(groups, label_groups, sources, paths) -> dict:
    """Per source image: mean pairwise L2 between its examples, their mean L2 to
    the source and the number of distinct predicted labels; over the set: the
    number of distinct predicted-label paths across eps (None: no eps path)."""
    pairwise, to_source, labels = [], [], []
    for g, lbl, x in zip(groups, label_groups, sources):
        flat = g.reshape(len(g), -1).astype("float64")
        if len(flat) > 1:
            sq = (flat ** 2).sum(1)
            d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * flat @ flat.T, 0)
            pairwise.append(np.sqrt(d2)[np.triu_indices(len(flat), 1)].mean())
        to_source.append(np.sqrt(((flat - x.reshape(1, -1)) ** 2).sum(1)).mean())
        labels.append(len(set(lbl)))
    out = {"examples_per_source": float(np.mean([len(g) for g in groups])),
           "mean_pairwise_l2": float(np.mean(pairwise)) if pairwise else 0.0,
           "mean_l2_to_source": float(np.mean(to_source)),
           "distinct_labels_per_source": float(np.mean(labels))}
    if paths is not None:
        out["distinct_label_paths"] = int(len(set(paths)))
        out["label_paths"] = int(len(paths))
    return out


# -- report -------------------------------------------------------------------------------


def method_title(name: str) -> str:
    """A model's column title: the method's title, else its name ("original")."""
    from lad_tf.defences import title  # the defences import TensorFlow models: loaded late

    return title(name)


def training_seconds(seconds: dict) -> dict:
    """Per method, hardening seconds plus LAD's set-up stages for the LAD methods."""
    setup = seconds.get(LAD_SETUP, 0.0)
    return {m: v + (setup if m == "lad" or m.startswith("lad+") else 0.0)
            for m, v in seconds.items() if m != LAD_SETUP}


def render_tables(result: dict, method_seconds: dict | None = None, dataset: str = "") -> str:
    """Markdown tables of an evaluation result: methods x attacks (with the
    robust suite's worst case and masking checks), transfer, diversity, and
    for MNIST the paper's Tables II-IV beside this run's."""
    models = result["models"]
    titles = result["attack_titles"]
    s = result["settings"]
    names = list(models)
    head = [method_title(n) for n in names]
    targeted = [(a, n) for a, n in result["samples"].items() if a != "untargeted"]
    lines = [
        "### White-box and transfer accuracy, every method",
        "",
        f"Untargeted attacks: {result['samples']['untargeted']} test images "
        f"({s['per_class']} per class). "
        + (("Targeted attacks: " + ", ".join(f"{a} {n} examples" for a, n in targeted)
            + " (images x every other class as target). ") if targeted else "")
        + "Clean accuracy: the whole test split.",
        "",
        "| | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(names),
        "| clean | " + " | ".join(pct(models[n]["clean_accuracy"]) for n in names) + " |",
    ]
    def cell(n, key):  # methods in evaluation.reduced_methods skip most attacks
        return pct(models[n][key]) if key in models[n] else "not run"

    for a in s["attacks"]:
        lines.append(f"| {titles[a]} | " + " | ".join(cell(n, f"{a}_accuracy") for n in names)
                     + " |")
        if ATTACKS[a].targeted:
            lines.append(f"| {a} target reached | " + " | ".join(
                cell(n, f"{a}_target_success") for n in names) + " |")
    for a in s["transfer_attacks"]:
        if f"transfer_{a}_accuracy" in models["original"]:
            lines.append(f"| transfer {titles[a]} from black-box CNN | " + " | ".join(
                pct(models[n].get(f"transfer_{a}_accuracy")) for n in names) + " |")
    lines += robust_suite.table_rows(result, names)
    if method_seconds:
        lines.append("| hardening wall time | " + " | ".join(
            "-" if n == "original" else (f"{method_seconds[n]:.0f} s" if n in method_seconds
                                         else "n/a") for n in names) + " |")
    lad_eps = sorted({e for n in names for e in models[n].get("lad_accuracy", {})}, key=float)
    for e in lad_eps:
        lines.append(f"| LAD examples from test images, eps {e} | " + " | ".join(
            pct(models[n].get("lad_accuracy", {}).get(e)) for n in names) + " |")
    lines += robust_suite.notes(result, names, method_title)
    lines += ["", "GA (Song et al. 2018), the paper's latent-space baseline attack, is not built "
                  "in LAD-TF (it needs an AC-GAN and the paper's latent search); no number is "
                  "reported for it."]
    setup = (method_seconds or {}).get(LAD_SETUP)
    if setup:
        lines += ["", f"Hardening wall time counts crafting and fine-tuning. LAD and LAD+PGD also "
                      f"need the generator, the SVMs and the generation stage: {setup:.0f} s more, "
                      "once per run."]
    bb = result.get("blackbox")
    if bb:
        lines += ["", f"Black-box CNN (`{bb['model']}`, {bb['parameters']} parameters, trained on "
                      f"the training split): clean accuracy {pct(bb['clean_accuracy'])}; on its own "
                      "examples: " + ", ".join(f"{a} {pct(bb[f'{a}_accuracy'])}"
                                               for a in s["transfer_attacks"]
                                               if f"{a}_accuracy" in bb) + "."]
    if result.get("sweep_models"):
        lines += ["", "### Fine-tuned at one eps (Fig. 7)", "", "| eps | clean | LAD examples |",
                  "|---|---|---|"]
        for e, row in result["sweep_models"].items():
            lines.append(f"| {e} | {pct(row['clean_accuracy'])} | {pct(row.get('lad_accuracy'))} |")
    div = result.get("diversity")
    if div:
        lines += ["", f"### Diversity of generated examples ({div['sources']} provider images)", "",
                  "| method | examples per image | mean pairwise L2 | mean L2 to the image | "
                  "distinct predicted labels per image | distinct label paths |",
                  "|---|---|---|---|---|---|"]
        for m in ("LAD", "FGSM", "JSMA"):
            d = div[m]
            paths = (f"{d['distinct_label_paths']} of {d['label_paths']}"
                     if "distinct_label_paths" in d else "n/a")
            lines.append(f"| {m} | {d['examples_per_source']:.0f} | {d['mean_pairwise_l2']:.2f} | "
                         f"{d['mean_l2_to_source']:.2f} | {d['distinct_labels_per_source']:.2f} | "
                         f"{paths} |")
        lines += ["", f"LAD: every target at eps {div['eps']}; FGSM: eps {div['fgsm_eps']}; "
                      "JSMA: every other class as target. A label path is the sequence of "
                      "predicted labels along eps for one image (and target)."]
    text = "\n".join(lines) + "\n"
    if dataset == "mnist" and "original" in models:
        from lad_tf.paper import mnist_tables

        text += "\n" + mnist_tables(result)
    return text


# -- command line ---------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m lad_tf.evaluate",
        description="Robustness report of a LAD run: clean, white-box (cleverhans FGSM / PGD / "
                    "BIM / MIM, ART JSMA / C&W / APGD / Square), the robust suite (APGD-CE, "
                    "APGD-T, Square, PGD-100 x 5 restarts; worst case per image; masking "
                    "checks), transfer from a black-box CNN, LAD examples, diversity. Writes "
                    "RUN_DIR/evaluation.json and RUN_DIR/robustness.md.")
    parser.add_argument("run_dir", help="a run directory of `python -m lad_tf.harden`")
    parser.add_argument("--quick", action="store_true",
                        help="a few images per attack (evaluation-quick.json, robustness-quick.md)")
    parser.add_argument("--data-dir", default=None,
                        help="dataset folder (default: $LAD_DATA_DIR, then tfds / Keras caches)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="evaluation.KEY=VALUE",
                        help="override an evaluation setting, e.g. --set evaluation.cw_per_class=5")
    parser.add_argument("--method", default=None, metavar="NAME[,NAME...]",
                        help="evaluate the original and only these of the run's methods "
                             "(default: every trained method); results of the others stay "
                             "cached but out of this report")
    return parser.parse_args(argv)


def evaluate_run_dir(run_dir, quick=False, data_dir=None, overrides=(), methods=None) -> dict:
    from lad_tf.config import apply_overrides, recipe_from_dict
    from lad_tf.data import load_dataset
    from lad_tf.data.own_data import load_run_data
    from lad_tf.monitoring import RunSummaries, log

    run_dir = Path(run_dir)
    saved = run_dir / "recipe.json"
    if not saved.is_file():
        raise LadError(f"{run_dir} is not a run directory (no recipe.json); pass the folder that "
                       "`python -m lad_tf.harden` wrote")
    bad = [o for o in overrides if not o.startswith("evaluation.")]
    if bad:
        raise LadError(f"--set may only change evaluation settings here. Received: {bad}")
    recipe = recipe_from_dict(apply_overrides(json.loads(saved.read_text()), list(overrides)))
    if methods is not None:
        methods = [m.strip() for m in methods.split(",") if m.strip()]
        unknown = [m for m in methods if m not in recipe.hardening.methods]
        if unknown or not methods:
            raise LadError(f"--method names {unknown or 'nothing'}, but this run trains "
                           f"{list(recipe.hardening.methods)}; pass some of those, comma-separated")
    d = recipe.data
    if (run_dir / "data.json").is_file():  # a run of your own data (--data): the same data
        data = load_run_data(run_dir, d, log=log)
    else:
        data = load_dataset(d.dataset, data_dir=data_dir, provider_fraction=d.provider_fraction,
                            seed=d.seed, use_tfds=d.use_tfds, image_size=d.image_size,
                            channels=d.channels, max_images=d.max_images)
    evaluation = RunEvaluation(run_dir, recipe, data, quick=quick, summaries=RunSummaries(run_dir),
                               log=log, methods=methods)
    result = evaluation.run()
    seconds = method_seconds(run_dir)
    name = "robustness-quick.md" if quick else "robustness.md"
    (run_dir / name).write_text(f"# Robustness of {run_dir.name}\n\n"
                                + render_tables(result, seconds, recipe.data.dataset))
    log(f"evaluation: {run_dir / name} ({result['seconds']:.0f} s)")
    return result


LAD_SETUP = "lad-setup"  # key of method_seconds: generator + SVMs + generation


def method_seconds(run_dir: Path) -> dict:
    """Hardening wall time per method, and LAD's set-up stages, from the run's
    metrics; a method trained in a harden stage that has not finished yet
    (no metrics/harden.json entry) is read from its own methods/<name>.json."""
    metrics = {}
    for stage in ("generator", "svm", "generate", "harden"):
        path = Path(run_dir) / "metrics" / f"{stage}.json"
        if path.is_file():
            metrics[stage] = json.loads(path.read_text())
    methods = metrics.setdefault("harden", {}).setdefault("methods", {})
    for path in sorted((Path(run_dir) / "methods").glob("*.json")):
        if path.stem not in methods:
            try:
                methods[path.stem] = json.loads(path.read_text())
            except json.JSONDecodeError:
                continue  # a file being written: its time is missing from this report
    return seconds_from_metrics(metrics)


def seconds_from_metrics(metrics: dict) -> dict:
    out = {m: info["seconds"] for m, info in metrics.get("harden", {}).get("methods", {}).items()
           if "seconds" in info}
    setup = [metrics[s]["seconds"] for s in ("generator", "svm", "generate")
             if isinstance(metrics.get(s, {}).get("seconds"), (int, float))]
    if setup and any(m in out for m in ("lad", "lad+pgd")):
        out[LAD_SETUP] = float(sum(setup))
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        evaluate_run_dir(args.run_dir, args.quick, args.data_dir, args.overrides, args.method)
        return 0
    except LadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted; finished results are cached: run the same command again to "
              "continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
