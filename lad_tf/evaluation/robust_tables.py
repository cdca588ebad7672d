"""Markdown rows and notes of the robust suite in the methods x attacks table."""

from __future__ import annotations

from collections.abc import Callable

from lad_tf.evaluation.robust import (
    HIGH_EPS_LIMIT,
    REFERENCE,
    SQUARE_MARGIN,
    STEPS_MARGIN,
)
from lad_tf.utils.formatting import pct

CHECKS = ("high_eps", "square_vs_white_box", "more_steps")


def _check_title(key: str, suite: dict) -> str:
    titles = suite["titles"]
    return {"high_eps": f"masking check (a): PGD at eps {suite['masking_eps']:g} ~ 0%",
            "square_vs_white_box": "masking check (b): Square not below the white-box attacks",
            "more_steps": "masking check (c): "
                          f"{titles.get('pgd_restarts', 'PGD x restarts')} <= {titles[REFERENCE]}",
            }[key]


def _check_cell(key: str, c: dict) -> str:
    if c["status"] == "not run":
        return "not run"
    if key == "high_eps":
        return f"{pct(c['accuracy'])} {c['status']}"
    if key == "square_vs_white_box":
        return f"{pct(c['square'])} vs {pct(c['best_white_box'])} {c['status']}"
    return f"{pct(c['pgd_restarts'])} vs {pct(c['pgd'])} {c['status']}"


def table_rows(result: dict, names: list[str]) -> list[str]:
    """Markdown rows of the methods x attacks table: each suite attack, the
    worst case (bold) and the three masking checks; [] without a suite."""
    suite = result.get("robust")
    models = result["models"]
    if not suite or not any("robust_accuracy" in models[n] for n in names):
        return []

    def row(title, key, bold=False):
        cells = [pct(models[n].get(key)) if key in models[n] else "not run" for n in names]
        cells = [f"**{c}**" if bold and c != "not run" else c for c in cells]
        return f"| {title} | " + " | ".join(cells) + " |"

    lines = [row(f"robust sample, clean ({suite['examples']} images)", "robust_clean_accuracy")]
    lines += [row(suite["titles"][a], f"robust_{a}_accuracy") for a in suite["attacks"]]
    lines.append(row("**worst case (robust accuracy)**", "robust_accuracy", bold=True))
    if REFERENCE not in suite["attacks"]:
        lines.append(row(f"{suite['titles'][REFERENCE]}, same images (check c)",
                         f"robust_{REFERENCE}_accuracy"))
    for key in CHECKS:
        lines.append(f"| {_check_title(key, suite)} | " + " | ".join(
            _check_cell(key, models[n]["masking_checks"][key]) if "masking_checks" in models[n]
            else "not run" for n in names) + " |")
    return lines


def notes(result: dict, names: list[str], title: Callable[[str], str] = str) -> list[str]:
    """Markdown paragraphs under the table: what the suite ran and each check's verdict."""
    suite = result.get("robust")
    if not table_rows(result, names):
        return []
    models, titles = result["models"], suite["titles"]
    flagged = {k: [title(n) for n in names
                   if models[n].get("masking_checks", {}).get(k, {}).get("status") == "FLAG"]
               for k in CHECKS}

    def verdict(key):
        return ("flagged: " + ", ".join(flagged[key])) if flagged[key] else "no model flagged"

    return [
        "", f"Robust suite: one class-balanced sample of {suite['examples']} test images "
            f"({suite['per_class']} per class), every attack at eps {suite['eps']:g} against "
            "each model; the worst case counts an image as robust only if it is classified "
            "correctly clean and under every suite attack ("
            + ", ".join(suite["titles"][a] for a in suite["attacks"]) + "). ART 1.20 has no "
            "FAB, so the AutoAttack ensemble here is APGD-CE + APGD-T + Square (no FAB-T), "
            "with PGD and restarts beside it."
            + "".join(f" Not run: {a} ({why})." for a, why in suite.get("skipped", {}).items()),
        "", "Gradient-masking checks: "
            f"(a) PGD at eps {suite['masking_eps']:g} on {suite['masking_examples']} of these "
            f"images can paint any image, so accuracy must be ~0 (FLAG above "
            f"{100 * HIGH_EPS_LIMIT:g}%): {verdict('high_eps')}. "
            "(b) The black-box Square attack must not beat the best white-box attack by more "
            f"than {100 * SQUARE_MARGIN:g} points, else gradients mislead the white-box attacks: "
            f"{verdict('square_vs_white_box')}. "
            "(c) More steps and restarts must not raise accuracy: "
            f"{titles.get('pgd_restarts', 'PGD with restarts')} at most {100 * STEPS_MARGIN:g} "
            f"point above {titles[REFERENCE]} on the same images: "
            f"{verdict('more_steps')}.",
    ]
