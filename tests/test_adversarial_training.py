"""Madry PGD adversarial training: crafted examples stay in budget, and a
few steps raise accuracy on PGD examples of a real LeNet."""

import keras
import numpy as np

from lad_tf.adversarial_training import PGDAdversarialTraining
from lad_tf.evaluate import attack_accuracy
from lad_tf.attacks import fgsm


def test_craft_respects_the_budget(trained_lenet, mnist):
    trainer = PGDAdversarialTraining(trained_lenet, eps=0.1, eps_iter=0.02, nb_iter=5)
    x, y = mnist.x_test[:32], mnist.y_test[:32]
    x_adv = np.asarray(trainer.craft(x, y))
    assert np.abs(x_adv - x).max() <= 0.1 + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_pgd_training_raises_fgsm_accuracy(trained_lenet, mnist):
    classifier = keras.models.clone_model(trained_lenet)
    classifier.set_weights(trained_lenet.get_weights())
    x_eval, y_eval = mnist.x_test[:300], mnist.y_test[:300]
    before = attack_accuracy(classifier, fgsm, x_eval, y_eval, 300, eps=0.2)
    trainer = PGDAdversarialTraining(classifier, eps=0.2, eps_iter=0.05, nb_iter=5)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    trainer.fit(mnist.x_train[:3200], mnist.y_train[:3200], batch_size=64, epochs=1, verbose=0)
    after = attack_accuracy(classifier, fgsm, x_eval, y_eval, 300, eps=0.2)
    assert after > before + 0.1, (before, after)


def test_lad_plus_pgd_trains_on_pgd_and_generated_batches(mnist):
    import keras

    from lad_tf.adversarial_training import LADPGDTraining
    from lad_tf.hardening import hardening_dataset
    from lad_tf.models import build_classifier

    keras.utils.set_random_seed(0)
    classifier = build_classifier("lenet")
    before = [w.copy() for w in classifier.get_weights()]
    model = LADPGDTraining(classifier, alpha=0.5, eps=0.3, eps_iter=0.05, nb_iter=3)
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    data = hardening_dataset(mnist.x_train[:256], mnist.y_train[:256], mnist.x_provider[:64],
                             mnist.y_provider[:64], 32).take(2)
    history = model.fit(data, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and history["adv_loss"][0] > 0
    assert any(not np.allclose(a, b) for a, b in zip(before, classifier.get_weights()))
