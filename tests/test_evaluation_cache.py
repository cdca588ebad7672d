"""lad_tf.utils.cache: one key scheme, atomic writes, stale files ignored."""

import hashlib
import json

import numpy as np

from lad_tf.utils.cache import (
    PerImageCache,
    ResultCache,
    read_keyed_json,
    read_keyed_npz,
    write_keyed_json,
    write_npz,
)
from lad_tf.utils.files import cache_key


def test_result_cache_keeps_the_key_of_earlier_runs(tmp_path):
    """The per-model caches of runs evaluated before the evaluation package
    (sha1 of [fingerprint, settings], keys sorted) stay valid."""
    settings = {"per_class": 3, "attacks": ["fgsm"], "seed": 0}
    old = hashlib.sha1(json.dumps(["123-456", settings], sort_keys=True,
                                  default=str).encode()).hexdigest()
    cache = ResultCache(tmp_path, "lad", "123-456", settings)
    assert cache.key == old == cache_key("123-456", settings)
    assert cache.get("clean", lambda: 0.5) == 0.5
    assert ResultCache(tmp_path, "lad", "123-456", settings).get("clean", lambda: 0.0) == 0.5
    assert ResultCache(tmp_path, "lad", "999-456", settings).get("clean", lambda: 0.25) == 0.25
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary file


def test_result_cache_recomputes_an_unreadable_file(tmp_path):
    (tmp_path / "lad.json").write_text('{"key": ')
    assert ResultCache(tmp_path, "lad", "v1", {}).get("clean", lambda: 0.75) == 0.75
    assert json.loads((tmp_path / "lad.json").read_text())["results"] == {"clean": 0.75}


def test_keyed_files_are_ignored_under_another_key(tmp_path):
    write_keyed_json(tmp_path / "diversity.json", "k1", {"sources": 10})
    assert read_keyed_json(tmp_path / "diversity.json", "k1") == {"sources": 10}
    assert read_keyed_json(tmp_path / "diversity.json", "k2") is None
    assert read_keyed_json(tmp_path / "missing.json", "k1") is None
    x = np.arange(6, dtype="float32").reshape(2, 3)
    write_npz(tmp_path / "transfer-fgsm.npz", x=x, key="k1", seconds=1.5)
    found = read_keyed_npz(tmp_path / "transfer-fgsm.npz", "k1")
    np.testing.assert_array_equal(found["x"], x)
    assert float(found["seconds"]) == 1.5 and "key" not in found
    assert read_keyed_npz(tmp_path / "transfer-fgsm.npz", "k2") is None
    (tmp_path / "torn.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert read_keyed_npz(tmp_path / "torn.npz", "k1") is None
    assert not list(tmp_path.glob("*.tmp"))


def test_per_image_cache_round_trip(tmp_path):
    cache = PerImageCache(tmp_path, "lad", "k1")
    assert cache.get("robust_apgd") is None
    cache.put("robust_apgd", np.array([1, 0, 1]))
    again = PerImageCache(tmp_path, "lad", "k1").get("robust_apgd")
    assert again.dtype == bool and again.tolist() == [True, False, True]
    assert PerImageCache(tmp_path, "lad", "k2").get("robust_apgd") is None
