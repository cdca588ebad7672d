"""The GA study (Song et al. 2018's generative attack, the paper's baseline).

    acgan_training  the AC-GAN's training loop
    acgan           `python -m lad_tf.acgan`: train it, resumably
    acgan_select    `python -m lad_tf.acgan_select`: the checkpoint a classifier reads best
    judge           the label-keeping judge
    parts           the parts of the study, each cached
    study           `python -m lad_tf.ga_study`: the study, read back
    report          its report.md and figures
"""
