"""lad_tf.evaluation.transfer: the black-box CNN the transfer attacks are crafted on."""


def test_blackbox_cnn_is_another_architecture_than_lenet():
    import keras

    from lad_tf.models import build_classifier

    lenet, blackbox = build_classifier("lenet"), build_classifier("blackbox_cnn")
    kinds = lambda model: [type(layer).__name__ for layer in model.layers]  # noqa: E731
    assert type(blackbox).__name__ != type(lenet).__name__
    assert "MaxPooling2D" in kinds(lenet) and "MaxPooling2D" not in kinds(blackbox)
    assert kinds(blackbox).count("Conv2D") == 3 and kinds(lenet).count("Conv2D") == 2
    assert blackbox.count_params() != lenet.count_params()
    assert blackbox.latent_dim != lenet.latent_dim
    # It takes the digits / MNIST images and any other size ('same' padding).
    assert blackbox(keras.ops.zeros((2, 28, 28, 1))).shape == (2, 10)
    other = build_classifier("blackbox_cnn", image_shape=(32, 32, 3), num_classes=1)
    assert other(keras.ops.zeros((1, 32, 32, 3))).shape == (1, 1)
