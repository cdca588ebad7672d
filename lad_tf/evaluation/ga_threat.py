"""The `ga` threat: GA (Song et al. 2018) as a white-box attack on one model,
where an AC-GAN exists (`lad_tf.evaluation.threats`).

GA synthesises its images from the AC-GAN, so it has no test images and
stays out of `union`. Its number is the GA study's white-box row
(`lad_tf.studies.ga`): accuracy = 1 - the share of searches whose image the
model reads as another class than the source; `valid_success` also asks
the AC-GAN's auxiliary classifier to keep the source.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from lad_tf.attacks.ga import ga_search
from lad_tf.utils.files import fingerprint

GA_BATCH = 100
CHECKOUT = Path(__file__).resolve().parents[2]  # lad_tf/evaluation/ga_threat.py -> the checkout


def find_acgan(ctx) -> Path | None:
    """evaluation.ga_acgan (relative to the working directory, the run or the
    checkout, e.g. zoo/mnist/models/acgan.keras), else RUN/acgan/chosen.keras,
    else RUN/acgan/acgan.keras; None when none exists."""
    given = ctx.cfg.ga_acgan
    if given:
        for path in (Path(given), ctx.run_dir / given, CHECKOUT / given):
            if path.is_file():
                return path
        return None
    for name in ("chosen.keras", "acgan.keras"):
        if (ctx.run_dir / "acgan" / name).is_file():
            return ctx.run_dir / "acgan" / name
    return None


def ga_row(judge) -> dict:
    """GA's row for the `ThreatJudge` `judge`'s model; "not run" with the
    reason when no AC-GAN exists or evaluation.ga_searches is 0."""
    ctx, cfg = judge.ctx, judge.ctx.cfg
    path = find_acgan(ctx)
    if path is None or cfg.ga_searches == 0:
        if cfg.ga_searches == 0:
            reason = "evaluation.ga_searches is 0"
        elif cfg.ga_acgan:
            reason = f"no AC-GAN: {cfg.ga_acgan} does not exist"
        else:
            reason = (f"no AC-GAN in {ctx.run_dir / 'acgan'}: train one with `python -m "
                      f"lad_tf.acgan {ctx.run_dir}` or set evaluation.ga_acgan")
        ctx.log(f"  {judge.name} GA: not run ({reason})")
        return {"status": "not run", "reason": reason}
    cache, _ = judge.caches("ga", extra=[fingerprint(path)])

    def compute() -> dict:
        source = np.repeat(np.arange(ctx.num_classes), cfg.ga_searches).astype("int32")
        start, parts = time.perf_counter(), []
        for first in range(0, len(source), GA_BATCH):
            parts.append(ga_search(judge.model, str(path), source[first:first + GA_BATCH],
                                   steps=cfg.ga_steps, seed=cfg.seed, first_index=first))
            ctx.log(f"  {judge.name} GA: {min(first + GA_BATCH, len(source))}/{len(source)} "
                    f"searched ({cfg.ga_steps} steps)")
        predictions = np.concatenate([p.predictions for p in parts])
        aux = np.concatenate([p.aux_predictions for p in parts])
        fooled, kept = predictions != source, aux == source
        return {"status": "run", "accuracy": float(1 - fooled.mean()), "n": int(len(source)),
                "attack_success": float(fooled.mean()), "aux_keeps_source": float(kept.mean()),
                "valid_success": float((fooled & kept).mean()), "steps": cfg.ga_steps,
                "acgan": str(path), "seconds": time.perf_counter() - start}

    row = cache.get("row", compute)
    ctx.log(f"  {judge.name} GA ({row['steps']} steps, {row['n']} searches): accuracy "
            f"{row['accuracy']:.4f}")
    return row
