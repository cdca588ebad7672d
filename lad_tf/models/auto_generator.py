"""A generator sized from the latent width and the image shape it is given."""

from __future__ import annotations

import math

import keras

from lad_tf.models.stacked_generator import StackedGenerator


def plan_ups(height: int, width: int, start: int = 4, max_ups: int = 5) -> int:
    """How many 2x up-samplings take a start grid of about `start` pixels to the image.

    The smaller side decides: ups = floor(log2(min(H, W) / start)), between 0
    and `max_ups`, so a 28x28 image gets 2 (7x7 -> 28x28) and a 64x64 one 4
    (4x4 -> 64x64).
    """
    side = min(int(height), int(width))
    if side < start:
        return 0
    return max(0, min(int(max_ups), int(math.log2(side / start))))


@keras.saving.register_keras_serializable(package="lad_tf")
class AutoGenerator(StackedGenerator):
    """Inverts latents of any width to images of any size (recipe `"auto"`).

    For a classifier the zoo has no table generator for (your own model, your
    own image size). Layers: Dense latent_dim -> h0 x w0 x C0 + ReLU, then per
    up-sampling step Conv_Transpose 4x4 stride 2 + BN + ReLU and Conv 3x3 + BN
    + ReLU with the channel count halved (never below `min_channels`), then
    Conv 1x1 -> C with a sigmoid. h0 = ceil(H / 2^ups), so the last grid may be
    a few pixels larger than the image; it is cropped at the centre.

    Args:
        latent_dim: size of z (the classifier's flattened latent width).
        image_shape: (H, W, C) of the output images.
        channels: channels of the first grid, C0.
        min_channels: the fewest channels of any later grid.
        start: the target size of the first grid (see `plan_ups`).

    Call: z float32 [B, latent_dim] -> images float32 [B, H, W, C] in [0, 1].

    Raises:
        ValueError: a non-positive size or channel count.
    """

    def __init__(self, latent_dim, image_shape, channels=64, min_channels=16, start=4, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.channels, self.min_channels, self.start = int(channels), int(min_channels), int(start)
        h, w, c = self.image_shape
        if min(h, w, c, self.latent_dim, self.channels, self.min_channels, self.start) < 1:
            raise ValueError(f"sizes and channel counts must be >= 1. Received: latent_dim="
                             f"{latent_dim}, image_shape={self.image_shape}, channels={channels}, "
                             f"min_channels={min_channels}, start={start}")
        ups = plan_ups(h, w, self.start)
        grid = (-(-h // 2 ** ups), -(-w // 2 ** ups))
        filters = self.channels
        self.stages = [
            keras.layers.Dense(grid[0] * grid[1] * filters, activation="relu", name="linear"),
            keras.layers.Reshape((*grid, filters), name=f"to_{grid[0]}x{grid[1]}"),
        ]
        for u in range(ups):
            filters = max(self.min_channels, filters // 2)
            self.stages += [
                keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", name=f"up{u}"),
                keras.layers.BatchNormalization(name=f"up{u}_bn"),
                keras.layers.ReLU(name=f"up{u}_relu"),
                keras.layers.Conv2D(filters, 3, padding="same", name=f"conv{u}"),
                keras.layers.BatchNormalization(name=f"conv{u}_bn"),
                keras.layers.ReLU(name=f"conv{u}_relu"),
            ]
        self.stages.append(keras.layers.Conv2D(c, 1, activation="sigmoid", name="to_image"))
        extra = (grid[0] * 2 ** ups - h, grid[1] * 2 ** ups - w)
        if any(extra):
            self.stages.append(keras.layers.Cropping2D(
                ((extra[0] // 2, extra[0] - extra[0] // 2),
                 (extra[1] // 2, extra[1] - extra[1] // 2)), name="crop"))

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, image_shape=list(self.image_shape),
                      channels=self.channels, min_channels=self.min_channels, start=self.start)
        return config
