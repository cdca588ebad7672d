"""Generators built from the paper's layer tables (Tables XIII and XV)."""

from __future__ import annotations

import keras

from lad_tf.models.stacked_generator import StackedGenerator

BLOCK_KINDS = ("conv", "up")


def _scaled(units, width: float) -> int:
    return max(1, int(round(int(units) * float(width))))


@keras.saving.register_keras_serializable(package="lad_tf")
class ConvGenerator(StackedGenerator):
    """Inverts latents to images through a table of conv / up-sampling blocks.

    Layers: Linear latent_dim -> s x s x start_channels (no activation, as the
    tables list it), then `blocks`, then Conv 1x1 -> C with tanh, then
    (t + 1) / 2. Each block is [kind, channels, repeat]:
        "conv": repeat x (Conv 3x3 stride 1 'same' + BN + ReLU)
        "up":   repeat x (Conv_Transpose 2x2 + BN)
    Tables XIII and XV list the transposed convolutions with stride 1, which
    cannot grow 2x2 (or 4x4) to the image size; here they use stride 2, so
    each "up" doubles the size and s = H / 2^(number of ups).

    Output convention: the tanh gives t in [-1, 1] (images scaled to
    [-1, 1], as in the paper); the model returns (t + 1) / 2 in [0, 1], the
    classifier's range, so the rest of the pipeline only ever sees [0, 1].
    A mean squared error measured on these [0, 1] images is 1/4 of the same
    error measured on [-1, 1] images.

    BatchNorm keeps Keras' default momentum (0.99): with PyTorch's 0.1 (0.9 in
    Keras terms) the moving statistics follow the last few batches, and the
    inference-mode reconstruction error of a CelebA generator jumped between
    0.05 and 0.08 from one epoch to the next while its training error was 0.047.
    The paper's architectures are `SvhnGenerator` (Table XIII) and
    `CelebAGenerator` (Table XV); they only set defaults.

    Args:
        latent_dim: size of z (4096 in the paper).
        image_shape: (H, W, C) of the output images; H and W must be
            multiples of 2^(number of "up" blocks).
        blocks: the table, a list of [kind, channels, repeat].
        start_channels: channels of the Linear layer's s x s output (512).
        width: multiplier of every channel count (not of C); 1.0 is the
            paper's network, smaller values make quick tests.

    Call: z float32 [B, latent_dim] -> images float32 [B, H, W, C] in [0, 1].

    Raises:
        ValueError: a bad block, or an image size the ups cannot reach.
    """

    def __init__(self, latent_dim, image_shape, blocks, start_channels=512, width=1.0, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.blocks = [[str(kind), int(channels), int(repeat)] for kind, channels, repeat in blocks]
        self.start_channels = int(start_channels)
        self.width = float(width)
        for kind, channels, repeat in self.blocks:
            if kind not in BLOCK_KINDS or channels < 1 or repeat < 1:
                raise ValueError(f"each block is [kind in {BLOCK_KINDS}, channels >= 1, "
                                 f"repeat >= 1]. Received: {[kind, channels, repeat]}")
        if not self.width > 0:
            raise ValueError(f"width must be > 0. Received: width={width}")
        ups = sum(repeat for kind, _, repeat in self.blocks if kind == "up")
        h, w, c = self.image_shape
        if h % 2 ** ups or w % 2 ** ups or c < 1:
            raise ValueError(
                f"{type(self).__name__} doubles the size {ups} times from the Linear layer, so "
                f"the image height and width must be multiples of {2 ** ups}. "
                f"Received: image_shape={self.image_shape}")
        start = (h // 2 ** ups, w // 2 ** ups)
        channels0 = _scaled(self.start_channels, width)
        self.stages = [
            keras.layers.Dense(start[0] * start[1] * channels0, name="linear"),
            keras.layers.Reshape((*start, channels0), name=f"to_{start[0]}x{start[1]}"),
        ]
        for b, (kind, channels, repeat) in enumerate(self.blocks):
            filters = _scaled(channels, width)
            for r in range(repeat):
                name = f"block{b}_{kind}{r}"
                if kind == "up":
                    self.stages += [
                        keras.layers.Conv2DTranspose(filters, 2, strides=2, name=name),
                        keras.layers.BatchNormalization(name=name + "_bn")]
                else:
                    self.stages += [
                        keras.layers.Conv2D(filters, 3, padding="same", name=name),
                        keras.layers.BatchNormalization(name=name + "_bn"),
                        keras.layers.ReLU(name=name + "_relu")]
        self.stages += [
            keras.layers.Conv2D(c, 1, activation="tanh", name="to_image"),  # t in [-1, 1]
            keras.layers.Rescaling(0.5, offset=0.5, name="to_unit_range"),  # (t + 1) / 2
        ]

    def intermediate_shapes(self, batch_size=1):
        """The output shape after each "up" block and at the end (for the tables)."""
        marks = (keras.layers.Reshape, keras.layers.Conv2DTranspose, keras.layers.Rescaling)
        return [shape for layer, shape in self.stage_outputs(batch_size)
                if isinstance(layer, marks)]

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, image_shape=list(self.image_shape),
                      blocks=[list(b) for b in self.blocks],
                      start_channels=self.start_channels, width=self.width)
        return config
