"""The stage table (lad_tf.pipeline.runner): its order and data flow, and how
`run_stages` reuses, reruns and invalidates stages, on stand-in stages that
write small files (the real stages: test_resume.py, test_cli.py)."""

import json

from lad_tf.pipeline.run import Run
from lad_tf.pipeline.runner import MODELS, STAGE_TABLE, Stage, run_stages
from lad_tf.recipe.names import STAGE_ARTIFACTS as ARTIFACTS
from lad_tf.recipe.names import STAGES


def test_table_follows_the_stage_names_and_feeds_each_stage_from_earlier_ones():
    assert tuple(stage.name for stage in STAGE_TABLE) == STAGES
    made = {"metrics"}  # every stage may read the metrics of the earlier ones
    outputs = {"classifier": {"classifier"}, "generator": {"generator"},
               "svm": {"svm", "targets"}, "harden": {"hardened"}}
    for stage in STAGE_TABLE:
        assert stage.artifact == ARTIFACTS[stage.name]
        assert set(stage.inputs) <= made, (stage.name, stage.inputs)
        assert set(stage.figure_inputs) <= made | outputs.get(stage.name, set())
        made |= outputs.get(stage.name, set())
    assert set(MODELS) <= made
    assert "methods" in dict((s.name, s.owns) for s in STAGE_TABLE)["harden"]


def fake_table(calls: list) -> tuple:
    """Three stages a -> b -> c; b owns b-parts/, c owns c-part.txt."""
    def make(name, owns=()):
        def run(run_, *inputs):
            calls.append(name)
            for pattern in owns:  # partial work, as harden's methods/
                (run_.run_dir / pattern).mkdir(exist_ok=True)
                (run_.run_dir / pattern / "part").write_text(name)
            (run_.run_dir / f"{name}.out").write_text(name)
            return {"value": len(calls)}, {name: f"model-{name}"}

        def load(run_):
            calls.append(f"load-{name}")
            return {name: f"loaded-{name}"}
        inputs = {"a": (), "b": ("a",), "c": ("a", "b", "metrics")}[name]
        return Stage(name, f"{name}.out", inputs, run, load, owns=owns)
    return make("a"), make("b", ("b-parts",)), make("c", ("c-parts",))


def make_run(tmp_path, resume: bool) -> Run:
    (tmp_path / "metrics").mkdir(exist_ok=True)
    return Run(tmp_path, None, None, None, False, True, None, "", resume)


def test_fresh_run_runs_every_stage_and_passes_outputs_on(tmp_path):
    calls = []
    outcome = run_stages(make_run(tmp_path, False), table=fake_table(calls))
    assert calls == ["a", "b", "c"]
    assert outcome.outputs == {"a": "model-a", "b": "model-b", "c": "model-c"}
    assert [outcome.metrics[n]["value"] for n in "abc"] == [1, 2, 3]
    saved = json.loads((tmp_path / "metrics" / "b.json").read_text())
    assert saved["value"] == 2 and saved["seconds"] >= 0


def test_resume_reuses_finished_stages(tmp_path):
    run_stages(make_run(tmp_path, False), table=fake_table([]))
    (tmp_path / "report.md").write_text("kept: no stage ran")
    calls = []
    outcome = run_stages(make_run(tmp_path, True), table=fake_table(calls))
    assert calls == ["load-a", "load-b", "load-c"]
    assert outcome.metrics["c"]["value"] == 3 and outcome.outputs["b"] == "loaded-b"
    assert (tmp_path / "report.md").is_file()


def test_a_recomputed_stage_makes_every_later_artifact_stale(tmp_path):
    run_stages(make_run(tmp_path, False), table=fake_table([]))
    (tmp_path / "c-parts" / "kept-if-fresh").write_text("old")
    (tmp_path / "report.md").write_text("numbers of the old stages")
    (tmp_path / "a.out").unlink()  # stage a must run again
    seen = []

    def record(name):
        seen.append((name, sorted(p.name for p in tmp_path.rglob("*") if p.is_file())))
    calls = []
    table = fake_table(calls)
    a = table[0]
    table = (Stage(a.name, a.artifact, a.inputs, lambda r: (record("a"), a.run(r))[1], a.load),
             *table[1:])
    run_stages(make_run(tmp_path, True), table=table)
    assert calls == ["a", "b", "c"]  # b and c ran again, not loaded
    files_when_a_ran = seen[0][1]
    for stale in ("b.out", "c.out", "b.json", "c.json", "part", "kept-if-fresh", "report.md"):
        assert stale not in files_when_a_ran, files_when_a_ran
    assert (tmp_path / "c-parts" / "part").read_text() == "c"


def test_the_first_rerun_stage_keeps_its_own_partial_work(tmp_path):
    run_stages(make_run(tmp_path, False), table=fake_table([]))
    (tmp_path / "report.json").write_text("{}")
    (tmp_path / "b.out").unlink()  # b reruns; its b-parts/ (finished methods) stay
    (tmp_path / "b-parts" / "finished").write_text("kept")
    calls = []
    run_stages(make_run(tmp_path, True), table=fake_table(calls))
    assert calls == ["load-a", "b", "c"]
    assert (tmp_path / "b-parts" / "finished").read_text() == "kept"
    assert not (tmp_path / "report.json").exists()


def test_stop_after_ends_the_walk_and_says_where(tmp_path):
    calls = []
    outcome = run_stages(make_run(tmp_path, False), "b", table=fake_table(calls))
    assert calls == ["a", "b"] and outcome.stopped_after == "b"
    assert not (tmp_path / "c.out").exists()
    assert run_stages(make_run(tmp_path, True), table=fake_table([])).stopped_after is None
