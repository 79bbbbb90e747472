"""Each model structure of the transfer runs compiled, and its steps traced, once per process.

On TensorFlow a fresh Keras model traces its training, test and predict steps the first time
it uses them: 0.8 s to train a classifier the first time on a 2-core machine, four times an
epoch of 500 images. A grid uses the same few structures (a network's classifier, its encoder,
its head on codes) again and again, for every case, seed, label count and candidate learning
rate. So a run's model works through a stand-in: a copy of its structure, compiled once, into
which the model puts its weights and random-seed states; after training, the stand-in's
trained state goes back into the model, compiled as if it had trained itself.

The same experiment either way: the stand-in starts from the run's initial weights and
dropout seed states, a zeroed Adam and the run's learning rate and decay steps (variables the
traced step reads), and `fit` draws the same batches. Histories, predictions, weights and
optimizer state are equal to the bit to a model trained on its own, but for one thing: with
the schedule's numbers as constants, TensorFlow's graph optimizer reorders their arithmetic,
which moves the learning rate's last bit (weights within 2e-6 after 2 epochs; with its
constant folding off, equal to the bit: tests/test_transfer.py). Only on TensorFlow: JAX's
traced step would keep the learning rate it was traced with, and JAX builds before it traces.
"""

import json

_STAND_INS = {}  # a structure (its layers' configuration, trainable flags included) -> StandIn


class StandIn:
    """A copy of one structure; compiled, the first time it trains or evaluates, with variables
    for the learning rate and decay steps of its schedule."""

    def __init__(self, model):
        import keras

        self.model = keras.models.clone_model(model)
        self.rate = self.steps = self.fresh_optimizer = None

    def compiled(self, compile_model) -> "StandIn":
        import keras

        if self.rate is None:
            self.rate = keras.Variable(0.0, trainable=False, name="learning_rate")
            self.steps = keras.Variable(1.0, trainable=False, name="decay_steps")
            compile_model(self.model, self.rate, self.steps)
            self.model.optimizer.build(self.model.trainable_variables)
            self.fresh_optimizer = [v.numpy() for v in self.model.optimizer.variables]
        return self


def _stand_in(model) -> StandIn | None:
    """The structure's stand-in, holding `model`'s weights and seed states now; None where
    models are not traced this way (not TensorFlow)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    # not `to_json()`: a compiled model's holds its compile settings too (rate, steps, the
    # optimizer's numbered name), which would make every trained model a structure of its own
    key = json.dumps(model.get_config(), sort_keys=True)
    if key not in _STAND_INS:
        _STAND_INS[key] = StandIn(model)
    stand_in = _STAND_INS[key]
    _copy(model.variables, stand_in.model.variables)
    return stand_in


def trainer_for(model, learning_rate, steps: int, compile_model):
    """A model to train in `model`'s place at `learning_rate`, decayed over `steps`: the
    structure's stand-in, with `model`'s state and a fresh optimizer; or, where there is none,
    `model` itself compiled by `compile_model(model, learning_rate, steps)`."""
    stand_in = _stand_in(model)
    if stand_in is None:
        compile_model(model, learning_rate, steps)
        return model
    stand_in.compiled(compile_model)
    for variable, value in zip(
        stand_in.model.optimizer.variables, stand_in.fresh_optimizer, strict=True
    ):
        variable.assign(value)
    stand_in.rate.assign(learning_rate)
    stand_in.steps.assign(steps)
    return stand_in.model


def give_back(trained, model, learning_rate, steps: int, compile_model) -> None:
    """Put what `trained` (from `trainer_for`) learned into `model`, compiled as it would have
    been to train itself, with the optimizer state training left."""
    if trained is model:
        return
    _copy(trained.variables, model.variables)
    compile_model(model, learning_rate, steps)
    model.optimizer.build(model.trainable_variables)
    _copy(trained.optimizer.variables, model.optimizer.variables)


def predict(model, x, batch_size: int):
    """`model.predict(x, batch_size=batch_size)`, through its structure's stand-in where there
    is one, one batch at a time: the same batches and numbers without the input pipeline that
    `predict` builds on every call (500 images: 12 ms against 76 ms, 2-core machine)."""
    import numpy as np

    stand_in = _stand_in(model)
    predictor = model if stand_in is None else stand_in.model
    batches = [
        predictor.predict_on_batch(x[i : i + batch_size]) for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(batches)


def evaluate(model, x, y, compile_model, **options):
    """`model.evaluate(x, y, **options)` (the model compiled by `compile_model`), through its
    structure's stand-in where there is one."""
    stand_in = _stand_in(model)
    return (model if stand_in is None else stand_in.compiled(compile_model).model).evaluate(
        x, y, **options
    )


def _copy(sources, targets) -> None:
    for source, target in zip(sources, targets, strict=True):
        if tuple(source.shape) != tuple(target.shape):
            raise ValueError(f"{source.path} {source.shape} cannot go into {target.shape}")
        target.assign(source)
