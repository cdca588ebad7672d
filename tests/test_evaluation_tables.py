"""lad_tf.evaluation.tables and paper: the Markdown of an evaluation result."""

from lad_tf.evaluation import robust
from lad_tf.evaluation.paper import mnist_tables
from lad_tf.evaluation.tables import render_tables


def _result():
    row = {"clean_accuracy": 0.99, "fgsm_accuracy": 0.5, "robust_examples": 20,
           "robust_clean_accuracy": 0.95, "robust_apgd_accuracy": 0.4, "robust_pgd_accuracy": 0.5,
           "robust_square_accuracy": 0.6, "robust_accuracy": 0.35,
           "masking_checks": robust.masking_checks(
               {"apgd": 0.4, "pgd": 0.5, "square": 0.6}, 0.0)}
    masked = {**row, "masking_checks": robust.masking_checks(
        {"apgd": 0.4, "pgd": 0.5, "square": 0.1}, 0.2)}
    suite = {"examples": 20, "per_class": 2, "eps": 0.3, "attacks": ["apgd", "square"],
             "titles": {"apgd": "APGD-CE (100 steps)", "square": "Square (5000 queries)",
                        "pgd": "PGD-40"}, "masking_eps": 1.0, "masking_examples": 10}
    return {"models": {"original": row, "not-a-registered-method": masked},
            "attack_titles": {"fgsm": "FGSM (eps 0.3)"}, "robust": suite,
            "settings": {"per_class": 2, "attacks": ["fgsm"], "transfer_attacks": []},
            "samples": {"untargeted": 20}}


def test_report_rows_show_worst_case_and_masking_flags():
    text = render_tables(_result())
    assert "| not-a-registered-method |" in text.splitlines()[4]  # unknown method: its name
    assert "| **worst case (robust accuracy)** | **35.00%** | **35.00%** |" in text
    assert "| Square (5000 queries) | 60.00% | 60.00% |" in text
    assert "| masking check (a): PGD at eps 1 ~ 0% | 0.00% PASS | 20.00% FLAG |" in text
    assert "60.00% vs 40.00% PASS | 10.00% vs 40.00% FLAG |" in text
    assert "| PGD-40, same images (check c) |" in text
    assert "ART 1.20 has no FAB" in text and "no FAB-T" in text
    assert "flagged: not-a-registered-method" in text


def test_full_table_in_its_order():
    """Every section of the table, in the order readers know: rows of the
    methods x attacks table, then the notes, the sweep and the diversity."""
    result = _result()
    row = {"clean_accuracy": 0.9, "jsma_accuracy": 0.25, "jsma_target_success": 0.5,
           "fgsm_accuracy": 0.75, "transfer_fgsm_accuracy": 0.8,
           "lad_accuracy": {"1": 0.7, "3": 0.6}}
    result["models"] = {"original": row, "lad": {**row, "clean_accuracy": 0.95}}
    result["settings"] = {"per_class": 2, "attacks": ["fgsm", "jsma"],
                          "transfer_attacks": ["fgsm"]}
    result["samples"] = {"untargeted": 20, "jsma": 90}
    result["attack_titles"] = {"fgsm": "FGSM (eps 0.3)", "jsma": "JSMA (targeted)"}
    result["blackbox"] = {"model": "blackbox_cnn", "parameters": 1234, "clean_accuracy": 0.97,
                          "fgsm_accuracy": 0.1}
    result["sweep_models"] = {"1": {"clean_accuracy": 0.98, "lad_accuracy": 0.9}}
    stats = {"examples_per_source": 6, "mean_pairwise_l2": 1.234, "mean_l2_to_source": 2.5,
             "distinct_labels_per_source": 1.5}
    result["diversity"] = {"sources": 10, "eps": [1.0, 3.0], "fgsm_eps": [0.1],
                           "LAD": {**stats, "distinct_label_paths": 4, "label_paths": 9},
                           "FGSM": stats, "JSMA": stats}
    text = render_tables(result, {"lad": 12.4, "lad-setup": 30.0})
    lines = text.splitlines()
    assert "Targeted attacks: jsma 90 examples (images x every other class as target). " in text
    assert lines[4] == "| | original | LAD |" and lines[5] == "|---|---|---|"
    order = ["| clean | 90.00% | 95.00% |", "| JSMA (targeted) | 25.00% | 25.00% |",
             "| jsma target reached | 50.00% | 50.00% |",
             "| transfer FGSM (eps 0.3) from black-box CNN | 80.00% | 80.00% |",
             "| hardening wall time | - | 12 s |",
             "| LAD examples from test images, eps 1 | 70.00% | 70.00% |",
             "| LAD examples from test images, eps 3 | 60.00% | 60.00% |",
             "GA (Song et al. 2018)", "30 s more, once per run.",
             "clean accuracy 97.00%; on its own examples: fgsm 10.00%.",
             "| 1 | 98.00% | 90.00% |",
             "| LAD | 6 | 1.23 | 2.50 | 1.50 | 4 of 9 |", "| FGSM | 6 | 1.23 | 2.50 | 1.50 | n/a |"]
    where = [text.index(part) for part in order]
    assert where == sorted(where)
    assert "worst case" not in text  # no model has a robust suite result
    assert text.endswith("(and target).\n") and "Paper Table II" not in text


def test_mnist_tables_put_paper_and_run_side_by_side():
    row = {"clean_accuracy": 0.99, "fgsm_accuracy": 0.5, "pgd_accuracy": 0.25, "jsma_accuracy": 0.125,
           "cw_accuracy": 0.0625, **{f"transfer_{a}_accuracy": 0.75 for a in ("fgsm", "pgd", "jsma", "cw")}}
    result = {"models": {"original": row, "lad": {**row, "fgsm_accuracy": 0.6}, "pgd-at": row},
              "attack_titles": {"fgsm": "FGSM (eps 0.3)"},
              "sweep_models": {"0.5": {"transfer_fgsm_accuracy": 0.8}, "2": {}}}
    text = mnist_tables(result)
    assert "| FGSM (eps 0.3) | 1.77% | 50.00% | 21.67% | 60.00% | 50.00% |" in text
    assert "ours: FT-0.5" in text and "| 41.71% | 75.00% | 49.60% | 80.00% |" in text
    assert "| GA | 99.82% | ga/report.md |" in text  # python -m lad_tf.ga_study
    assert "| GA-FT | 97.23% | ga/report.md |" in text
    assert "| JSMA-FT | 95.71% | not run |" in text


def test_render_tables_adds_the_paper_tables_for_mnist():
    result = _result()
    assert "Paper Table II" not in render_tables(result, dataset="digits")
    text = render_tables(result, dataset="mnist")
    assert text.index("### Paper Table II") > text.index("flagged: not-a-registered-method")
