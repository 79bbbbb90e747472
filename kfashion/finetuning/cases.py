"""One transfer run: a classifier for one case, recipe and seeds, trained, then scored on test.

Classifier = encoder + one Dense(10) giving logits (`models.build_classifier`). The cases
(`config.CASES`) differ only in the encoder's starting weights, its `trainable` flag and
whether the images are augmented (the augmentation control); the
recipes (`config.RECIPES`) in what trains when. Every phase trains with Adam, its learning rate
decayed to 0 along a cosine over the phase's steps, cross-entropy on the logits. A run on
the whole training split keeps its best epoch by validation accuracy (in its last phase); a
few-label run keeps its last (its split says so: `Split.keep_best`), whether it validates on a
held-out fold of its own labels (a choice's run) or not at all. Training reads only the training
and validation arrays it is given; `test_scores` reads the test split, once, after training.
"""

import dataclasses
import functools
import sys
import time

import numpy as np

from kfashion import config
from kfashion.config import CASES, NUM_CLASSES
from kfashion.engine import training


@dataclasses.dataclass(frozen=True)
class Split:
    """What one run trains and validates on.

    `x_val` is None for a run that does not validate; `keep_best` False keeps the last epoch
    (every few-label run); `repeats` is how often each labelled image appears in an epoch of
    `x_train`.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    repeats: int = 1
    validation: str | None = "the validation split"
    keep_best: bool = True  # else the last epoch, as a run that does not validate

    @property
    def images(self) -> int:
        """Distinct labelled images it trains on."""
        return len(self.y_train) // self.repeats


def whole_split(dataset) -> Split:
    return Split(dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val)


def probe_images(dataset) -> np.ndarray:
    """The fixed sample of validation images the diagnostics read (no label is used)."""
    from kfashion.data import stratified_sample

    return dataset.x_val[
        stratified_sample(dataset.y_val, min(config.PROBE_IMAGES, len(dataset.y_val)), 0)
    ]


def dead_units(encoder, images) -> float:
    """The fraction of code units that are 0 on every one of `images` (dead ReLU units)."""
    import keras

    # a direct call, not `predict`: a run's fresh encoder would trace a predict function first,
    # which costs more than the forward pass of these few images (the same codes)
    codes = keras.ops.convert_to_numpy(encoder(images, training=False))
    return float(np.mean(np.all(codes == 0, axis=0)))


def before_training(classifier, images) -> tuple:
    """(dead units, weights) of a classifier's encoder, before it trains."""
    encoder = classifier.get_layer("encoder")
    return dead_units(encoder, images), [np.array(w) for w in encoder.get_weights()]


def diagnostics(classifier, images, before: tuple) -> dict:
    """What training did to the encoder: its dead code units before and after, and how far
    its weights moved, relative to where they started (the norm over all its weights)."""
    encoder = classifier.get_layer("encoder")
    dead_before, start = before
    moved = sum(
        float(np.sum((a - b) ** 2)) for a, b in zip(encoder.get_weights(), start, strict=True)
    )
    size = sum(float(np.sum(b**2)) for b in start)
    return {
        "dead_code_units_before": dead_before,
        "dead_code_units_after": dead_units(encoder, images),
        "encoder_weight_change": (moved / size) ** 0.5,
    }


def steps(images: int, batch_size: int, epochs: int) -> int:
    return -(-images // batch_size) * epochs


def make_classifier(template, case_number: int, seed: int, train_encoder: bool):
    """A classifier for a case, its encoder a copy of `template` (trained or fresh), its images
    augmented first where the case says so (as the contrastive pretext's views are)."""
    import keras

    from kfashion.core import models

    keras.utils.set_random_seed(seed)
    encoder = keras.models.clone_model(template)  # same configuration, freshly initialised
    case = CASES[case_number]
    if case.pretrained:
        encoder.set_weights(template.get_weights())
    augmentation = None
    if case.augmented:
        from kfashion.pretext import contrastive

        augmentation = contrastive.augmentation(config.PRETEXTS["contrastive"]["strength"])
    return models.build_classifier(encoder, train_encoder=train_encoder, augmentation=augmentation)


def compile_classifier(model, learning_rate, steps) -> None:
    """The one training set-up of every phase: Adam with cosine decay over `steps` (at least 1),
    cross-entropy on logits."""
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def head_on_codes(classifier):
    """For a frozen encoder: a model of the classifier's own head layer, fed precomputed codes.

    A frozen encoder (fixed weights, dropout off) gives an image the same code at every step, so
    training the head on codes computed once makes the same updates as training the whole
    classifier, without running the convolutions again every epoch. The head layer is shared,
    so the classifier holds the trained weights afterwards.

    Returns:
        (the classifier's encoder, the head-on-codes model).
    """
    import keras

    encoder, head = classifier.get_layer("encoder"), classifier.get_layer("head")
    codes = keras.Input(encoder.output_shape[1:], name="code")
    return encoder, keras.Model(codes, head(codes), name="head_on_codes")


def best_epoch_kept(epochs: int):
    """A callback that keeps the best validation-accuracy epoch's weights (it never stops)."""
    import keras

    return keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=epochs, restore_best_weights=True
    )


def fit_phase(
    model, rate, x, y, split: Split, epochs, batch_size, seed, verbose, codes=None, logs=()
):
    """One phase of training `model` at learning rate `rate` (`compile_classifier`) on `x`
    (images, or their codes), validated on the split's validation images (or `codes`, theirs)
    if it has any; its best epoch's weights are kept where the split says so; `logs`: more
    callbacks (TensorBoard's). The model is left compiled, with the optimizer state training
    left."""
    import keras

    compile_classifier(model, rate, steps(len(y), batch_size, epochs))
    options = {"callbacks": [*logs, training.stop_on_ctrl_c()]}
    if split.x_val is not None:
        options["validation_data"] = (split.x_val if codes is None else codes, split.y_val)
        if split.keep_best:
            options["callbacks"].insert(0, best_epoch_kept(epochs))
        options |= training.fit_options()
    training.build_before_fit(model, x, y)
    keras.utils.set_random_seed(seed)  # every case of a seed sees the same batches
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=verbose, **options)
    return curves_of(history)


def curves_of(history) -> dict:
    """A Keras History's per-epoch values, as plain floats (for the run's JSON record)."""
    return {name: [float(v) for v in values] for name, values in history.history.items()}


def codes_of(encoder, x):
    return None if x is None else encoder.predict(x, batch_size=config.EVAL_BATCH_SIZE, verbose=0)


def train(template, case_number, recipe, rate, seed, split, epochs, batch_size, probe,
          verbose=0, logs=None):  # fmt: skip
    """Train one run: case `case_number` by `recipe` (`config.RECIPES`) at learning rate `rate`,
    `epochs` in all, on `split`; `probe`: the images the diagnostics read (`probe_images`);
    `logs`: phase name ("head" or "all") -> its TensorBoard callbacks, or None.

    Returns:
        (the trained classifier, a record of its curves, best epoch, validation accuracy and
        seconds, and what training did to its encoder).
    """
    head_epochs, joint_epochs = config.RECIPES[recipe].phases(epochs)
    logs = logs or (lambda phase: [])
    classifier = make_classifier(template, case_number, seed, train_encoder=not head_epochs)
    before = before_training(classifier, probe)
    start = time.perf_counter()
    fit = functools.partial(  # what both phases share
        fit_phase, y=split.y_train, split=split, batch_size=batch_size, seed=seed, verbose=verbose
    )
    curves = {}
    if head_epochs:  # the head alone, on codes computed once
        encoder, head = head_on_codes(classifier)
        head_rate = config.RECIPES[recipe].head_rate or rate
        x, codes = codes_of(encoder, split.x_train), codes_of(encoder, split.x_val)
        curves = fit(head, head_rate, x, epochs=head_epochs, codes=codes, logs=logs("head"))
    if joint_epochs:  # every layer
        classifier.get_layer("encoder").trainable = True
        more = fit(classifier, rate, split.x_train, epochs=joint_epochs, logs=logs("all"))
        curves = {name: curves.get(name, []) + values for name, values in more.items()}
    else:
        # the classifier's own optimizer never ran: give it its variables, so that the saved
        # file loads without a "skipping variable loading for optimizer" warning
        compile_classifier(classifier, rate, 1)
        classifier.optimizer.build(classifier.trainable_variables)
    record = record_of(curves, (head_epochs, joint_epochs), split, start)
    return classifier, record | diagnostics(classifier, probe, before)


def record_of(curves: dict, phases: tuple, split: Split, start: float) -> dict:
    """The training part of a run's record: curves, the epoch kept and its validation score."""
    head_epochs, joint_epochs = phases
    last_phase = joint_epochs or head_epochs
    record = {
        "history": curves,
        "phase_epochs": list(phases),
        "repeats": split.repeats,
        "train_images": split.images,
        "validation": split.validation,
        "seconds": time.perf_counter() - start,
        "best_epoch": head_epochs + joint_epochs,
        "val_accuracy": None,
    }
    if split.x_val is not None:
        val = curves["val_accuracy"][-last_phase:]  # the last phase's epochs: the kept one's
        kept = int(np.argmax(val)) if split.keep_best else len(val) - 1
        record["best_epoch"] = len(curves["val_accuracy"]) - last_phase + kept + 1
        record["val_accuracy"] = val[kept]
    return record


def train_together(template, case_number, rate, seeds, split, epochs, batch_size, probe, logs):
    """The joint recipe's runs of `seeds` in one compiled program (`compiled_fit.fit_seeds`,
    JAX on an accelerator), each still its own run; the split must validate and keep the best
    epoch. `logs`: seed -> its TensorBoard callbacks.

    Returns:
        [(classifier, record)] in the order of `seeds`.
    """
    from kfashion.engine import compiled_fit

    classifiers = [make_classifier(template, case_number, seed, True) for seed in seeds]
    befores = [before_training(classifier, probe) for classifier in classifiers]
    total = steps(len(split.y_train), batch_size, epochs)
    for classifier in classifiers:
        compile_classifier(classifier, rate, total)
    start = time.perf_counter()
    histories = compiled_fit.fit_seeds(
        classifiers,
        split.x_train,
        split.y_train,
        seeds=seeds,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(split.x_val, split.y_val),
        callbacks=[[*logs(s), best_epoch_kept(epochs), training.stop_on_ctrl_c()] for s in seeds],
    )
    out = []
    for classifier, history, before in zip(classifiers, histories, befores, strict=True):
        record = record_of(curves_of(history), (0, epochs), split, start)
        record["seconds"] /= len(seeds)
        out.append((classifier, record | diagnostics(classifier, probe, before)))
    return out


def test_scores(classifier, dataset) -> dict:
    """Loss, accuracy, confusion matrix, precision and recall on the test split, in one pass."""
    import keras
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    logits = classifier.predict(dataset.x_test, batch_size=config.EVAL_BATCH_SIZE, verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(dataset.y_test, logits)
    predicted = logits.argmax(axis=1)
    labels = list(range(NUM_CLASSES))
    precision, recall, _, _ = precision_recall_fscore_support(
        dataset.y_test, predicted, labels=labels, zero_division=0
    )
    return {
        "test_loss": float(loss),
        "test_accuracy": float((predicted == dataset.y_test).mean()),
        "confusion_matrix": confusion_matrix(dataset.y_test, predicted, labels=labels),
        "precision": precision,
        "recall": recall,
    }


def verbosity() -> int:
    """Keras's progress bar in a terminal, one line per epoch otherwise."""
    return 1 if sys.stdout.isatty() else 2
