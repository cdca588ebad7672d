"""EpochRecord: a fit killed after some epochs and resumed from its backup
reports every epoch and the time of all of them."""

import json

import keras
import numpy as np
import pytest

from lad_tf.utils.monitoring import EpochRecord


class Killed(Exception):
    pass


class KillAfter(keras.callbacks.Callback):
    """Raises at the end of epoch `epoch` (0-based), after the callbacks before it ran."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Killed()


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True))
    return model


def _fit(model, tmp_path, extra=()):
    backup = tmp_path / "backup" / "stage"
    record = EpochRecord(backup.with_name("stage.epochs.json"), resuming=backup.is_dir())
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, shuffle=False, callbacks=[
        keras.callbacks.BackupAndRestore(str(backup)), record, *extra])
    return record.history(history.history)


def test_a_resumed_fit_reports_every_epoch_and_all_their_time(tmp_path):
    with pytest.raises(Killed):
        _fit(_model(), tmp_path, [KillAfter(2)])
    rows = json.loads((tmp_path / "backup" / "stage.epochs.json").read_text())
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert all(r["seconds"] > 0 and "loss" in r["logs"] for r in rows)

    history = _fit(_model(), tmp_path)  # a new process: resumed from the backup
    assert len(history["loss"]) == 5  # three from the killed fit, two from this one
    assert history["loss"][:3] == pytest.approx([r["logs"]["loss"] for r in rows], rel=1e-6)
    assert history.earlier_seconds == pytest.approx(sum(r["seconds"] for r in rows))
    assert not (tmp_path / "backup" / "stage.epochs.json").exists()


def test_a_fresh_fit_ignores_a_stale_record(tmp_path):
    stale = tmp_path / "backup" / "stage.epochs.json"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps([{"epoch": 0, "seconds": 99.0, "logs": {"loss": 7.0}}]))
    history = _fit(_model(), tmp_path)  # no backup folder: a fresh stage
    assert len(history["loss"]) == 5 and 7.0 not in history["loss"]
    assert history.earlier_seconds == 0.0
