"""The house rules of the package's layout (issue 26): imports only go down the
layers of pyproject.toml's import-linter contract; the top level holds only the
API, the version and thin command entry points; no module, class or function
grows past the sizes a reader can hold; every documented command answers --help
without TensorFlow."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lad_tf"
COMMANDS = ("harden", "evaluate", "compare", "export", "client", "serve", "study", "ga_study",
            "acgan", "acgan_select", "zoo")
LIMITS = {"module": 400, "class": 200, "function": 60}  # lines


def test_imports_only_go_down_the_layers():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    done = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 kept, 0 broken" in done.stdout


def test_the_top_level_holds_the_api_the_version_and_thin_entry_points():
    allowed = {"__init__.py", "api.py", "_version.py"} | {f"{c}.py" for c in COMMANDS}
    top = {p.name for p in PACKAGE.glob("*.py")}
    assert top <= allowed, sorted(top - allowed)
    for command in COMMANDS:
        entry = PACKAGE / ("zoo/__main__.py" if command == "zoo" else f"{command}.py")
        text = entry.read_text()
        assert len(text.splitlines()) < 25, entry
        assert f"from lad_tf.cli.{command} import main" in text, entry


def _sizes():
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        name = path.relative_to(ROOT).as_posix()
        yield "module", name, len(source.splitlines())
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                yield "class", f"{name}:{node.name}", node.end_lineno - node.lineno + 1
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield "function", f"{name}:{node.name}", node.end_lineno - node.lineno + 1


def test_no_module_class_or_function_outgrows_its_limit():
    over = [f"{kind} {name}: {lines} lines (limit {LIMITS[kind]})"
            for kind, name, lines in _sizes() if lines > LIMITS[kind]]
    assert not over, "\n".join(over)


def _documented_commands() -> set[str]:
    text = "\n".join(p.read_text() for p in [ROOT / "README.md", *ROOT.glob("zoo/*/MODEL_CARD.md"),
                                              ROOT / "export" / "README.md"])
    return set(re.findall(r"python -m (lad_tf(?:\.\w+)+)", text))


def test_every_documented_command_exists():
    documented = {name.split(".", 1)[1] for name in _documented_commands()}
    assert documented <= set(COMMANDS), sorted(documented - set(COMMANDS))


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_answers_help_without_tensorflow(command):
    probe = ("import runpy, sys; sys.argv = ['x', '--help']\n"
             "try:\n"
             f"    runpy.run_module('lad_tf.{command}', run_name='__main__')\n"
             "except SystemExit as e:\n"
             "    assert e.code == 0, e.code\n"
             "assert 'tensorflow' not in sys.modules, 'TensorFlow imported for --help'\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: python -m lad_tf." in done.stdout
