"""The export stage (lad_tf.pipeline.stages.export): what it hands the SavedModel
export (the model card's facts) and what it records in export.json."""

import json
import types
from pathlib import Path

from lad_tf.pipeline.run import Run
from lad_tf.pipeline.stages import export as export_stage
from lad_tf.recipe.schema import Recipe


def test_export_stage_passes_the_evaluation_to_the_card_and_records_the_version(
        tmp_path, monkeypatch):
    seen = {}

    def fake_export(model, base, name, metadata):
        seen.update(model=model, base=base, name=name, metadata=metadata)
        return Path(base) / name / "3"
    monkeypatch.setattr(export_stage, "export_model", fake_export)
    data = types.SimpleNamespace(image_shape=(28, 28, 1), summary=lambda: {"name": "digits"})
    run = Run(tmp_path, Recipe(), data, None, False, True, None, str(tmp_path / "serving"))
    evaluate = {"samples": {"untargeted": 10}, "attack_titles": {"pgd": "PGD-40"},
                "original": {"clean_accuracy": 0.9, "details": {"x": 1}},
                "hardened": {"clean_accuracy": 0.8, "details": {"x": 2}}, "seconds": 5.0}
    result, outputs = export_stage.export(run, "the model", {"evaluate": evaluate,
                                                            "harden": {"seconds": 1.0}})
    card = seen["metadata"]
    assert seen["model"] == "the model" and seen["name"] == Recipe().export.name
    assert card["evaluation"] == {"samples": {"untargeted": 10},
                                  "attack_titles": {"pgd": "PGD-40"},
                                  "original": {"clean_accuracy": 0.9},
                                  "hardened": {"clean_accuracy": 0.8}}
    assert card["method"] == "LAD" and card["dataset"] == {"name": "digits"}
    assert result["version"] == 3 and result["inputs"] == {"images": [None, 28, 28, 1]}
    assert json.loads((tmp_path / "export.json").read_text()) == result
    assert outputs == {}


def test_a_non_chief_worker_exports_nothing(tmp_path):
    run = Run(tmp_path, Recipe(), None, None, True, False, None, "")
    assert export_stage.export(run, None, {}) == ({"skipped": "only the chief worker exports"}, {})
    assert not (tmp_path / "export.json").exists()
