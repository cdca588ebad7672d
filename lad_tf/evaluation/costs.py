"""What each method cost to train, read from a run's metrics: the tables'
"hardening wall time" row and the size of the frontier figure's markers."""

from __future__ import annotations

import json
from pathlib import Path

LAD_SETUP = "lad-setup"  # key of method_seconds: generator + SVMs + generation
SETUP_STAGES = ("generator", "svm", "generate")


def method_seconds(run_dir: Path) -> dict:
    """Hardening wall time per method, and LAD's set-up stages, from the run's
    metrics; a method trained in a harden stage that has not finished yet
    (no metrics/harden.json entry) is read from its own methods/<name>.json."""
    metrics = {}
    for stage in (*SETUP_STAGES, "harden"):
        path = Path(run_dir) / "metrics" / f"{stage}.json"
        if path.is_file():
            metrics[stage] = json.loads(path.read_text())
    methods = metrics.setdefault("harden", {}).setdefault("methods", {})
    for path in sorted((Path(run_dir) / "methods").glob("*.json")):
        if path.stem not in methods:
            try:
                methods[path.stem] = json.loads(path.read_text())
            except json.JSONDecodeError:
                continue  # a file being written: its time is missing from this report
    return seconds_from_metrics(metrics)


def seconds_from_metrics(metrics: dict) -> dict:
    """method -> hardening seconds, plus LAD_SETUP -> the set-up stages'
    seconds when a LAD method was trained; `metrics`: stage -> its metrics."""
    out = {m: info["seconds"] for m, info in metrics.get("harden", {}).get("methods", {}).items()
           if "seconds" in info}
    setup = [metrics[s]["seconds"] for s in SETUP_STAGES
             if isinstance(metrics.get(s, {}).get("seconds"), (int, float))]
    if setup and any(m in out for m in ("lad", "lad+pgd")):
        out[LAD_SETUP] = float(sum(setup))
    return out


def training_seconds(seconds: dict) -> dict:
    """Per method, hardening seconds plus LAD's set-up stages for the LAD methods."""
    setup = seconds.get(LAD_SETUP, 0.0)
    return {m: v + (setup if m == "lad" or m.startswith("lad+") else 0.0)
            for m, v in seconds.items() if m != LAD_SETUP}
