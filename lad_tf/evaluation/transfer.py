"""Transfer ("unknown attack", paper Table III): examples crafted against an
independent black-box CNN of another architecture, trained here on the
training split, and scored on every model of the run."""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np

from lad_tf import models
from lad_tf.attacks.budget import attack_params, run_attack
from lad_tf.data.split_key import training_split_key
from lad_tf.defences import classification_loss, logits_accuracy
from lad_tf.evaluation.samples import AttackSample, sample_for
from lad_tf.utils.cache import (
    ResultCache,
    read_keyed_json,
    read_keyed_npz,
    write_keyed_json,
    write_npz,
)
from lad_tf.utils.files import cache_key, fingerprint, save_keras
from lad_tf.utils.metrics import accuracy, score_examples
from lad_tf.utils.monitoring import EpochLogger


@dataclasses.dataclass
class TransferSet:
    """Examples of one attack crafted on the black-box CNN.

    Attributes:
        x: float32 [M, H, W, C] in [0, 1], the adversarial images.
        sample: the test images (and targets) they were made from.
        seconds: crafting time.
    """

    x: np.ndarray
    sample: AttackSample
    seconds: float


def blackbox_key(cfg, data) -> str:
    """The black-box CNN's cache key: its settings and the training split it
    is trained on (`training_split_key`), so a CNN trained on another split
    (say, before the validation images were carved out) is trained afresh."""
    return cache_key({"model": cfg.blackbox_model, "epochs": cfg.blackbox_epochs,
                      "seed": cfg.seed, "train": training_split_key(data)})


def train_blackbox(ctx) -> tuple[keras.Model, dict]:
    """The independent CNN the transfer attacks are crafted on, trained once.

    Returns:
        (model, meta): meta holds settings, model, parameters, clean_accuracy
        (whole test split) and seconds; both cached in the evaluation folder
        (blackbox.keras, blackbox.json) under `blackbox_key`.
    """
    cfg, data = ctx.cfg, ctx.data
    path, meta_path = ctx.folder / "blackbox.keras", ctx.folder / "blackbox.json"
    want = {"model": cfg.blackbox_model, "epochs": cfg.blackbox_epochs, "seed": cfg.seed}
    key = blackbox_key(cfg, data)
    meta = read_keyed_json(meta_path, key)
    if meta is not None and path.is_file():
        return keras.models.load_model(path), meta
    outputs = 1 if ctx.num_classes == 2 else ctx.num_classes
    keras.utils.set_random_seed(cfg.seed + 1)  # not the original's initialisation
    model = models.build_classifier(cfg.blackbox_model, num_classes=outputs,
                                    image_shape=data.image_shape)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=classification_loss(outputs),
                  metrics=[logits_accuracy(outputs)])
    ctx.log(f"evaluate: training the black-box {cfg.blackbox_model} "
            f"({model.count_params()} parameters) on the training split, "
            f"{cfg.blackbox_epochs} epoch(s)")
    start = time.perf_counter()
    model.fit(data.dataset("train", 128, shuffle=True, seed=cfg.seed + 1),
              epochs=cfg.blackbox_epochs, verbose=0, shuffle=False,  # the dataset shuffles
              callbacks=[EpochLogger("black-box CNN", cfg.blackbox_epochs)])
    save_keras(model, path)
    meta = {"settings": want, "model": cfg.blackbox_model,
            "parameters": int(model.count_params()),
            "clean_accuracy": accuracy(model, data.x_test, data.y_test),
            "seconds": time.perf_counter() - start}
    write_keyed_json(meta_path, key, meta)
    return model, meta


def craft_transfer_sets(ctx, blackbox) -> dict[str, TransferSet]:
    """Examples of every attack of evaluation.transfer_attacks crafted on
    `blackbox` (the file `<folder>/blackbox.keras`), cached as
    `<folder>/transfer-<attack>.npz` under the key of the black-box file,
    the attack's parameters and the sample."""
    out = {}
    model_print = fingerprint(ctx.folder / "blackbox.keras")
    for name in ctx.cfg.transfer_attacks:
        sample = sample_for(ctx.cfg, name, ctx.data.y_test, ctx.num_classes)
        path = ctx.folder / f"transfer-{name}.npz"
        key = cache_key(model_print, attack_params(ctx.cfg, name), sample.index.tolist())
        found = read_keyed_npz(path, key)
        if found is not None:
            out[name] = TransferSet(found["x"], sample, float(found["seconds"]))
            continue
        x, y = ctx.data.x_test[sample.index], ctx.data.y_test[sample.index]
        start = time.perf_counter()
        x_adv = run_attack(name, blackbox, x, y, sample.target, ctx.cfg, ctx.log,
                           "black-box CNN")
        seconds = time.perf_counter() - start
        write_npz(path, x=x_adv, key=key, seconds=seconds)
        out[name] = TransferSet(x_adv, sample, seconds)
    return out


def blackbox_summary(ctx, blackbox, meta: dict, transfer: dict[str, TransferSet]) -> dict:
    """evaluation.json's "blackbox": the CNN, its clean accuracy and training
    time, and per attack its accuracy on its own examples and crafting time."""
    out = {"model": meta["model"], "parameters": meta["parameters"],
           "clean_accuracy": meta["clean_accuracy"], "training_seconds": meta["seconds"]}
    for name, crafted in transfer.items():
        row = score(blackbox, crafted, ctx.data.y_test)
        out[f"{name}_accuracy"] = row["accuracy"]
        out[f"{name}_seconds"] = crafted.seconds
        if "target_success" in row:
            out[f"{name}_target_success"] = row["target_success"]
    return out


def score(model, crafted: TransferSet, y_test: np.ndarray) -> dict:
    """`score_examples` of `model` on one transfer set."""
    return score_examples(model, crafted.x, y_test[crafted.sample.index], crafted.sample.target)


def transfer_rows(model, transfer: dict[str, TransferSet], y_test: np.ndarray,
                  cache: ResultCache) -> dict[str, dict]:
    """Per attack, the score of `model` on its transfer set, cached as "transfer:<attack>"."""
    return {name: cache.get(f"transfer:{name}", lambda crafted=crafted: score(model, crafted,
                                                                               y_test))
            for name, crafted in transfer.items()}
