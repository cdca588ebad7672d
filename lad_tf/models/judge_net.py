"""The label-keeping judge: an independent classifier that reads generated examples."""

import keras


@keras.saving.register_keras_serializable(package="lad_tf")
class JudgeNet(keras.Model):
    """A VGG-style CNN trained with augmentation, never attacked.

    It answers "does this generated image still show its source class?" for
    GA, LAD, JSMA and C&W examples (`lad_tf.studies.ga.judge`). It shares neither
    architecture nor weights with the attacked LeNet or the black-box CNN:
    two blocks of two 3x3 ReLU convolutions and max pooling (32 and 64
    channels), a 128-unit dense layer with dropout, K logits.
    In training only, each batch is shifted (up to 10% of a side), rotated
    (up to 10 degrees) and zoomed (up to 10%), so that it reads digits by
    shape rather than by the exact pixels the attacks move.

    Args:
        num_classes: K.
        image_shape: (H, W, C) of the inputs, float32 in [0, 1].
        augment: apply the augmentation when `training` (off: plain training).
        seed: seed of the augmentation's draws.

    Call: images float32 [B, H, W, C] in [0, 1] -> logits float32 [B, K].
    """

    def __init__(self, num_classes=10, image_shape=(28, 28, 1), augment=True, seed=0, **kwargs):
        super().__init__(**kwargs)
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2. Received: num_classes={num_classes}")
        self.num_classes, self.augment, self.seed = int(num_classes), bool(augment), int(seed)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.augmentation = [
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed,
                                           name="shift"),
            keras.layers.RandomRotation(10 / 360, fill_mode="constant", seed=seed + 1,
                                        name="rotate"),
            keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 2, name="zoom"),
        ]
        self.body = []
        for i, filters in enumerate((32, 32, 64, 64)):
            self.body.append(keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                                 name=f"conv{i + 1}"))
            if i % 2:
                self.body.append(keras.layers.MaxPooling2D(2, name=f"pool{i // 2 + 1}"))
        self.flatten = keras.layers.Flatten(name="flatten")
        self.dense = keras.layers.Dense(128, activation="relu", name="dense")
        self.dropout = keras.layers.Dropout(0.3, name="dropout")
        self.logits = keras.layers.Dense(self.num_classes, name="logits")

    def call(self, x, training=False):
        h = x
        if training and self.augment:
            for layer in self.augmentation:
                h = layer(h, training=True)
        for layer in self.body:
            h = layer(h, training=training)
        h = self.dropout(self.dense(self.flatten(h)), training=training)
        return self.logits(h)

    def build(self, input_shape=None):
        """Creates the weights with one zero batch of `image_shape`."""
        if not self.built:
            self.built = True  # first, so that the call below does not build again
            self(keras.ops.zeros((1, *self.image_shape)))

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, image_shape=list(self.image_shape),
                      augment=self.augment, seed=self.seed)
        return config
