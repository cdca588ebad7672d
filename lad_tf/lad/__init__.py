"""The LAD method (paper Sec. III-B), apart from its defence's training step
(`lad_tf.defences.lad`):

    attention_svm  the attention layer with a linear SVM head on latents
    targets        which classes each source class is moved toward
    boundary       boundary-guided generation: z' = z + eps beta(z) d, G(z')
    figures        the figure canvas and the figures of LAD's stages (Figs. 3, 5, 6)
"""
