"""precision `auto`: bfloat16 only where the hardware computes it natively."""

from pathlib import Path

import keras
import pytest

from lad_tf.recipe.schema import Recipe, recipe_from_dict
from lad_tf.utils import precision
from lad_tf.utils.errors import LadError


def test_explicit_precisions_pass_through():
    assert precision.resolve_precision("float32") == "float32"
    assert precision.resolve_precision("mixed_bfloat16") == "mixed_bfloat16"


def test_auto_follows_the_cpu_flags(monkeypatch):
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    native, reason = precision.native_bfloat16()
    gpu = bool(__import__("tensorflow").config.list_physical_devices("GPU"))
    assert native == (gpu or bool(flags & {"avx512_bf16", "amx_bf16"})), reason
    assert precision.resolve_precision("auto") == ("mixed_bfloat16" if native else "float32")
    monkeypatch.setattr(precision, "native_bfloat16", lambda: (False, "test"))
    assert precision.resolve_precision("auto") == "float32"
    monkeypatch.setattr(precision, "native_bfloat16", lambda: (True, "test"))
    assert precision.resolve_precision("auto") == "mixed_bfloat16"


def test_dtype_policy_is_scoped(monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda: (True, "test"))
    before = keras.config.dtype_policy().name
    with precision.dtype_policy("auto"):
        assert keras.layers.Dense(2).dtype_policy.name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before


def test_recipe_accepts_auto_and_names_the_choices():
    assert recipe_from_dict({"generator": {"precision": "auto"}}).generator.precision == "auto"
    with pytest.raises(LadError, match="auto, float32 or mixed_bfloat16"):
        recipe_from_dict({"generator": {"precision": "half"}})
    assert Recipe().generator.precision in precision.PRECISIONS
