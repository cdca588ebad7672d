"""lad_tf.evaluation.costs: training time per method from a run's metrics."""

import json

from lad_tf.evaluation.costs import (
    LAD_SETUP,
    method_seconds,
    seconds_from_metrics,
    training_seconds,
)


def test_training_seconds_of_a_harden_stage_still_running(tmp_path):
    """Methods done before the harden stage finished have no metrics/harden.json
    entry yet; their time comes from methods/<name>.json."""
    (tmp_path / "methods").mkdir()
    (tmp_path / "methods" / "pgd-at.json").write_text('{"seconds": 1278.6}')
    (tmp_path / "methods" / "trades.json").write_text('{"seconds": 4')  # being written
    assert method_seconds(tmp_path) == {"pgd-at": 1278.6}


def test_lad_methods_carry_the_set_up_stages(tmp_path):
    (tmp_path / "metrics").mkdir()
    for stage, seconds in (("generator", 10.0), ("svm", 5.0), ("generate", 2.5)):
        (tmp_path / "metrics" / f"{stage}.json").write_text(json.dumps({"seconds": seconds}))
    (tmp_path / "metrics" / "harden.json").write_text(json.dumps(
        {"methods": {"lad": {"seconds": 100.0}, "pgd-at": {"seconds": 300.0},
                     "lad+pgd": {"seconds": 50.0}}}))
    seconds = method_seconds(tmp_path)
    assert seconds == {"lad": 100.0, "pgd-at": 300.0, "lad+pgd": 50.0, LAD_SETUP: 17.5}
    assert training_seconds(seconds) == {"lad": 117.5, "pgd-at": 300.0, "lad+pgd": 67.5}
    # Without a LAD method the set-up stages are not LAD's cost.
    assert seconds_from_metrics({"generator": {"seconds": 1.0},
                                 "harden": {"methods": {"pgd-at": {"seconds": 2.0}}}}) == {
        "pgd-at": 2.0}
