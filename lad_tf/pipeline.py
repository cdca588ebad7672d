"""The LAD pipeline behind `python -m lad_tf.harden`, one method per stage."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import lad_tf
from lad_tf import figures, models
from lad_tf.attention_svm import (AttentionSVM, fit_attention_svms, pair_datasets,
                                  svm_accuracy, svm_for_pairs)
from lad_tf.batching import batched
from lad_tf.boundary import GeneratedSet, generate
from lad_tf.config import Recipe
from lad_tf.data import load_recipe_data
from lad_tf.data.own_data import check_same_source, load_own_data
from lad_tf.distribute import fit_multi_worker, is_chief, make_strategy
from lad_tf.errors import LadError
from lad_tf.evaluate import RunEvaluation, accuracy
from lad_tf.export import export_model
from lad_tf.defences import title as defence_title
from lad_tf.defences.trainer import DefenceTrainer
from lad_tf.hardening import classification_accuracy, classification_loss
from lad_tf.precision import dtype_policy, native_bfloat16, resolve_precision
from lad_tf.monitoring import EpochLogger, RunSummaries, image_grid, log
from lad_tf.own_model import check_fits_data
from lad_tf.report import write_report
from lad_tf.targets import TargetChoice, choose_targets, resolve_mode, run_targets
from lad_tf.names import STAGES
from lad_tf.traced import traced_call


def _write_json(path: Path, data):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float))
    tmp.replace(path)


def _save_keras(model, path: Path):
    tmp = path.with_name("partial-" + path.name)  # Keras needs the .keras suffix
    model.save(tmp)
    tmp.replace(path)


def adam_for(cfg, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Adam with the recipe's learning rate, constant or cosine-decayed to 0."""
    rate = cfg.learning_rate
    if cfg.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, max(1, cfg.epochs * steps_per_epoch))
    return keras.optimizers.Adam(rate)


def card_evaluation(result: dict | None) -> dict | None:
    """The evaluation numbers a model card carries: per model, without details."""
    if not result:
        return result
    keep = {k: result[k] for k in ("samples", "attack_titles") if k in result}
    for name in ("original", "hardened"):
        if name in result:
            keep[name] = {k: v for k, v in result[name].items() if k != "details"}
    return keep


def bought_lines(metrics: dict, exported: str, eps: float,
                 lad_eps: float | None = None) -> list[str]:
    """The run's last lines: what hardening bought, at a glance.

    Args:
        metrics: the run's stage metrics (`evaluate` with `original` and
            `hardened` rows; `export` with the SavedModel's path).
        exported: the exported method's name.
        eps: the evaluation's L-inf budget.
        lad_eps: the LAD-example eps to show (LAD's largest training eps);
            None, or one not evaluated: the largest evaluated.

    Returns: clean and worst-case robust accuracy (PGD-40 where the robust
        suite is off) of the original and the exported model, with their
        accuracy on LAD's own examples (at `lad_eps`) where there are some,
        and where the SavedModel is; [] when the run has no evaluation.
    """
    result = metrics.get("evaluate") or {}
    if "original" not in result or "hardened" not in result:
        return []

    def row(label, r):
        if "robust_accuracy" in r:
            robust = (f"worst case {100 * r['robust_accuracy']:6.2f}% over the attack suite "
                      f"({r['robust_examples']} images)")
        else:
            robust = f"PGD-40 {100 * r.get('pgd_accuracy', float('nan')):6.2f}%"
        lad = r.get("lad_accuracy") or {}
        if lad:  # LAD's own kind of example, beside the L-inf attacks
            key = f"{lad_eps:g}" if lad_eps is not None else None
            key = key if key in lad else max(lad, key=float)
            robust += f"   LAD examples (eps {key}) {100 * lad[key]:6.2f}%"
        return f"  {label:28s} clean {100 * r['clean_accuracy']:6.2f}%   {robust}"

    lines = [f"what hardening bought (test split, eps {eps:g}):",
             row("original", result["original"]), row(f"exported: {exported}", result["hardened"])]
    path = (metrics.get("export") or {}).get("path")
    if path:
        lines.append(f"  serving: {path}  (tensorflow_model_server --model_base_path="
                     f"{Path(path).parent.resolve()})")
    return lines


def validation_summary(methods: dict) -> dict:
    """Per method with a validation selection: its best epoch's validation
    clean and robust accuracy, training seconds and any collapse."""
    out = {}
    for name, info in methods.items():
        sel = info.get("selection")
        if sel and sel.get("best"):
            out[name] = {"best_epoch": sel["best_epoch"], "clean": sel["best"]["val_clean_accuracy"],
                         "robust": sel["best"]["val_robust_accuracy"], "pgd_steps": sel["pgd_steps"],
                         "seconds": info["seconds"], "collapsed_at_epoch": sel["collapsed_at_epoch"]}
    return out


class Pipeline:
    """Runs the stages of one LAD run in `run_dir`.

    Args:
        run_dir: the run directory (created if missing).
        recipe: the resolved `Recipe`.
        data_dir: dataset folder (else $LAD_DATA_DIR and the caches).
        export_base: TF Serving base folder (else the recipe's).
        resume: reuse the artifacts of finished stages.
        strategy: "default", "mirrored" or "multi-worker" (see lad_tf.distribute).
        model: the provider's own classifier (a `LatentClassifier`, e.g. the
            `CutClassifier` of `lad_tf.own_model.cut_model`), used as the
            original model instead of training the recipe's classifier.
        model_info: what `cut_model` reports about it (recorded in the run).
        data: your own data, an image folder or an .npz (lad_tf.data.own_data),
            used instead of the recipe's dataset; recorded in data.json. On
            resume, None means the run's recorded data.
    """

    ARTIFACTS = {
        "classifier": "classifier.keras",
        "generator": "generator.keras",
        "svm": "svm.keras",
        "generate": "generated.npz",
        "harden": "hardened.keras",
        "evaluate": "evaluation.json",
        "export": "export.json",
    }

    def __init__(self, run_dir: Path, recipe: Recipe, data_dir=None, export_base=None,
                 resume: bool = False, strategy: str = "default", model=None,
                 model_info: dict | None = None, data=None):
        self.strategy = make_strategy(strategy)
        self.multi_worker = strategy == "multi-worker"
        self.chief = is_chief(self.strategy)
        run_dir = Path(run_dir)
        if not self.chief:  # other workers train in step but keep their files apart
            run_dir = run_dir / f"worker-{self.strategy.cluster_resolver.task_id}"
        self.run_dir = run_dir
        self.recipe = recipe
        self.resume = resume
        self.export_base = export_base or recipe.export.base
        self.data, self.data_record = self._load_data(data, data_dir, model)
        self.provided, self.provided_info = model, dict(model_info or {})
        # Fail before any training (and before the run directory exists) when
        # the models cannot take these images.
        if model is not None:
            check_fits_data(model, self.data.num_classes, self.data.image_shape, self.data.name)
        resolve_mode(recipe.svm, self.data.num_classes)  # svm.k against the classes, now
        self.targets: TargetChoice | None = None  # chosen in stage_svm
        self.generator_choice = self._choose_generator(
            model.latent_dim if model is not None else self._new_classifier().latent_dim)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "metrics").mkdir(exist_ok=True)
        _write_json(self.run_dir / "recipe.json", recipe.to_dict())
        if self.data_record is not None:
            _write_json(self.run_dir / "data.json", self.data_record)
        self.summaries = RunSummaries(self.run_dir)
        self.metrics: dict[str, dict] = {}
        keras.utils.set_random_seed(recipe.data.seed)

    def _load_data(self, data, data_dir, model):
        """(DatasetSplits, record of your data or None): your data, else the recipe's.

        A resumed run keeps its data: without `data` it reads the recorded
        source again, and any other data (or a switch between your data and
        the recipe's) is refused, before anything is written."""
        record_path = self.run_dir / "data.json"
        recorded = (json.loads(record_path.read_text())
                    if self.resume and record_path.is_file() else None)
        started = self.resume and (self.run_dir / "metrics").is_dir()
        if data is None and recorded:
            data = recorded["path"]
            log(f"data: resuming with the run's data {data}")
        elif data is not None and started and recorded is None:
            raise LadError(f"{self.run_dir} was made from the recipe's dataset "
                           f"{self.recipe.data.dataset!r}; resume it without --data, or start a "
                           "new run with --run-dir NEW_DIR")
        if data is None:
            return load_recipe_data(self.recipe.data, data_dir), None
        splits, record = load_own_data(data, self.recipe.data,
                                       None if model is None else model.image_shape, log=log)
        if recorded:
            check_same_source(recorded, record, self.run_dir)
        return splits, record

    # -- bookkeeping -----------------------------------------------------------------
    def artifact(self, stage: str) -> Path:
        return self.run_dir / self.ARTIFACTS[stage]

    def _fit(self, stage: str, model, data, epochs: int, validation_data=None,
             callbacks=()) -> dict:
        """model.fit with TensorBoard, progress lines and a per-epoch backup.

        The backup (`<run>/backup/<stage>/`) holds the weights and optimizer
        state after the last finished epoch; a killed run resumed with
        --resume continues the stage from there. It is deleted when the stage
        finishes. Under multi-worker, Keras's fit cannot run, so the same
        train_step runs through `fit_multi_worker`.
        """
        if self.multi_worker:
            return fit_multi_worker(model, data, epochs, self.strategy,
                                    log=lambda line: log(f"{stage} {line}"))
        callbacks = [  # the backup first: a logged epoch is a saved epoch
            keras.callbacks.BackupAndRestore(str(self.run_dir / "backup" / stage)),
            *callbacks,  # e.g. RobustSelection: its validation numbers reach the logs below
            keras.callbacks.TensorBoard(log_dir=str(self.run_dir / "tensorboard" / stage)),
            EpochLogger(stage, epochs),
        ]
        history = model.fit(data, validation_data=validation_data, epochs=epochs, verbose=0,
                            shuffle=False, callbacks=callbacks)
        return history.history

    def run(self, stop_after: str | None = None):
        start = time.perf_counter()
        log(f"run directory {self.run_dir}; data {self.data.source}: "
            f"{len(self.data.y_train)} train / {len(self.data.y_validation)} validation / "
            f"{len(self.data.y_provider)} provider / "
            f"{len(self.data.y_test)} test")
        recompute = not self.resume
        for stage in STAGES:
            metrics_path = self.run_dir / "metrics" / f"{stage}.json"
            if not recompute and self.artifact(stage).exists() and metrics_path.is_file():
                log(f"stage {stage}: reusing {self.artifact(stage).name}")
                self.metrics[stage] = json.loads(metrics_path.read_text())
                getattr(self, f"load_{stage}", lambda: None)()
            else:
                recompute = True  # everything after a recomputed stage is stale
                log(f"stage {stage}: running")
                t0 = time.perf_counter()
                result = getattr(self, f"stage_{stage}")()
                result["seconds"] = time.perf_counter() - t0
                self.metrics[stage] = result
                _write_json(metrics_path, result)
                log(f"stage {stage}: done in {result['seconds']:.0f} s")
            if stage == stop_after:
                log(f"stopped after {stage}; continue with --resume --run-dir {self.run_dir}")
                return
        total = time.perf_counter() - start
        write_report(self.run_dir, self.recipe, self.data.summary(), self.metrics, total)
        log(f"report: {self.run_dir / 'report.md'} ({total:.0f} s in all)")
        for line in bought_lines(self.metrics, self.recipe.hardening.methods[0],
                                 self.recipe.evaluation.pgd_eps,
                                 max(self.recipe.hardening.eps, default=None)):
            log(line)

    # -- 1. classifier ---------------------------------------------------------------
    @property
    def num_outputs(self) -> int:
        """Logits of the classifier: one (sigmoid) for a two-class task, else one per class."""
        return 1 if self.data.num_classes == 2 else self.data.num_classes

    def _new_classifier(self):
        cfg = self.recipe.classifier
        return models.build_classifier(cfg.model, num_classes=self.num_outputs,
                                       image_shape=self.data.image_shape, **cfg.model_args)

    def _choose_generator(self, latent_dim: int) -> tuple[str, dict]:
        """(name, model_args) of the generator: the recipe's, or, for your model or
        data when the recipe's table generator cannot make these images, the
        `auto` generator sized from the latent width and the image shape."""
        cfg = self.recipe.generator
        try:
            self._build_generator(cfg.model, cfg.model_args, latent_dim)
        except LadError:
            if (self.provided is None and self.data_record is None) or cfg.model == "auto":
                raise
            log(f"generator: the recipe's {cfg.model!r} cannot make "
                f"{'x'.join(map(str, self.data.image_shape))} images from {latent_dim} latents; "
                "using the 'auto' generator sized for them (set generator.model to choose)")
            return "auto", {}
        return cfg.model, dict(cfg.model_args)

    def _build_generator(self, name: str, model_args: dict, latent_dim: int):
        with dtype_policy(self.recipe.generator.precision):
            return models.build_generator(name, image_shape=self.data.image_shape,
                                          latent_dim=latent_dim, **model_args)

    def _new_generator(self, latent_dim: int):
        return self._build_generator(*self.generator_choice, latent_dim)

    def stage_classifier(self) -> dict:
        if self.provided is not None:
            return self._use_provided()
        cfg = self.recipe.classifier
        steps = -(-len(self.data.y_train) // cfg.batch_size)
        with self.strategy.scope(), dtype_policy(cfg.precision):
            model = self._new_classifier()
            model.compile(optimizer=adam_for(cfg, steps), loss=classification_loss(model.num_classes),
                          metrics=[classification_accuracy(model.num_classes)])
        self._fit("classifier", model,
                  self.data.dataset("train", cfg.batch_size, shuffle=True, seed=self.recipe.data.seed),
                  cfg.epochs, validation_data=self.data.dataset("provider", 500))
        _save_keras(model, self.artifact("classifier"))
        self.classifier = model
        provider_acc = accuracy(model, self.data.x_provider, self.data.y_provider)
        return {"provider_accuracy": float(provider_acc), "parameters": int(model.count_params())}

    def _use_provided(self) -> dict:
        """The provider's model becomes the run's original classifier, untrained.

        It is saved as classifier.keras and read back, so that every later
        stage (and a resumed run) uses the file, checked to answer as the
        model did."""
        info = self.provided_info
        log(f"classifier: using your model {info.get('source', self.provided.name)} as the "
            "original (not trained; the recipe's classifier section is unused)")
        _save_keras(self.provided, self.artifact("classifier"))
        self.load_classifier()
        x = self.data.x_provider[:64]
        before = np.asarray(self.provided(x, training=False))
        saved = float(np.max(np.abs(np.asarray(self.classifier(x, training=False)) - before)))
        if not saved <= 1e-5 * max(1.0, float(np.max(np.abs(before)))):
            raise LadError(f"your model answers differently after saving as classifier.keras "
                           f"(max abs logit difference {saved:.3g}); make its layers serialize "
                           "(get_config) and run again")
        provider_acc = accuracy(self.classifier, self.data.x_provider, self.data.y_provider)
        log(f"classifier: your model's provider-split accuracy {provider_acc:.4f}")
        return {"provided": info, "provider_accuracy": float(provider_acc),
                "parameters": int(self.classifier.count_params())}

    def load_classifier(self):
        self.classifier = keras.models.load_model(self.artifact("classifier"))

    def _latents(self, x: np.ndarray) -> np.ndarray:
        return batched(traced_call(self.classifier, "features"), x, 500)

    # -- 2. generator (Eq. 2) -----------------------------------------------------------
    def stage_generator(self) -> dict:
        cfg = self.recipe.generator
        loss = "mean_squared_error" if cfg.loss == "l2" else "mean_absolute_error"
        steps = -(-len(self.data.y_train) // cfg.batch_size)
        with self.strategy.scope():
            generator = self._new_generator(self.classifier.latent_dim)
            generator.compile(optimizer=adam_for(cfg, steps), loss=loss)
        precision = resolve_precision(cfg.precision)
        log(f"generator: computing in {precision} (recipe: {cfg.precision}"
            + (f"; {native_bfloat16()[1]})" if cfg.precision == "auto" else ")"))
        if self.data.streamed:  # phi encodes each batch as it is read from disk
            log(f"generator: streaming {len(self.data.y_train)} training images from disk, "
                "encoded by the frozen phi batch by batch")
            phi = self.classifier.features
            train = self.data.dataset("train", cfg.batch_size, shuffle=True,
                                      seed=self.recipe.data.seed).map(
                lambda x, y: (phi(x, training=False), x))
        else:
            log(f"generator: encoding {len(self.data.y_train)} training images with the "
                "frozen phi")
            z_train = self._latents(self.data.x_train)
            train = (tf.data.Dataset.from_tensor_slices((z_train, self.data.x_train))
                     .shuffle(len(z_train), seed=self.recipe.data.seed).batch(cfg.batch_size)
                     .prefetch(tf.data.AUTOTUNE))
        z_provider = self._latents(self.data.x_provider)
        self._fit("generator", generator, train, cfg.epochs,
                  validation_data=(z_provider, self.data.x_provider))
        _save_keras(generator, self.artifact("generator"))
        self.generator = generator
        decode = traced_call(generator)
        x_test = self.data.x_test
        recon_test = batched(decode, self._latents(x_test), 500)
        if self.data.streamed:  # the first 10,000 training images, read again in batches
            squares, count = 0.0, 0
            for x, _ in self.data.dataset("train", 500).take(20):
                x = x.numpy()
                squares += float(np.sum((batched(decode, self._latents(x), 500) - x) ** 2,
                                        dtype=np.float64))
                count += len(x)
            train_mse = squares / (count * int(np.prod(self.data.image_shape)))
        else:
            count = min(10000, len(z_train))
            recon_train = batched(decode, z_train[:10000], 500)
            train_mse = float(np.mean((recon_train - self.data.x_train[:10000]) ** 2))
        result = {
            "train_mse": float(train_mse),
            "test_mse": float(np.mean((recon_test - x_test) ** 2)),
            "train_mse_examples": int(count),
            "precision": precision,
            "model": self.generator_choice[0],
        }
        log(f"generator: reconstruction MSE train {result['train_mse']:.5f}, "
            f"test {result['test_mse']:.5f}")
        rows = min(8, len(x_test) // 2)
        pairs = np.stack([x_test[:rows * 2], recon_test[:rows * 2]], axis=1).reshape(
            rows * 4, *x_test.shape[1:])
        self.summaries.image("reconstructions", image_grid(pairs, rows, 4),
                             description="test image, G(phi(image)), two per row")
        self.summaries.image("fig3_reconstructions",
                             figures.reconstruction_figure(x_test[:16], recon_test[:16], n=16),
                             description="Fig. 3: test images above their reconstructions")
        return result

    def load_generator(self):
        self.generator = keras.models.load_model(self.artifact("generator"))

    # -- 3. attention SVMs -----------------------------------------------------------
    @property
    def pairs(self):
        """(source, target) pairs that generation moves along (`svm.targets`):
        every ordered pair, or each class's k nearest (lad_tf.targets)."""
        return self.targets.pairs

    @property
    def svm_pairs(self):
        """Pairs with a fitted SVM; each pair of `pairs` is one or its reverse."""
        return self.targets.svm_pairs

    def _choose_targets(self, z: np.ndarray) -> TargetChoice:
        """Resolves `svm.targets` on the provider latents z (never test images)."""
        cfg = self.recipe.svm
        logits = None
        if resolve_mode(cfg, self.data.num_classes) == "nearest" and cfg.nearest_by == "confusion":
            logits = batched(traced_call(self.classifier, "head"), z, 500)  # f_p(phi(x)) == f(x)
        choice = choose_targets(cfg, self.data.num_classes, z, self.data.y_provider, logits)
        if choice.mode == "nearest":
            log(f"svm: targets: each class's {choice.k} nearest classes by {choice.measure}: "
                f"{len(choice.pairs)} of {self.data.num_classes * (self.data.num_classes - 1)} "
                f"ordered pairs, {len(choice.svm_pairs)} SVMs (one per unordered pair)")
        return choice

    def stage_svm(self) -> dict:
        cfg = self.recipe.svm
        z = self._latents(self.data.x_provider)
        self.targets = self._choose_targets(z)
        try:
            z_fit, y_fit, z_hold, y_hold = pair_datasets(
                z, self.data.y_provider, self.svm_pairs, cfg.per_class, cfg.holdout_fraction,
                seed=self.recipe.data.seed)
        except ValueError as exc:
            raise LadError(f"{exc}; lower svm.per_class with --set svm.per_class=N") from None
        svm = AttentionSVM(len(self.svm_pairs), self.classifier.latent_dim, cfg.attention, cfg.c,
                           cfg.attention_rank)
        log(f"svm: fitting {len(self.svm_pairs)} attention SVMs together on "
            f"{z_fit.shape[1]} latents each ({z_hold.shape[1]} held out)")
        every = max(1, cfg.epochs // 5)
        fit_attention_svms(
            svm, z_fit, y_fit, epochs=cfg.epochs, batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate, seed=self.recipe.data.seed,
            progress=lambda e, l: (e + 1) % every == 0 and log(
                f"svm epoch {e + 1}/{cfg.epochs}: loss {l:.4f}"))
        _save_keras(svm, self.artifact("svm"))
        self.svm = svm
        held = svm_accuracy(svm, z_hold, y_hold)
        fit = svm_accuracy(svm, z_fit, y_fit)
        worst = int(np.argmin(held))
        log(f"svm: held-out accuracy mean {held.mean():.4f}, worst {held.min():.4f} "
            f"(pair {self.svm_pairs[worst]})")
        return {
            "pairs": [list(p) for p in self.svm_pairs],
            "heldout_accuracy": held.tolist(),
            "heldout_accuracy_mean": float(held.mean()),
            "heldout_accuracy_min": float(held.min()),
            "worst_pair": list(self.svm_pairs[worst]),
            "fit_accuracy_mean": float(fit.mean()),
            "attention": cfg.attention,
            "attention_rank": cfg.attention_rank,
            "targets": self.targets.to_dict(),
        }

    def load_svm(self):
        self.svm = keras.models.load_model(self.artifact("svm"))
        self.targets = run_targets(self.run_dir, self.data.num_classes)

    # -- 4. boundary-guided generation ----------------------------------------------
    def _generate(self, per_class, eps_values, label):
        cfg = self.recipe.generation
        return generate(
            self.classifier, self.generator, svm_for_pairs(self.svm, self.svm_pairs, self.pairs),
            self.data.x_provider,
            self.data.y_provider, self.pairs, per_class, eps_values, cfg.eps_unit,
            batch_size=cfg.batch_size, seed=self.recipe.data.seed,
            progress=lambda i, n, eps: log(f"{label}: eps {eps:g} done ({i + 1}/{n})"))

    def stage_generate(self) -> dict:
        gen_cfg, hard_cfg = self.recipe.generation, self.recipe.hardening
        sweep_eps = [0.0] + [float(e) for e in gen_cfg.eps_sweep]
        sweep = self._generate(gen_cfg.per_class, sweep_eps, "sweep")
        stats = sweep.stats()
        for step, row in enumerate(stats):
            log(f"eps {row['eps']:g}: attack success {row['attack_success']:.3f}, targeted "
                f"{row['targeted_success']:.3f}, inconsistency (Eq. 3) {row['inconsistency']:.3f}")
            self.summaries.scalar("generation/attack_success", row["attack_success"], step)
            self.summaries.scalar("generation/inconsistency", row["inconsistency"], step)
        self._crossing_figure(sweep)
        self.summaries.image(
            "fig5_pair_success", figures.pair_success_heatmap(
                sweep.pair_success(), sweep.pairs, sweep.eps, self.data.num_classes),
            description="Fig. 5: attack success per (source, target) pair and eps")
        self._transition_figure(sweep)
        train_set = self._generate(hard_cfg.per_class, list(hard_cfg.eps), "hardening set")
        train_set.save(self.artifact("generate"))
        x_adv, _ = train_set.training_set(hard_cfg.only_inconsistent)
        return {
            "eps_unit": gen_cfg.eps_unit,
            "sweep_per_class": gen_cfg.per_class,
            "sweep": stats,
            "pair_success": {"eps": sweep_eps, "pairs": [list(p) for p in self.pairs],
                             "rate": sweep.pair_success().tolist()},
            "hardening_set": {"eps": list(hard_cfg.eps), "per_class": hard_cfg.per_class,
                              "stats": train_set.stats(), "examples": int(len(x_adv)),
                              "only_inconsistent": hard_cfg.only_inconsistent},
        }

    def _crossing_figure(self, sweep: GeneratedSet):
        """One row per source class: the source image, then G(z') for each eps."""
        rows, sources = [], set()
        for p, (s, t) in enumerate(sweep.pairs):
            if s in sources:
                continue
            sources.add(s)
            original = self.data.x_provider[sweep.source_index[p, 0]]
            rows.append([original] + [sweep.images[e, p, 0] for e in range(len(sweep.eps))])
        images = np.asarray([img for row in rows for img in row])
        self.summaries.image(
            "boundary_crossing", image_grid(images, len(rows), len(rows[0])),
            description="per row: source image, then G(z + eps beta d) for eps = "
                        + ", ".join(f"{e:g}" for e in sweep.eps) + " toward the first target")

    def _transition_figure(self, sweep: GeneratedSet, rows: int = 6):
        """Fig. 6: one source image per row moved toward one target, with the
        classifier's prediction for every eps (first example of each pair)."""
        step = max(1, len(sweep.pairs) // rows)
        chosen = list(range(0, len(sweep.pairs), step))[:rows]
        images = np.stack([sweep.images[:, p, 0] for p in chosen])  # [R, E, H, W, C]
        predicted = np.stack([sweep.pred_image[:, p, 0] for p in chosen])
        titles = [f"{sweep.pairs[p][0]} -> {sweep.pairs[p][1]}" for p in chosen]
        self.summaries.image(
            "fig6_transitions", figures.transition_figure(images, predicted, sweep.eps, titles),
            description="Fig. 6: G(z + eps beta d) for rising eps with the predicted label")

    def load_generate(self):
        pass

    # -- 5. LAD fine-tuning (Eq. 4) and the baselines ---------------------------------
    def _lad_set(self):
        cfg = self.recipe.hardening
        return GeneratedSet.load(self.artifact("generate")).training_set(cfg.only_inconsistent)

    def stage_harden(self) -> dict:
        """Builds every method of `hardening.methods` (lad_tf.defences) from the
        original model, then the one-eps models of Fig. 7. A finished method is
        kept on disk, so a resumed run continues with the next one."""
        cfg = self.recipe.hardening
        methods_dir = self.run_dir / "methods"
        methods_dir.mkdir(exist_ok=True)
        hardener = self._trainer(self._lad_set)
        result = {"methods": {}, "sweep": {}}
        for i, method in enumerate(cfg.methods):
            path, info_path = methods_dir / f"{method}.keras", methods_dir / f"{method}.json"
            if self.resume and path.is_file() and info_path.is_file():
                log(f"harden {method}: reusing {path.name}")
                result["methods"][method] = json.loads(info_path.read_text())
                continue
            log(f"harden: method {method} ({i + 1}/{len(cfg.methods)})")
            with self.strategy.scope():
                model, info = hardener.build(method)
            info["provider_accuracy"] = accuracy(model, self.data.x_provider, self.data.y_provider)
            log(f"harden {method}: done in {info['seconds']:.0f} s; provider accuracy "
                f"{info['provider_accuracy']:.4f}")
            _save_keras(model, path)
            _write_json(info_path, info)
            result["methods"][method] = info
        for eps in cfg.sweep_eps:  # Fig. 7: one model per eps ("Large Adv." sets)
            path = methods_dir / f"lad-eps-{eps:g}.keras"
            if self.resume and path.is_file():
                continue
            result["sweep"][f"{eps:g}"] = self._sweep_model(hardener, float(eps), path)
        first = methods_dir / f"{cfg.methods[0]}.keras"
        self.hardened = keras.models.load_model(first)
        _save_keras(self.hardened, self.artifact("harden"))
        main = result["methods"].get(cfg.methods[0], {})
        result["exported_method"] = cfg.methods[0]
        result["generated_examples"] = main.get("examples", 0)
        result["history"] = main.get("history", {})
        result["validation"] = validation_summary(result["methods"])
        for name, row in result["validation"].items():
            log(f"harden: {name}: best validation epoch {row['best_epoch']}, clean "
                f"{row['clean']:.4f}, PGD-{row['pgd_steps']} {row['robust']:.4f}, {row['seconds']:.0f} s"
                + (f", collapsed at epoch {row['collapsed_at_epoch']}" if row["collapsed_at_epoch"]
                   else ""))
        return result

    def _trainer(self, generated) -> DefenceTrainer:
        return DefenceTrainer(
            self.artifact("classifier"), self.data, self.recipe, fit=self._fit,
            generated=generated, log=log,
            selection_folder=lambda stage: self.run_dir / "backup" / stage / "selection")

    def _sweep_model(self, hardener: DefenceTrainer, eps: float, path: Path) -> dict:
        cfg = self.recipe.hardening
        made = self._generate(cfg.sweep_per_class, [eps], f"FT-{eps:g} set")
        x_adv, y_adv = made.training_set(cfg.only_inconsistent)
        start = time.perf_counter()
        log(f"harden FT-{eps:g}: fine-tuning on {len(x_adv)} examples at eps {eps:g} only")
        with self.strategy.scope():
            model, _ = self._trainer(lambda: (x_adv, y_adv)).build(
                "lad", stage=f"harden-eps-{eps:g}")
        _save_keras(model, path)
        return {"examples": int(len(x_adv)), "seconds": time.perf_counter() - start}

    def load_harden(self):
        self.hardened = keras.models.load_model(self.artifact("harden"))

    # -- 6. evaluation -----------------------------------------------------------------
    def stage_evaluate(self) -> dict:
        evaluation = RunEvaluation(self.run_dir, self.recipe, self.data,
                                   summaries=self.summaries, log=log)
        return evaluation.run()

    # -- 7. export ---------------------------------------------------------------------
    def stage_export(self) -> dict:
        if not self.chief:
            return {"skipped": "only the chief worker exports"}
        metadata = {
            "lad_tf_version": lad_tf.__version__,
            "tensorflow_version": tf.__version__,
            "dataset": self.data.summary(),
            "method": defence_title(self.recipe.hardening.methods[0]),
            "recipe": self.recipe.to_dict(),
            "evaluation": card_evaluation(self.metrics.get("evaluate")),
            "run_dir": str(self.run_dir),
        }
        path = export_model(self.hardened, self.export_base, self.recipe.export.name, metadata)
        log(f"export: SavedModel version written to {path}")
        result = {"path": str(path), "version": int(path.name), "signature": "serving_default",
                  "inputs": {"images": [None, *self.data.image_shape]},
                  "outputs": ["logits", "probabilities", "classes"]}
        _write_json(self.artifact("export"), result)
        return result
