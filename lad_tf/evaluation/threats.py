"""Threats beyond L-inf: every model judged under L2, spatial transforms,
common corruptions and GA, and the union of the per-image ones.

`evaluation.threats` names them (`python -m lad_tf.evaluate --threats`):

    linf         the robust suite (`lad_tf.evaluation.robust`), eps evaluation.pgd_eps
    l2           the same suite under L2 at evaluation.l2_eps (ART's APGD-CE, APGD-T
                 with the DLR loss, Square; cleverhans' PGD-100 x restarts), worst case
                 per image, and the same three masking checks: PGD at an L2 eps that
                 reaches any image (sqrt of the pixel count) leaves ~0%; Square is not
                 below the white-box attacks; PGD-100 x restarts is not above PGD-40
    spatial      the worst case per image over a grid of rotations and shifts
                 (`lad_tf.attacks.spatial`); checks: the zero transform gives the clean
                 accuracy, and the grid's worst case is <= every single transform's
                 (rotations alone, shifts alone)
    corruptions  the MNIST-C corruptions (`lad_tf.attacks.corruptions`), generated
                 from the sample with evaluation.seed: per corruption and their mean;
                 or the published MNIST-C where TFDS has it prepared
                 (evaluation.corruptions_source, `lad_tf.data.mnist_c`): then a
                 class-balanced sample of its own test split, outside the union
    ga           GA (Song et al. 2018) as a white-box attack, where an AC-GAN exists:
                 the share of its searches that fail (the model keeps the class)
    union        per image: correct under every per-image threat the list names

Every per-image threat runs on the robust suite's sample (the same
evaluation.robust_per_class images per class), so `union` is a per-image AND.
Each (model, threat) has its own cache, `<folder>/<model>-<threat>.json` and
`-per-image.npz`, keyed by the model file and that threat's settings only.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from lad_tf.attacks.budget import run_attack
from lad_tf.data.mnist_c import TFDS_NAME
from lad_tf.evaluation.robust import SuitePlan, run_suite, worst_case
from lad_tf.evaluation.samples import robust_samples
from lad_tf.recipe.names import PER_IMAGE_THREATS, SPATIAL_GRID
from lad_tf.utils.batching import predict
from lad_tf.utils.cache import PerImageCache, ResultCache
from lad_tf.utils.files import fingerprint

THREAT_TITLES = {"linf": "L-inf", "l2": "L2", "spatial": "spatial (rotations, shifts)",
                 "corruptions": "corruptions (MNIST-C)", "ga": "GA (white box)",
                 "union": "union (every per-image threat)"}

# The L2 suite's budgets (evaluation.l2_attack_params override them). AutoAttack
# runs 9 APGD-T targets; 3 keep the whole of the new threats for one robust
# LeNet on 1,000 images within about 10 minutes on 2 cores (the top-3 wrong
# classes carry most of APGD-T's successes). PGD steps are Madry's rule,
# 2.5 * eps / steps, unless set.
L2_DEFAULTS = {"apgd": {"max_iter": 100}, "apgd_t": {"max_iter": 100, "n_target_classes": 3},
               "square": {"max_iter": 1000}, "pgd_restarts": {"nb_iter": 100, "restarts": 2},
               "pgd": {"nb_iter": 40}}
L2_SUITE = ("apgd", "apgd_t", "square", "pgd_restarts")


def spatial_grid(cfg):
    """The `SpatialGrid` of evaluation.spatial (over names.SPATIAL_GRID)."""
    from lad_tf.attacks.spatial import SpatialGrid

    return SpatialGrid(**{**SPATIAL_GRID, **cfg.spatial})


def _l2_params(cfg, name: str, eps: float, overrides: dict | None = None) -> dict:
    params = {**L2_DEFAULTS[name], **cfg.l2_attack_params.get(name, {}), **(overrides or {}),
              "eps": float(eps), "norm": 2}
    if name in ("pgd", "pgd_restarts"):
        params.setdefault("eps_iter", 2.5 * float(eps) / params["nb_iter"])
        params.setdefault("seed", cfg.seed)
    return params


def l2_plan(cfg, image_shape, num_classes: int) -> SuitePlan:
    """The L2 suite at evaluation.l2_eps, its PGD-40 and check (a)'s PGD at an
    eps that reaches every image of this shape (sqrt of the pixel count)."""
    attacks = {a: _l2_params(cfg, a, cfg.l2_eps) for a in L2_SUITE
               if not (a == "apgd_t" and num_classes < 3)}
    reach = math.sqrt(float(np.prod(image_shape)))
    masking = (_l2_params(cfg, "pgd", reach, {"eps_iter": 2.5 * reach / 40, "nb_iter": 40})
               if cfg.masking_per_class else None)
    return SuitePlan(attacks=attacks, reference=_l2_params(cfg, "pgd", cfg.l2_eps),
                     masking=masking)


def threats_summary(cfg, data) -> dict:
    """What the threats beyond L-inf ran (at the EvaluationConfig `cfg` on the
    `DatasetSplits` `data`), for evaluation.json's "threats" and the report."""
    from lad_tf.attacks.budget import suite_title

    idx, _ = robust_samples(cfg, data.y_test)
    out = {"threats": list(cfg.threats), "examples": int(len(idx)),
           "titles": {t: THREAT_TITLES[t] for t in cfg.threats}}
    if "l2" in cfg.threats:
        plan = l2_plan(cfg, data.x_test.shape[1:], data.num_classes)
        out["l2"] = {"eps": cfg.l2_eps, "attacks": list(plan.attacks),
                     "titles": {a: suite_title(a, p) for a, p in
                                {**plan.attacks, "pgd": plan.reference}.items()},
                     "masking_eps": plan.masking["eps"] if plan.masking else None}
    if "spatial" in cfg.threats:
        out["spatial"] = {**dataclasses.asdict(spatial_grid(cfg)), "title": spatial_grid(cfg).title()}
    if "corruptions" in cfg.threats:
        out["corruptions"] = list(cfg.corruptions)
    if "ga" in cfg.threats:
        out["ga"] = {"per_class": cfg.ga_searches, "steps": cfg.ga_steps}
    return out


def threat_settings(cfg, threat: str) -> dict:
    """What `threat`'s results depend on besides the model: its cache key."""
    sample = {"robust_per_class": cfg.robust_per_class, "seed": cfg.seed}
    if threat == "l2":
        return {**sample, "l2_eps": cfg.l2_eps, "params": cfg.l2_attack_params,
                "masking_per_class": cfg.masking_per_class}
    if threat == "spatial":
        return {**sample, "grid": dataclasses.asdict(spatial_grid(cfg))}
    if threat == "corruptions":
        return {**sample, "corruptions": list(cfg.corruptions)}
    if threat == "ga":
        return {"ga_searches": cfg.ga_searches, "ga_steps": cfg.ga_steps, "seed": cfg.seed}
    raise ValueError(f"no cached results for threat {threat!r}")


@dataclasses.dataclass
class ThreatJudge:
    """One model under the threats of evaluation.threats.

    Args:
        ctx: the `EvaluationContext`; name: the model's name; model: a logits
            model; model_print: its file's `fingerprint`.
    """

    ctx: object
    name: str
    model: object
    model_print: str

    def __post_init__(self):
        cfg, data = self.ctx.cfg, self.ctx.data
        idx, mask_idx = robust_samples(cfg, data.y_test)
        self.sample = (data.x_test[idx], data.y_test[idx])
        self.masking_sample = (data.x_test[mask_idx], data.y_test[mask_idx])

    def caches(self, threat: str, extra=()) -> tuple[ResultCache, PerImageCache]:
        settings = {**threat_settings(self.ctx.cfg, threat), "extra": list(extra)}
        cache = ResultCache(self.ctx.folder, f"{self.name}-{threat}", self.model_print, settings)
        return cache, PerImageCache(self.ctx.folder, f"{self.name}-{threat}", cache.key)

    def _progress(self, label: str):
        """A progress(done, total) callback that logs about four lines."""
        logged = {"quarter": 0}

        def progress(done: int, total: int):
            quarter = 4 * done // max(total, 1)
            if quarter > logged["quarter"]:
                logged["quarter"] = quarter
                self.ctx.log(f"  {self.name} {label}: {done}/{total} transforms")

        return progress

    def predict(self, x):
        return predict(self.model, x, self.ctx.cfg.batch_size)

    def l2(self) -> tuple[dict, np.ndarray]:
        """The L2 suite: (row, correct under every attack per image)."""
        ctx, cfg = self.ctx, self.ctx.cfg
        plan = l2_plan(cfg, self.sample[0].shape[1:], ctx.num_classes)
        cache, per_image = self.caches("l2")

        def attack(name, x, y, params):
            return run_attack(name, self.model, x, y, None, cfg, ctx.log, f"{self.name} L2", params)

        out = run_suite(attack, self.predict, plan, self.sample, self.masking_sample, cache,
                        per_image, ctx.log)
        correct = out.pop("robust_per_image")
        row = {"accuracy": out["robust_accuracy"], "examples": out["robust_examples"],
               "clean_accuracy": out["robust_clean_accuracy"], "eps": cfg.l2_eps,
               "masking_eps": plan.masking["eps"] if plan.masking else None,
               "attacks": {k: out[f"robust_{k}_accuracy"] for k in (*plan.attacks, "pgd")},
               "masking_checks": out["masking_checks"], "details": out["robust_details"]}
        return row, correct

    def spatial(self) -> tuple[dict, np.ndarray]:
        """The grid's worst case per image, with the single-transform profiles."""
        from lad_tf.attacks.spatial import identity_index, spatial_worst_case, transform_accuracy

        ctx, grid = self.ctx, spatial_grid(self.ctx.cfg)
        x, y = self.sample
        cache, per_image = self.caches("spatial")
        failed = per_image.get("robust")
        if failed is None or "row" not in cache.data:
            start = time.perf_counter()
            first = spatial_worst_case(self.predict, x, y, grid, progress=self._progress("spatial"))
            transforms = grid.transforms()
            rotations = transforms[(transforms[:, 1] == 0) & (transforms[:, 2] == 0)]
            shifts = transforms[transforms[:, 0] == 0]
            rot_acc = transform_accuracy(self.predict, x, y, rotations)
            shift_acc = transform_accuracy(self.predict, x, y, shifts)
            clean = float(np.mean(self.predict(x) == y)) if len(y) else 0.0
            worst = float(np.mean(first < 0)) if len(y) else 0.0
            singles = np.concatenate([rot_acc, shift_acc])
            zero = identity_index(grid)
            zero_acc = None if zero is None else float(
                transform_accuracy(self.predict, x, y, transforms[zero:zero + 1])[0])
            # zero transform = clean within one image (another batch shape may
            # flip an argmax tie); the grid's worst case <= every single transform
            checks = {
                "zero_transform_is_clean": {
                    "status": "not run" if zero_acc is None else
                    ("PASS" if abs(zero_acc - clean) <= 1 / len(y) + 1e-9 else "FLAG"),
                    "zero_transform": zero_acc, "clean": clean},
                "grid_below_single": {
                    "status": "PASS" if len(singles) == 0 or worst <= singles.min() + 1e-9
                    else "FLAG", "worst_case": worst,
                    "lowest_single": float(singles.min()) if len(singles) else None}}
            fooling = transforms[first[first >= 0]]
            row = {"accuracy": worst, "examples": int(len(y)), "clean_accuracy": clean,
                   "grid": dataclasses.asdict(grid), "title": grid.title(),
                   "transforms": int(len(transforms)),
                   "rotation_profile": {"angles": rotations[:, 0].tolist(),
                                        "accuracy": rot_acc.tolist()},
                   "shift_profile": {"shifts": shifts[:, 1:].tolist(),
                                     "accuracy": shift_acc.tolist()},
                   "masking_checks": checks,
                   "median_fooling_angle": float(np.median(np.abs(fooling[:, 0])))
                   if len(fooling) else None,
                   "seconds": time.perf_counter() - start}
            failed = first < 0
            per_image.put("robust", failed)
            cache.data.pop("row", None)
            cache.get("row", lambda: row)
        row = cache.data["row"]
        ctx.log(f"  {self.name} spatial ({row['title']}): worst case {row['accuracy']:.4f} on "
                f"{row['examples']} images ({row['seconds']:.0f} s)")
        return row, np.asarray(failed, bool)

    def corruptions(self) -> tuple[dict, np.ndarray | None]:
        """Every corruption of evaluation.corruptions: per corruption, mean, and
        correct under all of them per image (None when the images are the
        published MNIST-C's, which cannot be paired with the sample's)."""
        published, why = published_corruptions(self)
        if published is not None:
            return judge_published(self, published)
        from lad_tf.attacks.corruptions import corrupt

        cfg = self.ctx.cfg
        x, y = self.sample
        cache, per_image = self.caches("corruptions")
        rows, correct = {}, {}
        for name in cfg.corruptions:
            found = per_image.get(name)
            if found is None or name not in cache.data:
                start = time.perf_counter()
                images, info = corrupt(name, x, seed=cfg.seed)
                found = self.predict(images) == y
                per_image.put(name, found)
                row = {**info, "accuracy": float(np.mean(found)) if len(y) else 0.0,
                       "seconds": time.perf_counter() - start}
                cache.data.pop(name, None)
                cache.get(name, lambda row=row: row)
            rows[name], correct[name] = cache.data[name], np.asarray(found, bool)
        every = worst_case(self.predict(x) == y, correct)
        row = {"accuracy": float(np.mean([r["accuracy"] for r in rows.values()])),
               "all_accuracy": float(np.mean(every)) if len(y) else 0.0,
               "examples": int(len(y)), "per_corruption": rows,
               "source": "generated in-process from the test images (lad_tf.attacks.corruptions)"
                         + (f"; TFDS {TFDS_NAME} not read: {why}" if why else "")}
        log_corruptions(self, row)
        return row, every

    def ga(self) -> dict:
        """GA against the model: the share of searches it withstands."""
        from lad_tf.evaluation.ga_threat import ga_row

        return ga_row(self)

    def run(self, threats, linf_correct: np.ndarray | None) -> dict:
        """{threat: row} for `threats` (linf is the robust suite's, passed in as
        its per-image worst case), and "union" when named."""
        out, per_image = {}, {}
        if linf_correct is not None:
            per_image["linf"] = np.asarray(linf_correct, bool)
        for threat in threats:
            if threat in ("linf", "union"):
                continue
            if threat == "ga":
                out["ga"] = self.ga()
                continue
            out[threat], correct = getattr(self, threat)()
            if correct is not None:  # the published MNIST-C has no per-image pairing
                per_image[threat] = correct
        if "union" in threats:
            used = [t for t in PER_IMAGE_THREATS if t in threats and t in per_image]
            x, y = self.sample
            union = worst_case(self.predict(x) == y, {t: per_image[t] for t in used})
            out["union"] = {"accuracy": float(np.mean(union)) if len(y) else 0.0,
                            "examples": int(len(y)), "threats": used}
            self.ctx.log(f"  {self.name} union of {', '.join(used)}: {out['union']['accuracy']:.4f}")
        return out


def published_corruptions(judge):
    """(the published MNIST-C images per corruption, "") when
    evaluation.corruptions_source lets TFDS provide them and it can; else
    (None, why not; "" when generation was asked for)."""
    from lad_tf.data.mnist_c import load_published
    from lad_tf.utils.errors import LadError

    cfg, dataset = judge.ctx.cfg, judge.ctx.recipe.data.dataset
    if cfg.corruptions_source == "generated":
        return None, ""
    if dataset != "mnist":
        if cfg.corruptions_source == "tfds":
            raise LadError(f"evaluation.corruptions_source 'tfds': the published MNIST-C "
                           f"exists for MNIST only, not {dataset!r}; use 'generated'")
        return None, f"the published MNIST-C is for MNIST, not {dataset!r}"
    return load_published(cfg.corruptions, force=cfg.corruptions_source == "tfds")

def judge_published(judge, published: dict) -> tuple[dict, None]:
    """The published MNIST-C: per corruption, the accuracy on a class-balanced
    sample of its TFDS test split, as many images per class as the robust
    sample. TFDS keeps no index, so these are not the sample's images: no
    per-image result, no "all" row, not part of the union."""
    cfg = judge.ctx.cfg
    cache, _ = judge.caches("corruptions", extra=("tfds",))
    rows = {}
    for name, (images, labels) in published.items():
        def measure(images=images, labels=labels):
            start = time.perf_counter()
            idx, _ = robust_samples(cfg, labels)
            correct = judge.predict(images[idx]) == labels[idx]
            return {"accuracy": float(np.mean(correct)) if len(idx) else 0.0,
                    "examples": int(len(idx)), "tfds_images": int(len(labels)),
                    "seconds": time.perf_counter() - start}
        rows[name] = cache.get(name, measure)
    row = {"accuracy": float(np.mean([r["accuracy"] for r in rows.values()])),
           "all_accuracy": None, "examples": int(min(r["examples"] for r in rows.values())),
           "per_corruption": rows,
           "source": f"published MNIST-C read from TFDS {TFDS_NAME} (a class-balanced sample "
                     f"of each corruption's test split; not the robust suite's images, so "
                     f"not in the union)"}
    log_corruptions(judge, row)
    return row, None

def log_corruptions(judge, row: dict):
    every = row["all_accuracy"]
    judge.ctx.log(f"  {judge.name} corruptions: mean {row['accuracy']:.4f}"
                 + (f", all {every:.4f}" if every is not None else "") + "; lowest "
                 + ", ".join(f"{k} {v['accuracy']:.3f}" for k, v in
                             sorted(row["per_corruption"].items(),
                                    key=lambda kv: kv[1]["accuracy"])[:3]))


def evaluate_threats(ctx, name: str, model, path, linf_correct: np.ndarray | None) -> dict:
    """The rows of every threat of evaluation.threats beyond linf for one model
    ({} when the list names only linf).

    Args:
        ctx: the `EvaluationContext`; name: the model's name; model: a logits
            model; path: its .keras file (the cache key).
        linf_correct: bool [N] the robust suite's worst case per image on the
            same sample, or None when it did not run.
    """
    threats = tuple(ctx.cfg.threats)
    if not set(threats) - {"linf"}:
        return {}
    return ThreatJudge(ctx, name, model, fingerprint(path)).run(threats, linf_correct)
