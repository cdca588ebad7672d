"""The recipe's per-class counts against the data's classes (issue 23).

Every per-class count of a recipe draws from one split. Some draws take
exactly that many images of every class and fail for a class that has fewer
(`STRICT`: the attention SVMs' latents, boundary-guided generation's sources,
the evaluation's LAD test sets and diversity sources); the others take at
most what each class has (`CAPPED`, `lad_tf.utils.sampling.balanced_subset`), so
they always fit. `fit_recipe` checks the strict ones against the smallest
class of their split before anything is trained, and each class against the
few images every run needs (`MIN_IMAGES`):

    fit = fit_recipe(recipe, {"provider": [36, 40, ...], "test": [...], ...},
                     class_names=["0", "1", ...])
    fit.recipe     # the strict counts lowered to the smallest class of their split
    fit.changes    # what was lowered, and why
    fit.problems   # classes too small for any recipe

Your own data (`--data`) runs with `fit.recipe`; a zoo dataset stops with
`misfit_message`, which lists a `--set` that fits for each count. Pure and
TensorFlow-free, like `lad_tf.recipe.schema`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

# (recipe key, the split it draws from) of the draws that need `count` images
# of every class: a class with fewer raises. A count of 0 turns its draw off.
STRICT = (
    ("svm.per_class", "provider"),  # attention_svm.pair_datasets
    ("generation.per_class", "provider"),  # boundary.select_sources, as the next three
    ("hardening.per_class", "provider"),
    ("hardening.sweep_per_class", "provider"),  # only with hardening.sweep_eps
    ("evaluation.diversity_per_class", "provider"),
    ("evaluation.lad_per_class", "test"),
)
# The draws that take at most `count` images of every class (balanced_subset).
CAPPED = (
    ("baselines.per_class", "provider"), ("baselines.targeted_per_class", "provider"),
    ("selection.per_class", "validation"), ("export.per_class", "validation"),
    ("evaluation.per_class", "test"), ("evaluation.targeted_per_class", "test"),
    ("evaluation.cw_per_class", "test"), ("evaluation.robust_per_class", "test"),
    ("evaluation.masking_per_class", "test"),
)
# Images every class needs in a split, whatever the recipe: the attention SVMs
# fit on two and hold one out (svm.per_class >= 3); the evaluation measures
# every class on at least one test image.
MIN_IMAGES = {"provider": 3, "test": 1}
WHY = {"provider": "the attention SVMs fit on 2 and hold 1 out",
       "test": "the evaluation measures every class"}


@dataclasses.dataclass(frozen=True)
class RecipeFit:
    """What `fit_recipe` found.

    Attributes:
        recipe: the recipe with every strict count that does not fit lowered
            to the smallest class of its split (the recipe as given when
            there are problems).
        changes: one dict per lowered count: {"key", "from", "to", "split",
            "class" (the smallest class's name), "images" (its count)}.
        capped: the capped counts above the smallest class of their split,
            which that draw takes fewer of: {"key", "value", "split",
            "class", "images"}.
        problems: one dict per class and split below `MIN_IMAGES`:
            {"class", "split", "images", "needs", "total": the class's images in all splits}.
    """

    recipe: object
    changes: tuple = ()
    capped: tuple = ()
    problems: tuple = ()


def get_value(recipe, key: str):
    """The value of "section.name" in `recipe` (None where the recipe has no such key)."""
    section, name = key.split(".")
    return getattr(getattr(recipe, section), name, None)


def with_values(recipe, values: Mapping[str, object]):
    """`recipe` with {"section.name": value} replaced, one section at a time
    (the recipe and its sections are frozen; the new recipe is checked again)."""
    sections: dict[str, dict] = {}
    for key, value in values.items():
        section, name = key.split(".")
        sections.setdefault(section, {})[name] = value
    return dataclasses.replace(recipe, **{
        section: dataclasses.replace(getattr(recipe, section), **changed)
        for section, changed in sections.items()})


def _smallest(counts: Sequence[int], names: Sequence[str]) -> tuple[int, str]:
    """(count, name) of the first smallest class."""
    index = min(range(len(counts)), key=lambda k: counts[k])
    return int(counts[index]), names[index]


def fit_recipe(recipe, counts: Mapping[str, Sequence[int]],
               class_names: Sequence[str] = ()) -> RecipeFit:
    """Checks the recipe's per-class counts against the images of every class.

    Args:
        recipe: a `lad_tf.recipe.schema.Recipe`.
        counts: split name ("train", "validation", "provider", "test") ->
            images of each class 0..K-1 in it (zeros included).
        class_names: the name of each class (default "0", "1", ...).

    Returns: the `RecipeFit`.
    """
    num_classes = max(len(c) for c in counts.values())
    names = [str(n) for n in class_names] or [str(k) for k in range(num_classes)]
    problems = tuple(
        {"class": names[k], "split": split, "images": int(counts[split][k]), "needs": need,
         "total": int(sum(c[k] for c in counts.values()))}
        for k in range(num_classes) for split, need in MIN_IMAGES.items()
        if split in counts and int(counts[split][k]) < need)
    changes, capped = [], []
    for key, split in STRICT:
        value = get_value(recipe, key)
        if split not in counts or not value or (key == "hardening.sweep_per_class"
                                                and not recipe.hardening.sweep_eps):
            continue
        images, name = _smallest(counts[split], names)
        if value > images:
            changes.append({"key": key, "from": value, "to": images, "split": split,
                            "class": name, "images": images})
    for key, split in CAPPED:
        value = get_value(recipe, key)
        if split in counts and value and sum(counts[split]):  # an empty split: no draw
            images, name = _smallest(counts[split], names)
            if value > images:
                capped.append({"key": key, "value": value, "split": split, "class": name,
                               "images": images})
    fitted = recipe if problems or not changes else with_values(
        recipe, {c["key"]: c["to"] for c in changes})
    return RecipeFit(fitted, tuple(changes), tuple(capped), problems)


def refit(recipe, changes: Sequence[Mapping]):
    """`recipe` with a run's recorded `changes` applied where it still asks
    what the run was asked (so that a resumed run compares equal)."""
    values = {c["key"]: c["to"] for c in changes if get_value(recipe, c["key"]) == c["from"]}
    return with_values(recipe, values) if values else recipe


def change_line(change: Mapping) -> str:
    """One printed line for a lowered count."""
    return (f"recipe: {change['key']} {change['from']} -> {change['to']} (the "
            f"{change['split']} split's smallest class, {change['class']!r}, has "
            f"{change['images']} images)")


def capped_line(capped: Sequence[Mapping]) -> str:
    """One printed line for the capped counts above the smallest class of their split."""
    return ("recipe: " + ", ".join(f"{c['key']} {c['value']}" for c in capped)
            + " take at most what each class has (smallest: " + ", ".join(
                sorted({f"{c['split']} {c['images']}" for c in capped})) + ")")


def misfit_message(changes: Sequence[Mapping], dataset: str) -> str:
    """The one error line for a zoo dataset whose recipe asks more than it holds."""
    parts = [f"{c['key']}={c['from']} but the {c['split']} split's smallest class, "
             f"{c['class']!r}, has {c['images']} images (--set {c['key']}={c['to']})"
             for c in changes]
    return (f"the recipe asks more images per class than the {dataset} data hold: "
            + "; ".join(parts) + "; pass those --set values, or smaller ones")


def min_class_images(provider_fraction: float, test_fraction: float | None) -> int:
    """The fewest images a class needs for `MIN_IMAGES` in every split, with
    the split rule's worst rounding (`lad_tf.data.splits.stratified_split`
    gives a class the floor or the ceiling of its share).

    Args:
        provider_fraction: the recipe's data.provider_fraction.
        test_fraction: the part held out as the test split (a folder: 0.2);
            None: the data bring their own test split (not counted here).
    """
    n = 1
    while True:
        test = math.floor(n * test_fraction) if test_fraction else None
        rest = n - math.ceil(n * test_fraction) if test_fraction else n
        if math.floor(rest * provider_fraction) >= MIN_IMAGES["provider"] and (
                test is None or test >= MIN_IMAGES["test"]):
            return n
        n += 1


def too_few_message(fit: RecipeFit, provider_fraction: float, test_fraction: float | None,
                    where: str) -> str:
    """The one error line for classes with too few images (`fit.problems`).

    Args:
        where: what holds the images, e.g. "the folder", "the .npz", "the digits data".
    """
    shown, totals = {}, {}
    for p in fit.problems:
        shown.setdefault(p["class"], []).append(f"{p['images']} in the {p['split']} split")
        totals[p["class"]] = p["total"]
    one = len(shown) == 1
    classes = "; ".join(f"class {name!r} has {totals[name]} images, {' and '.join(parts)}"
                        for name, parts in shown.items())
    needs = ", ".join(f"{n} in the {split} split ({WHY[split]})" for split, n in MIN_IMAGES.items())
    least = min_class_images(provider_fraction, test_fraction)
    test = (f"with {test_fraction:.0%} held out as the test split" if test_fraction
            else "besides its test images")
    return (f"too few images to harden: {classes}; every class needs {needs}, so at least "
            f"{least} images in {where} (data.provider_fraction {provider_fraction:.4g}, "
            f"{test}): add images to {'that class' if one else 'those classes'} or leave "
            f"{'it' if one else 'them'} out")
