"""Studies run on a finished run; nothing in the product imports them.

    lad_knobs  `python -m lad_tf.study`: LAD's own knobs, chosen on validation
    ga/        `python -m lad_tf.acgan`, `acgan_select`, `ga_study`: the GA baseline
"""
