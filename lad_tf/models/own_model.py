"""A provider's own Keras classifier as a `LatentClassifier`: load, cut, check.

    model = load_model_file("my_cnn.keras")
    classifier, info = cut_model(model, "fc1")      # phi: input -> fc1, f_p: the rest
    check_fits_data(classifier, num_classes=10, image_shape=(28, 28, 1), dataset="digits")

What is accepted:
- a Keras 3 Functional or Sequential model with one image input
  [B, H, W, C] of fixed size and one output [B, K] (logits, or probabilities
  from a final softmax / sigmoid, which is stripped so that attacks and
  losses see logits; K = 1 is one sigmoid logit for two classes);
- cut at a layer that every path from the input to the output passes
  through, called once in the model, with one output. A convolutional
  latent [B, h, w, c] is flattened to D = h * w * c for the generator and
  the attention SVMs (each SVM's attention map is D x D: prefer a narrow
  layer, or set svm.attention_rank);
- a `LatentClassifier` (the zoo's subclassed models) as it is: its own
  `features` / `head` define the cut.

Everything else raises `LadError` naming the problem and the fix, before
anything is trained.
"""

from __future__ import annotations

import difflib
import zipfile
from pathlib import Path

import keras
import numpy as np

from lad_tf import models  # noqa: F401  (registers the zoo's classes for load_model_file)
from lad_tf.models.classifier import LatentClassifier
from lad_tf.models.cut_classifier import CutClassifier
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import file_sha256  # noqa: F401  (part of this module's interface)

# Stated tolerance of the numerical check head(features(x)) == model(x) on
# CHECK_EXAMPLES random images: the logits (of the whole model with its final
# softmax / sigmoid stripped) may differ by LOGIT_TOLERANCE * max(1, max |logit|)
# (the two halves run the same float32 operations, so 0 is expected); the
# probabilities (when an activation was stripped) by PROBABILITY_TOLERANCE.
LOGIT_TOLERANCE = 1e-5
PROBABILITY_TOLERANCE = 1e-5
CHECK_EXAMPLES = 16
PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")


def load_model_file(path: str | Path):
    """Loads a `.keras` file written by Keras 3 (`model.save("name.keras")`).

    Raises:
        LadError: the file is missing or is not a loadable Keras model.
    """
    path = Path(path)
    if not path.is_file():
        raise LadError(f"model file {path} not found; pass --model PATH to a .keras file "
                       "saved with model.save('name.keras')")
    if path.suffix != ".keras":
        raise LadError(f"{path} is not a .keras file; save the model with Keras 3's "
                       "model.save('name.keras') and pass that file to --model")
    if not zipfile.is_zipfile(path):
        raise LadError(f"{path} is not a Keras model file (a .keras file is a zip archive; this "
                       "one is corrupt or in another format); save the model again with Keras 3's "
                       "model.save('name.keras')")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001  (Keras raises many types for a bad file)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise LadError(f"cannot load {path} as a Keras model ({type(exc).__name__}: "
                       f"{first[:200]}); save it again with Keras 3's model.save('name.keras') "
                       "(custom layers must be registered with "
                       "keras.saving.register_keras_serializable and imported)") from None


# -- the model's layer graph -----------------------------------------------------------
def _producer(tensor):
    """The node that made a symbolic tensor, and the tensor's index among its outputs."""
    operation, node_index, tensor_index = tensor._keras_history
    return operation._inbound_nodes[node_index], tensor_index


def _graph_nodes(model) -> list:
    """Every node between the model's inputs and outputs, each once."""
    seen, order, stack = set(), [], [_producer(t)[0] for t in model.outputs]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(_producer(t)[0] for t in node.input_tensors)
    return order


def _ancestors(tensor) -> dict:
    """The nodes that `tensor` depends on, its own producer included, by id."""
    seen, stack = {}, [_producer(tensor)[0]]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen[id(node)] = node
            stack.extend(_producer(t)[0] for t in node.input_tensors)
    return seen


def _cut_problem(latent, output) -> str | None:
    """Why cutting at `latent` does not split the graph that makes `output`
    into phi and f_p, or None for a clean cut: a layer after the cut reads a
    tensor from before it (a skip connection jumps over the cut), or one
    layer is used on both sides (its weights would be shared by phi and f_p)."""
    before = _ancestors(latent)
    latent_key = (id(_producer(latent)[0]), _producer(latent)[1])
    stack, after = [(output, None)], {}
    while stack:
        tensor, consumer = stack.pop()
        node, index = _producer(tensor)
        if (id(node), index) == latent_key:
            continue
        if id(node) in before:
            return (f"layer {consumer!r} reads the output of {node.operation.name!r} from before "
                    "it (a skip connection jumps over the cut)")
        if id(node) not in after:
            after[id(node)] = node
            stack.extend((t, node.operation.name) for t in node.input_tensors)
    phi_layers = {id(n.operation) for n in before.values()}
    for node in after.values():
        if id(node.operation) in phi_layers:
            return (f"layer {node.operation.name!r} is used both before and after it (phi and "
                    "f_p would share its weights)")
    return None


def _final_activation(model):
    """How the model's output ends: (kind, layer, logits tensor).

    kind is None (the output is already logits), "layer" (a Softmax or
    Activation layer whose input is the logits tensor) or "in_layer" (the
    last layer's own `activation`, e.g. Dense(10, activation="softmax")).
    """
    output = model.outputs[0]
    node, _ = _producer(output)
    layer = node.operation
    name = getattr(getattr(layer, "activation", None), "__name__", "")
    if isinstance(layer, keras.layers.Softmax):
        return "layer", layer, "softmax", node.input_tensors[0]
    if name in PROBABILITY_ACTIVATIONS:
        if isinstance(layer, keras.layers.Activation):
            return "layer", layer, name, node.input_tensors[0]
        return "in_layer", layer, name, output
    return None, None, None, output


def _cuttable(model) -> list[str]:
    """Names of the layers the model can be cut at, input side first."""
    inputs = {id(_producer(t)[0]) for t in model.inputs}
    nodes = [n for n in reversed(_graph_nodes(model)) if id(n) not in inputs]
    counts: dict[str, int] = {}
    for n in nodes:
        counts[n.operation.name] = counts.get(n.operation.name, 0) + 1
    _, _, _, logits = _final_activation(model)
    last, before_logits = id(_producer(logits)[0]), _ancestors(logits)
    names = []
    for n in nodes:
        if (counts[n.operation.name] == 1 and len(n.output_tensors) == 1 and id(n) != last
                and id(n) in before_logits
                and _cut_problem(n.output_tensors[0], logits) is None):
            names.append(n.operation.name)
    return names


def _suggest(names: list[str], limit: int = 8) -> str:
    shown = names[-limit:]  # the layers nearest the output are the usual latent layers
    return ", ".join(shown) + (f" (and {len(names) - limit} earlier)" if len(names) > limit else "")


# -- the cut ---------------------------------------------------------------------------
def _check_model(model, latent_layer):
    if not isinstance(model, keras.Model):
        raise LadError(f"expected a Keras model, got {type(model).__name__}; pass a keras.Model "
                       "or the path of a .keras file")
    if isinstance(model, LatentClassifier):
        return
    functional = isinstance(model, keras.Sequential) or hasattr(model, "_nodes_by_depth")
    if not functional:
        raise LadError(f"{type(model).__name__} is a subclassed Keras model, which has no layer "
                       "graph to cut; rebuild it as a Functional or Sequential model, or derive "
                       "it from lad_tf.models.LatentClassifier and implement features() and head()")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        raise LadError(f"model {model.name!r} is not built; give it an input shape "
                       "(keras.Input((H, W, C)) as its first layer) and save it again") from None
    if len(inputs) != 1:
        names = [_producer(t)[0].operation.name for t in inputs]
        raise LadError(f"model {model.name!r} takes {len(inputs)} inputs {names}; LAD-TF hardens "
                       "classifiers of one image input: pass a model with a single "
                       "keras.Input((H, W, C))")
    if len(outputs) != 1:
        raise LadError(f"model {model.name!r} has {len(outputs)} outputs; pass a classifier with "
                       "one output [batch, classes]")
    shape = tuple(inputs[0].shape)
    if len(shape) != 4 or None in shape[1:]:
        raise LadError(f"model {model.name!r} takes inputs of shape {shape}; LAD-TF needs images "
                       "of a fixed size [batch, H, W, C]: start the model with "
                       "keras.Input((H, W, C))")
    out = tuple(outputs[0].shape)
    if len(out) != 2 or out[-1] is None:
        raise LadError(f"model {model.name!r} outputs shape {out}; a classifier must output "
                       "[batch, K] logits or probabilities (add Flatten / Dense(K) at the end)")
    if not latent_layer:
        raise LadError(f"model {model.name!r} needs --latent-layer NAME (Python: "
                       f"latent_layer=NAME); layers that cut it cleanly: {_suggest(_cuttable(model))}")


def _latent_tensor(model, latent_layer: str):
    """The output tensor of `latent_layer` in the model's graph, checked to be a clean cut."""
    nodes = [n for n in _graph_nodes(model) if n.operation.name == latent_layer]
    if not nodes:
        names = [layer.name for layer in model.layers]
        close = difflib.get_close_matches(latent_layer, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise LadError(f"model {model.name!r} has no layer {latent_layer!r}; {hint}layers that cut "
                       f"it cleanly: {_suggest(_cuttable(model))} (pass one to --latent-layer)")
    if len(nodes) > 1:
        raise LadError(f"layer {latent_layer!r} is used {len(nodes)} times in model "
                       f"{model.name!r}, so its output is not one latent; choose a layer used "
                       f"once: {_suggest(_cuttable(model))}")
    node = nodes[0]
    if node.is_input:
        raise LadError(f"{latent_layer!r} is the model's input; choose a hidden layer: "
                       f"{_suggest(_cuttable(model))}")
    if len(node.output_tensors) != 1:
        raise LadError(f"layer {latent_layer!r} has {len(node.output_tensors)} outputs; choose a "
                       f"layer with one: {_suggest(_cuttable(model))}")
    return node.output_tensors[0]


def cut_model(model, latent_layer: str | None = None, source: str | None = None,
              copy: bool = True):
    """Cuts a Keras classifier into phi and f_p at `latent_layer`.

    Args:
        model: a Functional or Sequential `keras.Model` (see the module
            docstring), or a `LatentClassifier`, returned as it is.
        latent_layer: name of the layer whose output is the latent z.
        source: where the model came from, for the report (default: its name).
        copy: work on a copy when a layer's activation must be stripped,
            leaving `model` unchanged (False: `model` is changed in place).

    Returns:
        (CutClassifier or LatentClassifier returning logits, info dict with
        the latent layer and shape, the stripped activation and the
        numerical check of head(features(x)) against model(x)).

    Raises:
        LadError: anything that makes the model or the layer unusable.
    """
    _check_model(model, latent_layer)
    source = str(source or model.name)
    if isinstance(model, LatentClassifier):
        return model, _latent_classifier_info(model, latent_layer, source)
    image_shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    x = keras.random.uniform((CHECK_EXAMPLES, *image_shape), seed=0)
    reference = np.asarray(model(x, training=False), dtype=np.float32)
    kind, act_layer, act_name, _ = _final_activation(model)
    if kind == "in_layer" and copy:
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        model = clone
        kind, act_layer, act_name, _ = _final_activation(model)
    latent = _latent_tensor(model, latent_layer)
    _, _, _, logits = _final_activation(model)
    _check_split(model, latent, logits, latent_layer, act_name)
    if kind == "in_layer":
        act_layer.activation = keras.activations.get("linear")  # f_p now ends in logits
    phi = keras.Model(model.inputs[0], latent, name="phi")
    f_p = keras.Model(latent, logits, name="f_p")
    classifier = CutClassifier(phi, f_p, latent_layer=latent_layer, source=source,
                               name=f"{model.name}_cut").build_for_inputs()
    whole_logits = np.asarray(keras.Model(model.inputs[0], logits)(x, training=False),
                              np.float32)
    check = _check_cut(classifier, x, reference, whole_logits, act_name)
    info = {"source": source, "kind": type(model).__name__, "latent_layer": latent_layer,
            "latent_shape": list(classifier.latent_shape), "latent_dim": classifier.latent_dim,
            "stripped_activation": (None if act_name is None else
                                    f"{act_name} ({type(act_layer).__name__} {act_layer.name!r})"),
            "num_classes": classifier.num_classes, "image_shape": list(image_shape),
            "check": check}
    return classifier, info


def _latent_classifier_info(model, latent_layer, source: str) -> dict:
    """`cut_model`'s info for a `LatentClassifier`, whose features() / head() are the cut."""
    if latent_layer:
        raise LadError(f"{type(model).__name__} is a LatentClassifier whose features() and "
                       "head() fix the cut; drop --latent-layer")
    return {"source": source, "kind": type(model).__name__, "latent_layer": None,
            "latent_dim": int(model.latent_dim), "stripped_activation": None,
            "num_classes": int(model.num_classes), "image_shape": list(model.image_shape)}


def _check_split(model, latent, logits, latent_layer: str, act_name: str | None) -> None:
    """Refuses a latent tensor that does not split the graph into phi -> latent -> f_p."""
    if _producer(latent)[0] in (_producer(logits)[0], _producer(model.outputs[0])[0]):
        raise LadError(f"{latent_layer!r} makes the model's output, so nothing is left for f_p; "
                       f"choose a hidden layer before it: {_suggest(_cuttable(model))}")
    if id(_producer(latent)[0]) not in _ancestors(logits):
        raise LadError(f"the output of {latent_layer!r} does not lead to the model's output; "
                       f"choose a layer on the way: {_suggest(_cuttable(model))}")
    problem = _cut_problem(latent, logits)
    if problem is not None:
        raise LadError(f"{latent_layer!r} is not a clean cut of model {model.name!r}: {problem}; "
                       "choose a layer that every path from the input to the output passes "
                       f"through: {_suggest(_cuttable(model))}")
    if act_name == "sigmoid" and int(logits.shape[-1]) > 1:
        raise LadError(f"model {model.name!r} ends with a sigmoid over {logits.shape[-1]} "
                       "outputs (multi-label); LAD-TF hardens single-label classifiers: end "
                       "the model with a softmax, or one sigmoid unit for two classes")
    if None in tuple(latent.shape[1:]):
        raise LadError(f"the output of {latent_layer!r} has shape {tuple(latent.shape)} with "
                       "unknown sizes; choose a layer whose output size is fixed")


def _check_cut(classifier, x, reference, whole_logits, activation: str | None) -> dict:
    """head(features(x)) against the provider's model(x) on random images.

    Args:
        x: float32 [N, H, W, C] random images in [0, 1].
        reference: the provider's model(x), before any activation was stripped.
        whole_logits: the whole model with its final activation stripped, on x.
        activation: the stripped activation (None: `reference` is logits).
    """
    logits = np.asarray(classifier.head(classifier.features(x)), dtype=np.float32)
    logit_diff = float(np.max(np.abs(logits - whole_logits)))
    check = {"examples": int(len(logits)), "max_abs_logit_difference": logit_diff,
             "logit_tolerance": LOGIT_TOLERANCE * max(1.0, float(np.max(np.abs(whole_logits))))}
    failed = ([("logits", logit_diff, check["logit_tolerance"])]
              if logit_diff > check["logit_tolerance"] else [])
    if activation is not None:
        fn = keras.activations.softmax if activation == "softmax" else keras.activations.sigmoid
        prob_diff = float(np.max(np.abs(np.asarray(fn(logits)) - reference)))
        check.update(max_abs_probability_difference=prob_diff,
                     probability_tolerance=PROBABILITY_TOLERANCE)
        if prob_diff > PROBABILITY_TOLERANCE:
            failed.append((f"{activation} probabilities", prob_diff, PROBABILITY_TOLERANCE))
    check["passed"] = not failed
    if failed:
        what, diff, tolerance = failed[0]
        raise LadError(f"head(features(x)) differs from model(x) by {diff:.3g} in the {what} of "
                       f"{len(logits)} random images (tolerance {tolerance:.3g}); the model's "
                       "output depends on more than this layer's output (a random or stateful "
                       "layer?): choose another --latent-layer")
    return check


def check_fits_data(classifier, num_classes: int, image_shape, dataset: str):
    """Refuses a classifier whose input or output does not fit the data.

    Raises:
        LadError: other image shape, or K outputs for a dataset of K' classes
            (K = 1, one sigmoid logit, fits two classes).
    """
    model_shape, data_shape = tuple(classifier.image_shape), tuple(int(d) for d in image_shape)
    if model_shape != data_shape:
        raise LadError(f"your model takes images of shape {model_shape}, but the {dataset} data "
                       f"are {data_shape}; pass a model built for keras.Input({data_shape}) or a "
                       f"dataset of {model_shape} images")
    k = int(classifier.num_classes)
    if not (k == num_classes or (k == 1 and num_classes == 2)):
        want = f"{num_classes} (or 1 sigmoid unit)" if num_classes == 2 else str(num_classes)
        raise LadError(f"your model has {k} output{'s' if k > 1 else ''}, but the {dataset} data "
                       f"have {num_classes} classes; pass a model with {want} outputs, or the "
                       "dataset it was trained on")
