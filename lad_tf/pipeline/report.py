"""`report.json` and `report.md` of a run: every number the stages measured."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from lad_tf.evaluation.costs import seconds_from_metrics
from lad_tf.evaluation.tables import render_tables
from lad_tf.utils.files import write_json, write_text
from lad_tf.utils.formatting import pct


def write_report(run_dir: Path, recipe, data_summary: dict, metrics: dict, total_seconds: float):
    """Writes report.json (machine-readable) and report.md (for people)."""
    report = {
        "recipe": recipe.name,
        "dataset": data_summary,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count()},
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "wall_seconds_total": total_seconds,
        "stages": metrics,
    }
    write_json(run_dir / "report.json", report)
    write_text(run_dir / "report.md", render_markdown(report, recipe))


def data_details(dataset: dict) -> str:
    """", classes a, b, c (...); training split streamed from disk" for your own data."""
    names = dataset.get("class_names") or []
    text = ""
    if names:
        text += ", classes " + ", ".join(names[:12]) + (f" (... {len(names)} in all)"
                                                        if len(names) > 12 else "")
    if "train" in dataset.get("streamed", []):
        text += "; training split streamed from disk"
    return text


def _classifier_line(st: dict) -> str:
    own = st["classifier"].get("provided")
    source = ""
    if own:
        cut = f" cut at `{own['latent_layer']}`" if own.get("latent_layer") else ""
        stripped = (f", final {own['stripped_activation']} stripped"
                    if own.get("stripped_activation") else "")
        source = f"your model `{own['source']}`{cut} (not trained{stripped}); "
    return (f"- Classifier: {source}provider-split accuracy "
            f"{pct(st['classifier'].get('provider_accuracy'))}.")


def _svm_line(s: dict) -> str:
    count = len(s["pairs"])
    t = s.get("targets") or {}
    chosen = ("" if t.get("mode") != "nearest" else
              f"; targets: each class's {t['k']} nearest classes by {t['measure']}, "
              f"{len(t['pairs'])} generation pairs")
    return (f"- Attention SVMs ({count} pair{'s' if count > 1 else ''}, "
            f"attention {s['attention']}{chosen}): "
            f"held-out accuracy mean {pct(s['heldout_accuracy_mean'])}, worst "
            f"{pct(s['heldout_accuracy_min'])} (pair {s['worst_pair']}).")


def stage_lines(report: dict, recipe) -> list[str]:
    """One bullet per finished stage with its headline numbers."""
    st, lines = report["stages"], []
    if "classifier" in st:
        lines.append(_classifier_line(st))
    if "generator" in st:
        g = st["generator"]
        paper = (" (paper, MNIST after 1000 epochs: 0.00757 / 0.00765)"
                 if report["dataset"].get("name") == "mnist" else "")
        lines.append(f"- Generator (Eq. 2): reconstruction MSE train {g['train_mse']:.5f}, "
                     f"test {g['test_mse']:.5f}{paper}.")
    if "svm" in st:
        lines.append(_svm_line(st["svm"]))
    if "harden" in st:
        lines.append(f"- Hardening (Eq. 4, alpha {recipe.hardening.alpha}): "
                     f"{st['harden']['generated_examples']} generated examples at eps "
                     f"{list(recipe.hardening.eps)} ({st.get('generate', {}).get('eps_unit', '')} "
                     f"units); methods built: {', '.join(st['harden'].get('methods', {}))}; "
                     f"exported: {st['harden'].get('exported_method', 'lad')}.")
    if "path" in st.get("export", {}):
        lines.append(f"- Export: `{st['export']['path']}` (signature serving_default).")
    return lines


def generation_table(gen: dict) -> list[str]:
    """The generation stage's eps sweep as a Markdown table; [] without one."""
    if not gen:
        return []
    lines = ["", f"## Boundary-guided generation (eps in {gen['eps_unit']} units, "
                 f"{gen['sweep_per_class']} provider images per source class and target)", "",
             "| eps | examples | attack success | targeted success | latent success | "
             "inconsistency (Eq. 3) |", "|---|---|---|---|---|---|"]
    for row in gen["sweep"]:
        lines.append(f"| {row['eps']:g} | {row['examples']} | {pct(row['attack_success'])} | "
                     f"{pct(row['targeted_success'])} | {pct(row['latent_success'])} | "
                     f"{pct(row['inconsistency'])} |")
    return lines + ["", "eps 0 is the plain reconstruction G(phi(x)). Figures (`figures/`): "
                    "fig3_reconstructions, fig4_examples, fig5_pair_success, fig6_transitions, "
                    "fig7_accuracy_vs_eps (PNG; the same images in TensorBoard)."]


def choice_table(choice: dict) -> list[str]:
    """The export choice as a Markdown section: the rule, each candidate's
    validation figures, the chosen model; [] for a run without one."""
    if not choice:
        return []
    lines = ["", "## Which model is exported", ""]
    if not choice.get("candidates"):
        return lines + [f"{choice['rule']}: `{choice['chosen']}`."]
    how = ("forced by `--export-method` (`export.method`)" if choice["forced"] else
           f"the {choice['rule']}")
    lines += [f"Exported: **{choice['chosen']}**, {how}. Judged on {choice['examples']} "
              f"validation images (never provider or test images), L-inf eps {choice['eps']:g}, "
              f"worst case per image over {', '.join(choice['suite'])}.", "",
              "| model | validation clean | validation worst case | eligible |",
              "|---|---|---|---|"]
    for name, row in choice["candidates"].items():
        bold = "**" if name == choice["chosen"] else ""
        lines.append(f"| {bold}{name}{bold} | {pct(row['clean'])} | {pct(row['worst_case'])} | "
                     f"{'yes' if row['eligible'] else 'no (clean accuracy)'} |")
    if choice.get("warning"):
        lines += ["", f"Warning: {choice['warning']}."]
    return lines + ["", "Any other model of the run: `python -m lad_tf.export RUN_DIR --method "
                        "NAME`."]


def render_markdown(report: dict, recipe) -> str:
    """report.md: data and machine, the robustness tables (`render_tables`),
    each stage's headline numbers, the generation sweep and the wall times.

    Args:
        report: report.json's content; recipe: the run's resolved `Recipe`.
    """
    st = report["stages"]
    ev = st.get("evaluate", {})
    robustness = (render_tables(ev, seconds_from_metrics(st), report["dataset"].get("name", ""))
                  if "models" in ev else
                  "Not evaluated in this run: `python -m lad_tf.evaluate RUN_DIR`.")
    lines = [
        f"# LAD run report: {recipe.name}",
        "",
        f"Data: {report['dataset'].get('source')}; "
        + ", ".join(f"{v['count']} {k}" for k, v in report['dataset'].get('splits', {}).items())
        + " images" + data_details(report["dataset"]) + f". Finished {report['finished']}; "
        f"total wall time {report['wall_seconds_total']:.0f} s on "
        f"{report['machine']['cpus']} CPUs ({report['machine']['platform']}).",
        "", "## Robustness", "", robustness, "", "## Stages", "",
    ]
    lines += stage_lines(report, recipe) + generation_table(st.get("generate", {}))
    lines += choice_table(st.get("harden", {}).get("export_choice") or {})
    lines += ["", "## Wall time per stage", "", "| stage | seconds |", "|---|---|"]
    for name, m in st.items():
        if "seconds" in m and isinstance(m["seconds"], (int, float)):
            lines.append(f"| {name} | {m['seconds']:.1f} |")
    return "\n".join(lines) + "\n"
