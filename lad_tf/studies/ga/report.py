"""The GA study's report (RUN_DIR/ga/report.md) and figures (RUN_DIR/figures/ga_*.png)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lad_tf.defences import title
from lad_tf.evaluation.paper import TABLE_III, TABLE_IV
from lad_tf.lad.figures import new_figure, render
from lad_tf.utils.files import write_text
from lad_tf.utils.formatting import pct
from lad_tf.utils.monitoring import image_grid, save_png


def _name(model: str) -> str:
    return model if model.startswith("FT-") else title(model)


def samples_section(r: dict) -> list[str]:
    acgan = r.get("acgan", {})
    s = acgan.get("settings", {})
    averaged = acgan.get("averaged_steps", [])
    mean = (f" (the mean weights of the {len(averaged)} checkpoints at steps "
            f"{averaged[0]}-{averaged[-1]})" if len(averaged) > 1 else "")
    return ["## AC-GAN samples", "",
            f"{r['n']} class-conditional samples ({r['n'] // 10} per class) of the AC-GAN after "
            f"{acgan.get('chosen_step', acgan.get('steps_done', '?'))} of "
            f"{acgan.get('steps_done', '?')} generator steps{mean} (channels {s.get('channels')}, "
            f"n_critic {s.get('n_critic')}, critic pooling {s.get('pooling', 'average')}, "
            f"batch {s.get('batch_size')}):", "",
            "| read as their class by | accuracy |", "|---|---|",
            f"| the original LeNet | {pct(r['lenet_accuracy'])} |",
            f"| the AC-GAN's auxiliary classifier | {pct(r['aux_accuracy'])} |",
            f"| the judge | {pct(r['judge_accuracy'])} |", "",
            "LeNet per class: " + ", ".join(f"{c}: {pct(a)}"
                                            for c, a in enumerate(r["lenet_per_class"])), "",
            *([f"Within a class, the samples lie {r['spread_ratio']:.2f} times as far apart as "
               "real test digits of that class (mean L2 distance between two images; a "
               "generator collapsed to one image per class gives far less).", ""]
              if "spread_ratio" in r else [])]


def judge_section(r: dict) -> list[str]:
    rec = r["reconstructions"]
    return ["## The label-keeping judge", "",
            f"`JudgeNet` trained {r['epochs']} epochs on the training split ({r['augmentation']}), "
            f"epoch {r['epoch']} kept by validation accuracy "
            f"({', '.join(pct(v) for v in r['validation_accuracy'])}); {r['seconds']:.0f} s.", "",
            f"- clean test accuracy: **{pct(r['test_accuracy'])}**",
            f"- LAD's reconstructions G(phi(x)) of {rec['n']} test images read as their source "
            f"class: judge **{pct(rec['judge_keeps_source'])}**, original LeNet "
            f"{pct(rec['lenet_keeps_source'])}", ""]


def transfer_section(r: dict, ft: dict | None) -> list[str]:
    acc, c = r["accuracy"], r["crafting"]
    models = list(acc)
    lines = ["## Paper Table III, GA row: crafted on the black-box CNN", "",
             f"{c['n']} untargeted GA examples; on the black-box CNN itself: success "
             f"{pct(c['attack_success'])}, the auxiliary classifier keeps the source on "
             f"{pct(c['aux_keeps_source'])} ({c['seconds_per_example']:.2f} s per example).", "",
             "| adversarial set | paper: original | paper: FT-0.1 | "
             + " | ".join(f"ours: {_name(m)}" for m in models) + " |",
             "|---|---|---|" + "---|" * len(models),
             f"| GA | {pct(TABLE_III['ga'][0])} | {pct(TABLE_III['ga'][1])} | "
             + " | ".join(pct(acc[m]) for m in models) + " |", ""]
    if ft:
        lines += ["## Paper Table IV, GA-FT row: clean test accuracy", "",
                  "| model | paper | ours |", "|---|---|---|",
                  f"| GA-FT | {pct(TABLE_IV['ga-ft'])} | {pct(ft['clean_accuracy'])} |", "",
                  f"Eq. 4 fine-tuning of the original LeNet (the FT baselines' step) on "
                  f"{ft['examples']} GA examples crafted against it (sources: provider-split "
                  f"labels; success {pct(ft['crafting']['attack_success'])}), {ft['epochs']} "
                  f"epoch(s), {ft['training_seconds']:.0f} s training + "
                  f"{ft['crafting']['seconds']:.0f} s crafting.", ""]
    return lines


def whitebox_section(r: dict) -> list[str]:
    lines = ["## GA as a white-box attack on every model", "",
             "| model | accuracy under GA | attack success | success with the auxiliary "
             "classifier keeping the source | seconds per example |", "|---|---|---|---|---|"]
    for m, v in r.items():
        if isinstance(v, dict):
            lines.append(f"| {_name(m)} | {pct(v['accuracy'])} | {pct(v['attack_success'])} | "
                         f"{pct(v['valid_success'])} | {v['seconds_per_example']:.2f} |")
    return lines + [""]


def rates_section(r: dict) -> list[str]:
    lines = ["## Does a generated example still show its source class? (the judge)", "",
             "Attack success: the attacked model (the original LeNet; for the transfer set, "
             "the black-box CNN) leaves the source (targeted: reads the target). Changed "
             "images: successes the judge also reads as the new class; those are not "
             "adversarial examples but other digits.", "",
             "| examples | n | attack success | judge keeps the source | judge reads the "
             "new class | changed images |", "|---|---|---|---|---|---|"]
    for name, v in r.items():
        if isinstance(v, dict):
            lines.append(f"| {name} | {v['n']} | {pct(v['attack_success'])} | "
                         f"{pct(v['keeps_source'])} | {pct(v['reads_other'])} | "
                         f"{v['changed_count']} ({pct(v['changed'])}) |")
    return lines + [""]


def steps_section(r: dict) -> list[str]:
    lines = ["## GA against the original LeNet: its budget, untargeted and targeted", "",
             "| steps | n | untargeted success | with the auxiliary keeping the source | "
             "targeted: target reached | with the auxiliary keeping the source | "
             "seconds per example |", "|---|---|---|---|---|---|---|"]
    for steps, v in r.items():
        if isinstance(v, dict):
            t = v["targeted"]
            lines.append(f"| {steps} | {v['n']} | {pct(v['attack_success'])} | "
                         f"{pct(v['valid_success'])} | {pct(t['target_reached'])} | "
                         f"{pct(t['valid_success'])} | {v['seconds_per_example']:.2f} |")
    return lines + [""]


def write_report(run_dir: Path, results: dict, settings, log=print) -> Path:
    """RUN_DIR/ga/report.md from the finished parts, and the figures."""
    (run_dir / "figures").mkdir(exist_ok=True)
    lines = [f"# GA study of {run_dir.name}", "",
             "Settings: " + ", ".join(f"{k} {v}" for k, v in
                                      dataclasses.asdict(settings).items()), ""]
    if "samples" in results:
        lines += samples_section(results["samples"])
    if "judge" in results:
        lines += judge_section(results["judge"])
    if "transfer" in results:
        lines += transfer_section(results["transfer"], results.get("ga-ft"))
    if "whitebox" in results:
        lines += whitebox_section(results["whitebox"])
    if "rates" in results:
        lines += rates_section(results["rates"])
        judge_figure(results["rates"], run_dir / "figures" / "ga_judge.png")
    if "steps" in results:
        lines += steps_section(results["steps"])
    example_grids(run_dir)
    path = write_text(run_dir / "ga" / "report.md", "\n".join(lines))
    log(f"ga study: report {path}")
    return path


def example_grids(run_dir: Path) -> None:
    """figures/ga_samples.png and ga_transfer.png: one row per class, up to 10 images each."""
    for name, out in (("samples", "ga_samples"), ("transfer", "ga_transfer")):
        path = run_dir / "ga" / f"{name}.npz"
        if not path.is_file():
            continue
        d = np.load(path)
        classes = np.unique(d["source"])
        cols = min(10, min(int(np.sum(d["source"] == c)) for c in classes))
        rows = [d["images"][d["source"] == c][:cols] for c in classes]
        save_png(image_grid(np.concatenate(rows), len(classes), cols),
                 run_dir / "figures" / f"{out}.png")


def judge_figure(rates: dict, path: Path) -> None:
    """Bars per example set: attack success beside the judge's changed-image rate."""
    names = [n for n, v in rates.items() if isinstance(v, dict)]
    fig = new_figure(7.5, 0.35 * len(names) + 1.2)
    ax = fig.add_subplot(1, 1, 1)
    pos = np.arange(len(names))
    ax.barh(pos - 0.2, [rates[n]["attack_success"] for n in names], 0.4, label="attack success")
    ax.barh(pos + 0.2, [rates[n]["changed"] for n in names], 0.4,
            label="changed images (the judge reads the new class)")
    ax.set_yticks(pos, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the examples")
    ax.legend(loc="lower right", fontsize=8)
    save_png(render(fig), path, scale=1)
