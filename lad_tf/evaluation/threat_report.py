"""The threats beyond L-inf in a report: one table (threats as rows, models as
columns), the corruptions one by one, and a grouped bar chart where one sees
at a glance which model holds under which threat.

Reads what `lad_tf.evaluation.threats` wrote into an evaluation result:
result["threats"] (what ran) and models[name]["threats"] (the numbers).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lad_tf.lad.figures import HEADER_SIZE, LABEL_SIZE, TITLE_SIZE, new_figure, render
from lad_tf.utils.formatting import pct


def _row(label: str, cells) -> str:
    return f"| {label} | " + " | ".join(cells) + " |"


def _get(model: dict, threat: str, key: str = "accuracy"):
    row = model.get("threats", {}).get(threat)
    if not row or row.get("status") == "not run":
        return None
    return row.get(key)


def _checks(model: dict, threat: str) -> str:
    row = model.get("threats", {}).get(threat) or {}
    checks = row.get("masking_checks")
    if not checks:
        return "n/a"
    return ", ".join(f"{k} {v['status']}" for k, v in checks.items())


def has_threats(result: dict, names: Sequence[str]) -> bool:
    """Whether any of the models has a result beyond L-inf."""
    return any(result["models"][n].get("threats") for n in names)


def threat_values(result: dict, names: Sequence[str]) -> dict[str, list]:
    """Threat title -> one accuracy (or None) per model, in report order: the
    L-inf worst case, L2, spatial, the corruptions' mean, GA, the union."""
    summary, models = result.get("threats") or {}, result["models"]
    eps = (result.get("robust") or {}).get("eps")
    out = {}
    if any("robust_accuracy" in models[n] for n in names):
        out[f"L-inf eps {eps:g}" if eps is not None else "L-inf"] = [
            models[n].get("robust_accuracy") for n in names]
    titles = {"l2": f"L2 eps {summary.get('l2', {}).get('eps', 0):g}",
              "spatial": "spatial grid", "corruptions": "corruptions (mean)", "ga": "GA",
              "union": "union"}
    for threat, title in titles.items():
        values = [_get(models[n], threat) for n in names]
        if any(v is not None for v in values):
            out[title] = values
    return out


def threat_rows(result: dict, names: Sequence[str]) -> list[str]:
    """Table rows (under a header of `names`): each threat's number, its
    checks, the corruptions one by one."""
    summary, models = result.get("threats") or {}, result["models"]
    eps = (result.get("robust") or {}).get("eps")
    lines = []
    if any("robust_accuracy" in models[n] for n in names):
        lines.append(_row(f"**L-inf** eps {eps:g}: worst case (the robust suite above)",
                          (pct(models[n].get("robust_accuracy")) for n in names)))
    if "l2" in summary:
        s = summary["l2"]
        attacks = ", ".join(s["titles"][a].replace(", L2", "") for a in s["attacks"])
        lines.append(_row(f"**L2** eps {s['eps']:g}: worst case ({attacks})",
                          (pct(_get(models[n], "l2")) for n in names)))
        for a in (*s["attacks"], "pgd"):
            lines.append(_row(f"L2 {s['titles'][a].replace(', L2', '')}", (pct(
                (_get(models[n], "l2", "attacks") or {}).get(a)) for n in names)))
        lines.append(_row(f"L2 masking checks (a: PGD at eps {s['masking_eps'] or 0:.1f}; "
                          "b: Square vs white box; c: PGD-100 vs PGD-40)",
                          (_checks(models[n], "l2") for n in names)))
    if "spatial" in summary:
        lines.append(_row(f"**spatial**: worst case over {summary['spatial']['title']}",
                          (pct(_get(models[n], "spatial")) for n in names)))
        lines.append(_row("spatial, lowest single transform (rotation or shift alone)", (pct(
            (_get(models[n], "spatial", "masking_checks") or {}).get(
                "grid_below_single", {}).get("lowest_single")) for n in names)))
        lines.append(_row("spatial checks (zero transform = clean; grid <= every single one)",
                          (_checks(models[n], "spatial") for n in names)))
    if "corruptions" in summary:
        k = len(summary["corruptions"])
        lines.append(_row(f"**corruptions**: mean of {k} (MNIST-C)",
                          (pct(_get(models[n], "corruptions")) for n in names)))
        every = [_get(models[n], "corruptions", "all_accuracy") for n in names]
        if any(v is not None for v in every):  # none for the published MNIST-C's images
            lines.append(_row(f"corruptions: correct under all {k}", map(pct, every)))
    if "ga" in summary:
        lines.append(_row(f"**GA** white box ({summary['ga']['per_class']} searches per class, "
                          f"{summary['ga']['steps']} steps): the model keeps the class",
                          (pct(_get(models[n], "ga")) if _get(models[n], "ga") is not None
                           else "not run" for n in names)))
    if "union" in summary.get("threats", []):
        used = next((models[n]["threats"]["union"]["threats"] for n in names
                     if "union" in models[n].get("threats", {})), [])
        lines.append(_row(f"**union** ({', '.join(used)}): correct under all, per image",
                          (pct(_get(models[n], "union")) for n in names)))
    return lines


def corruption_rows(result: dict, names: Sequence[str]) -> list[str]:
    """One row per corruption: its title, severity and accuracy per model."""
    summary, models = result.get("threats") or {}, result["models"]
    lines = []
    for c in summary.get("corruptions", []):
        rows = [(_get(models[n], "corruptions", "per_corruption") or {}).get(c) for n in names]
        info = next((r for r in rows if r), None)
        if info is None:
            continue
        params = ", ".join(f"{k} {v}" for k, v in info.get("params", {}).items())
        mark = " (approximated)" if info.get("approximation") else ""
        label = (f"{info.get('title', c)} ({params}){mark}" if "params" in info
                 else f"{c} (published MNIST-C, TFDS)")
        lines.append(_row(label,
                          (pct(r["accuracy"]) if r else "n/a" for r in rows)))
    return lines


def threat_section(result: dict, names: Sequence[str], titles: Sequence[str]) -> list[str]:
    """The "Threats beyond L-inf" section of a report; [] when none ran."""
    if not has_threats(result, names):
        return []
    summary = result.get("threats") or {}
    header = ["| | " + " | ".join(titles) + " |", "|---|" + "---|" * len(titles)]
    lines = ["", "### Threats beyond L-inf", "",
             f"Every per-image threat on the robust suite's {summary.get('examples')} test "
             "images, so that the union is a per-image AND; GA makes its own images from the "
             "AC-GAN. Commands: `python -m lad_tf.evaluate RUN_DIR --threats "
             f"{','.join(summary.get('threats', []))}`.", ""]
    lines += header + threat_rows(result, names)
    rows = corruption_rows(result, names)
    if rows:
        lines += ["", "Corruptions one by one (severity parameters as MNIST-C's; approximated: "
                      "see `lad_tf/attacks/corruptions.py`):", ""] + header + rows
    return lines


def threats_figure(result: dict, names: Sequence[str], titles: Sequence[str]) -> np.ndarray:
    """Grouped bars: one group per threat, one bar per model (accuracy, %).

    Returns: float32 [1, H, W, 3] in [0, 1].
    """
    values = threat_values(result, names)
    if not values:
        raise ValueError("threats_figure needs models with threat results")
    threats = list(values)
    fig = new_figure(max(7.0, 1.2 * len(threats) * max(1, len(names)) / 3 + 3), 4.5)
    ax = fig.subplots()
    width = 0.8 / max(1, len(names))
    x = np.arange(len(threats))
    for i, title in enumerate(titles):
        heights = [100 * (values[t][i] if values[t][i] is not None else np.nan) for t in threats]
        bars = ax.bar(x + (i - (len(names) - 1) / 2) * width, heights, width, label=title)
        for bar, h in zip(bars, heights):
            if np.isfinite(h):
                ax.text(bar.get_x() + bar.get_width() / 2, h + 1, f"{h:.0f}", ha="center",
                        va="bottom", fontsize=7)
    ax.set_xticks(x, threats, fontsize=LABEL_SIZE - 1)
    ax.set_ylim(0, 110)
    ax.set_ylabel("accuracy (%)", fontsize=LABEL_SIZE)
    ax.set_title("Which model holds where: accuracy under each threat", fontsize=HEADER_SIZE)
    ax.grid(True, axis="y", alpha=0.4)
    ax.legend(fontsize=TITLE_SIZE, loc="upper right", ncol=min(4, len(names)))
    return render(fig)
