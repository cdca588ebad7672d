"""The label-keeping judge: does a generated example still show its source class?

An adversarial example is only an attack if a human would still give it its
source label. GA and LAD synthesise images rather than perturb them, so
they can change the digit itself; L0 / L2 attacks (JSMA, C&W) can too. The
judge is an independent classifier (`JudgeNet`, trained here on the
training split with augmentation, epoch chosen on the validation split, never
an attack's target), and `judge_rates` scores a set of examples with it:

    keeps_source   the judge reads the source class s
    reads_other    the judge reads the class the attacked model read, which
                   is not s (targeted: the target t): a changed image, not
                   an adversarial example

An example counts as a success of its attack when the attacked model does
not read s (or reads t); a success the judge also reads as the new class
is a *changed image*. The judge is only a proxy for a human: its own error
on clean test images bounds how far its rates can be trusted.
"""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np

from lad_tf.data.split_key import training_split_key
from lad_tf.models.judge_net import JudgeNet
from lad_tf.utils.cache import read_keyed_json, write_keyed_json
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import cache_key, save_keras
from lad_tf.utils.metrics import accuracy


def train_judge(data, path: Path, epochs: int = 4, batch_size: int = 128, seed: int = 0,
                log=print) -> tuple[keras.Model, dict]:
    """Trains a `JudgeNet` on `data`'s training split, or reads it from `path`.

    The epoch with the best validation accuracy is kept (the test split is
    read once, to report the chosen judge's accuracy).

    Args:
        data: `DatasetSplits` with in-memory x_train / x_validation / x_test.
        path: the `.keras` file to write (and to read, if it exists).
        epochs, batch_size, seed: Adam(1e-3) training budget.
        log: progress output.
    Returns:
        (judge, info: validation accuracy per epoch, chosen epoch, clean test
        accuracy, seconds).

    Raises:
        LadError: data streamed from files or without a validation split.
    """
    if data.streamed or len(data.y_validation) == 0:
        raise LadError("the judge trains on in-memory data with a validation split; start the "
                       "run with --set data.validation_fraction=0.04")
    info_path = path.with_suffix(".json")
    key = cache_key({"epochs": epochs, "batch_size": batch_size, "seed": seed,
                     "train": training_split_key(data)})
    info = read_keyed_json(info_path, key)  # None: missing, or trained on other data
    if info is not None and path.is_file():
        log(f"judge: reading {path}")
        return keras.models.load_model(path), info
    keras.utils.set_random_seed(seed)
    judge = JudgeNet(data.num_classes, data.image_shape, seed=seed)
    judge.build()
    judge.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start, best, history = time.perf_counter(), (-1.0, 0, None), []
    for epoch in range(1, epochs + 1):
        judge.fit(data.x_train, data.y_train, batch_size=batch_size, epochs=1, verbose=0,
                  shuffle=True)
        val = accuracy(judge, data.x_validation, data.y_validation)
        history.append(val)
        log(f"judge: epoch {epoch}/{epochs}, validation accuracy {val:.2%}")
        if val > best[0]:
            best = (val, epoch, judge.get_weights())
    judge.set_weights(best[2])
    info = {"validation_accuracy": history, "epoch": best[1],
            "test_accuracy": accuracy(judge, data.x_test, data.y_test),
            "seconds": time.perf_counter() - start, "epochs": epochs, "seed": seed,
            "augmentation": "shift 10%, rotate 10 degrees, zoom 10%"}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_keras(judge, path)
    write_keyed_json(info_path, key, info)
    log(f"judge: kept epoch {best[1]}; clean test accuracy {info['test_accuracy']:.2%}")
    return judge, info


def judge_rates(judge_pred: np.ndarray, source: np.ndarray, attacked_pred: np.ndarray,
                target: np.ndarray | None = None) -> dict:
    """What the judge says about one set of examples.

    Args:
        judge_pred: int [N], the judge's classes.
        source: int [N], the source classes s.
        attacked_pred: int [N], the attacked model's classes.
        target: int [N] target classes (targeted attacks), or None.
    Returns: dict with n, attack_success (attacked model reads t, or not s),
        keeps_source, reads_other (judge reads t, or the attacked model's
        class != s), changed (successes the judge reads as the new class,
        as a share of all examples) and changed_count.
    """
    judge_pred, source, attacked_pred = (np.asarray(a) for a in (judge_pred, source,
                                                                  attacked_pred))
    new_class = attacked_pred if target is None else np.asarray(target)
    success = attacked_pred != source if target is None else attacked_pred == new_class
    other = (judge_pred == new_class) & (new_class != source)
    n = len(source)
    mean = (lambda a: float(np.mean(a))) if n else (lambda a: float("nan"))
    return {"n": int(n), "attack_success": mean(success),
            "keeps_source": mean(judge_pred == source), "reads_other": mean(other),
            "changed": mean(success & other), "changed_count": int(np.sum(success & other))}
