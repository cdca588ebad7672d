"""What made a result: the versions of the code (lad_tf, its git commit, TF, Keras)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lad_tf._version import __version__

_REPO = Path(__file__).resolve().parents[2]  # lad_tf/utils/provenance.py -> the checkout


def code_version() -> dict:
    """Versions of the code that made a result: lad_tf, its git commit (None
    outside a git checkout), whether the checkout had uncommitted changes, TF, Keras."""
    import keras  # lazy: the recipe layers stay TensorFlow-free
    import tensorflow as tf

    version = {"lad_tf": __version__, "git_commit": None, "git_dirty": None,
               "tensorflow": tf.__version__, "keras": keras.__version__}
    if (_REPO / ".git").exists():
        try:
            def git(*args):
                return subprocess.run(["git", "-C", str(_REPO), *args], capture_output=True,
                                      text=True, timeout=10, check=True).stdout.strip()
            version["git_commit"] = git("rev-parse", "HEAD")
            version["git_dirty"] = bool(git("status", "--porcelain", "--untracked-files=no"))
        except (OSError, subprocess.SubprocessError):
            pass
    return version
