"""One transfer run: a classifier for one case and seed, trained, then scored on the test set.

Classifier = encoder + one Dense(10) giving logits (`models.build_classifier`). The four cases
(`design.CASES`) differ only in the encoder's starting weights and its `trainable` flag. Every
case trains the same way: Adam with its learning rate decayed to 0 along a cosine over all
steps, cross-entropy on the logits, and the epoch with the best validation accuracy kept.
Training reads only the training and validation splits; `test_scores` reads the test split,
once, after training.
"""

import dataclasses
import sys
import time

import numpy as np

from kfashion import training
from kfashion.design import CASES, NUM_CLASSES

# Validation images (a fixed stratified sample) on which each run's code units are checked
PROBE_IMAGES = 1000


def probe_images(dataset) -> np.ndarray:
    """The fixed sample of validation images the diagnostics read (no label is used)."""
    from kfashion.data import stratified_sample

    return dataset.x_val[stratified_sample(dataset.y_val, min(PROBE_IMAGES, len(dataset.y_val)), 0)]


def dead_units(encoder, images) -> float:
    """The fraction of code units that are 0 on every one of `images` (dead ReLU units)."""
    codes = encoder.predict(images, batch_size=training.EVAL_BATCH_SIZE, verbose=0)
    return float(np.mean(np.all(codes == 0, axis=0)))


def diagnostics(classifier, images, before: tuple) -> dict:
    """What training did to the encoder: its dead code units before and after, and how far
    its weights moved, relative to where they started (the norm over all its weights).

    Args:
        before: (dead units, weights) of the encoder before training.
    """
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


def before_training(classifier, images) -> tuple:
    """(dead units, weights) of a classifier's encoder, before it trains."""
    encoder = classifier.get_layer("encoder")
    return dead_units(encoder, images), [np.array(w) for w in encoder.get_weights()]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """How every case trains: epochs, batch size and Adam's initial learning rate."""

    epochs: int
    batch_size: int
    learning_rate: float

    def steps(self, images: int) -> int:
        return -(-images // self.batch_size) * self.epochs


def make_classifier(template, case_number: int, seed: int, learning_rate: float, steps: int):
    """A compiled classifier for a case, its encoder a copy of `template` (trained or fresh)."""
    import keras

    from kfashion import models

    case = CASES[case_number]
    keras.utils.set_random_seed(seed)
    encoder = keras.models.clone_model(template)  # same configuration, freshly initialised
    if case.pretrained:
        encoder.set_weights(template.get_weights())
    classifier = models.build_classifier(encoder, train_encoder=case.train_encoder)
    compile_classifier(classifier, learning_rate, steps)  # after the trainable flag is set
    return classifier


def compile_classifier(model, learning_rate: float, steps: int) -> None:
    """The one training set-up of every case: Adam with cosine decay, cross-entropy on logits."""
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        **training.compile_options(),
    )


def head_on_codes(classifier, learning_rate: float, steps: int):
    """For a frozen encoder: a model of the classifier's own head layer, fed precomputed codes.

    A frozen encoder (fixed weights, dropout off) gives an image the same code at every step, so
    training the head on codes computed once makes the same updates as training the whole
    classifier, without running the convolutions again every epoch. The head layer is shared,
    so the classifier holds the trained weights afterwards.

    Returns:
        (the classifier's encoder, the compiled head-on-codes model).
    """
    import keras

    encoder, head = classifier.get_layer("encoder"), classifier.get_layer("head")
    codes = keras.Input(encoder.output_shape[1:], name="code")
    model = keras.Model(codes, head(codes), name="head_on_codes")
    compile_classifier(model, learning_rate, steps)
    return encoder, model


def train(
    template,
    case_number: int,
    seed: int,
    dataset,
    schedule: Schedule,
    *,
    validate: bool = True,
    verbose: int = 0,
):
    """Train one (case, seed) run on the training split.

    With `validate`, the validation split is scored every epoch and the best epoch's weights
    are kept; without it (few-label runs, where 10,000 labelled validation images would be
    more labels than the run may use) the last epoch's weights are kept.

    Returns:
        (the trained classifier, a record of its curves, best epoch and seconds).
    """
    import keras

    steps = schedule.steps(len(dataset.y_train))
    classifier = make_classifier(template, case_number, seed, schedule.learning_rate, steps)
    probe = probe_images(dataset)
    before = before_training(classifier, probe)
    start = time.perf_counter()
    model, x_train, x_val = classifier, dataset.x_train, dataset.x_val
    if not CASES[case_number].train_encoder:
        encoder, model = head_on_codes(classifier, schedule.learning_rate, steps)
        x_train = encoder.predict(x_train, batch_size=training.EVAL_BATCH_SIZE, verbose=0)
        if validate:
            x_val = encoder.predict(x_val, batch_size=training.EVAL_BATCH_SIZE, verbose=0)
    options = {}
    if validate:
        # keeps the best validation-accuracy epoch's weights (the run never stops early)
        best = keras.callbacks.EarlyStopping(
            monitor="val_accuracy",
            mode="max",
            patience=schedule.epochs,
            restore_best_weights=True,
        )
        options = {"validation_data": (x_val, dataset.y_val), "callbacks": [best]}
        options |= training.fit_options()
    options.setdefault("callbacks", []).append(training.stop_on_ctrl_c())
    keras.utils.set_random_seed(seed)  # every case of a seed sees the same batches
    history = model.fit(
        x_train,
        dataset.y_train,
        epochs=schedule.epochs,
        batch_size=schedule.batch_size,
        verbose=verbose,
        **options,
    )
    curves = {name: [float(v) for v in values] for name, values in history.history.items()}
    if model is not classifier:
        # the classifier's own optimizer never ran: give it its variables, so that the saved
        # file loads without a "skipping variable loading for optimizer" warning
        classifier.optimizer.build(classifier.trainable_variables)
    record = {
        "case": case_number,
        "seed": seed,
        "history": curves,
        "best_epoch": int(np.argmax(curves["val_accuracy"])) + 1 if validate else schedule.epochs,
        "seconds": time.perf_counter() - start,
        **diagnostics(classifier, probe, before),
    }
    if validate:
        record["best_val_accuracy"] = max(curves["val_accuracy"])
    return classifier, record


def train_together(template, case_number: int, seeds, dataset, schedule: Schedule):
    """Train one jointly trained case's seeds in one compiled program (`compiled_fit.fit_seeds`,
    JAX on an accelerator), each still its own run; as `train` otherwise.

    Returns:
        [(classifier, record)] in the order of `seeds`.
    """
    import keras

    from kfashion import compiled_fit

    steps = schedule.steps(len(dataset.y_train))
    classifiers = [
        make_classifier(template, case_number, seed, schedule.learning_rate, steps)
        for seed in seeds
    ]
    probe = probe_images(dataset)
    befores = [before_training(classifier, probe) for classifier in classifiers]
    start = time.perf_counter()
    callbacks = [
        [
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy",
                mode="max",
                patience=schedule.epochs,
                restore_best_weights=True,
            ),
            training.stop_on_ctrl_c(),
        ]
        for _ in seeds
    ]
    histories = compiled_fit.fit_seeds(
        classifiers,
        dataset.x_train,
        dataset.y_train,
        seeds=seeds,
        batch_size=schedule.batch_size,
        epochs=schedule.epochs,
        validation_data=(dataset.x_val, dataset.y_val),
        callbacks=callbacks,
    )
    seconds = (time.perf_counter() - start) / len(seeds)
    out = []
    for seed, classifier, history, before in zip(
        seeds, classifiers, histories, befores, strict=True
    ):
        curves = {name: [float(v) for v in values] for name, values in history.history.items()}
        record = {
            "case": case_number,
            "seed": seed,
            "history": curves,
            "best_epoch": int(np.argmax(curves["val_accuracy"])) + 1,
            "best_val_accuracy": max(curves["val_accuracy"]),
            "seconds": seconds,
            **diagnostics(classifier, probe, before),
        }
        out.append((classifier, record))
    return out


def test_scores(classifier, dataset) -> dict:
    """Loss, accuracy, confusion matrix, precision and recall on the test split, in one pass."""
    import keras
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    logits = classifier.predict(dataset.x_test, batch_size=training.EVAL_BATCH_SIZE, verbose=0)
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


def describe_run(record: dict, note: str = "") -> str:
    """One line for a finished run."""
    return (
        f"case {record['case']} ({CASES[record['case']].label}), seed {record['seed']}{note}: "
        f"test accuracy {record['test_accuracy']:.4f}, loss {record['test_loss']:.4f} "
        f"({record['seconds']:.0f} s)"
    )


def train_and_score(template, case: int, seed: int, dataset, schedule, validate=True):
    """One run: trained on train (and validation), then scored once on the test split."""
    verbose = (1 if sys.stdout.isatty() else 2) if validate else 0
    classifier, record = train(
        template, case, seed, dataset, schedule, validate=validate, verbose=verbose
    )
    return classifier, scored(classifier, record, dataset)


def scored(classifier, record: dict, dataset) -> dict:
    """A trained run's record with its test scores and the environment it ran in."""
    from kfashion.provenance import environment

    return record | test_scores(classifier, dataset) | {"environment": environment()}
