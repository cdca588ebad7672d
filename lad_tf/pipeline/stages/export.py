"""Stage 7, export: the hardened model as the next TF Serving SavedModel version.

Artifact: export.json (the SavedModel's path, version and signature); the
SavedModel itself goes under `export.base`/`export.name`.
"""

from __future__ import annotations

import tensorflow as tf

from lad_tf._version import __version__
from lad_tf.defences import title as defence_title
from lad_tf.pipeline.run import Run
from lad_tf.serving.export import export_model
from lad_tf.utils.files import write_json
from lad_tf.utils.monitoring import log


def card_evaluation(result: dict | None) -> dict | None:
    """The evaluation numbers a model card carries: per model, without details."""
    if not result:
        return result
    keep = {k: result[k] for k in ("samples", "attack_titles", "exported_method", "robust")
            if k in result}
    for name in ("original", "hardened"):
        if name in result:
            keep[name] = {k: v for k, v in result[name].items() if k != "details"}
    return keep


def export(run: Run, hardened, metrics: dict) -> tuple[dict, dict]:
    """Writes `hardened` for TF Serving with its model card.

    Args:
        run: the run (its recipe's `export` section, data summary).
        hardened: the exported method's model (hardened.keras).
        metrics: the earlier stages' metrics (the card carries `evaluate`'s).

    Returns: (metrics: the SavedModel's path, version, signature, inputs and
        outputs, also written to export.json, {}). A non-chief worker skips.
    """
    if not run.chief:
        return {"skipped": "only the chief worker exports"}, {}
    harden = metrics.get("harden") or {}
    chosen = harden.get("exported_method", run.recipe.hardening.methods[0])
    metadata = {
        "lad_tf_version": __version__,
        "tensorflow_version": tf.__version__,
        "dataset": run.data.summary(),
        "method": (defence_title(chosen) if chosen != "original"
                   else "none (the run's original classifier)"),
        "method_key": chosen,
        "export_choice": harden.get("export_choice"),
        "threat": {"norm": "linf", "eps": run.recipe.evaluation.pgd_eps,
                   "recipe": run.recipe.name},
        "recipe": run.recipe.to_dict(),
        "evaluation": card_evaluation(metrics.get("evaluate")),
        "run_dir": str(run.run_dir),
    }
    path = export_model(hardened, run.export_base, run.recipe.export.name, metadata)
    log(f"export: SavedModel version written to {path}")
    result = {"path": str(path), "version": int(path.name), "signature": "serving_default",
              "inputs": {"images": [None, *run.data.image_shape]},
              "outputs": ["logits", "probabilities", "classes"]}
    write_json(run.artifact("export"), result)
    return result, {}
