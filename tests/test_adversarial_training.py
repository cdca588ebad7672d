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
