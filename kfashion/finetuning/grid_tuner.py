"""The grid of transfer runs as KerasTuner parts: its oracle and its tuner.

One trial is one cell of the grid (`kfashion.finetuning.grid.Cell`: network, label count, case,
recipe, pretraining seed, learning rate), and its executions are the cell's fine-tuning seeds. The
oracle hands out the recipe search's cells first, then the final cells, each final cell with
the learning rate its search group's trials scored best on validation: a final cell whose
search has not ended everywhere yet is answered IDLE (KerasTuner's "ask again"), so workers on
several machines share one grid. Each run's record is written to the results folder as it
ends (`layout.grid_run`), so a grid resumes from its records even without KerasTuner's folder.
"""

import dataclasses
import time
from pathlib import Path

import keras
import keras_tuner
import numpy as np

from kfashion import config
from kfashion.config import CASES
from kfashion.core import layout
from kfashion.core.files import file_digest, read_json, read_record, save_model, write_json
from kfashion.engine import training
from kfashion.engine.fixed_oracle import UNFINISHED, FixedOracle, user_errors_end_the_search
from kfashion.finetuning import cases
from kfashion.finetuning.grid import ALL, Cell, choose_rate, encoder_text, labels_text

OBJECTIVE = keras_tuner.Objective("val_accuracy", direction="max")


def search_space(cells) -> keras_tuner.HyperParameters:
    """A Choice for every field of a cell, over the values the grid's cells take (a final
    cell's rate is one of its recipe's candidates)."""
    hp = keras_tuner.HyperParameters()
    values = [cell.values() for cell in cells]
    rates = sorted({rate for cell in cells for rate in config.RECIPES[cell.recipe].rates})
    for name in values[0]:
        if name == "search":
            hp.Boolean(name)
        else:
            hp.Choice(name, rates if name == "rate" else sorted({v[name] for v in values}))
    return hp


class GridOracle(FixedOracle):
    """Hands out the grid's cells in order, one per trial; a final cell gets its learning rate
    from its search group's ended trials (`grid.choose_rate`), or waits (IDLE) for them."""

    def __init__(self, cells: list[Cell], **kwargs):
        super().__init__(cells, OBJECTIVE, search_space(cells), **kwargs)

    def search_scores(self, group: tuple) -> dict:
        """rate -> score of the group's ended search trials (a failed one scores -inf)."""
        scores = {}
        for trial in self.trials.values():
            cell = Cell.from_values(trial.hyperparameters.values)
            if cell.search and cell.group == group and trial.status not in UNFINISHED:
                scores[cell.rate] = -np.inf if trial.score is None else trial.score
        return scores

    def values_of(self, cell: Cell) -> dict | None:
        if not cell.search:
            rate = choose_rate(cell.group, self.search_scores(cell.group))
            if rate is None:  # its search is still running elsewhere: ask again
                return None
            cell = dataclasses.replace(cell, rate=rate)
        return cell.values()


def repeats_for(count: int, batch_size: int, epochs: int, min_steps: int) -> int:
    """How many times the labelled images appear per epoch, for at least `min_steps` steps."""
    steps_per_epoch = -(-count // batch_size)
    return max(1, -(-min_steps // (epochs * steps_per_epoch)))


def split_for(cell: Cell, seed: int, dataset, batch_size, epochs, min_steps) -> cases.Split:
    """What run (`cell`, `seed`) trains and validates on. A few-label run's labelled images are
    drawn by its fine-tuning seed, the same in every case; its search runs validate on a fifth
    of them and train on the rest; they repeat within each epoch for `min_steps` steps."""
    from kfashion.data import stratified_sample

    if cell.labels == ALL:
        return cases.whole_split(dataset)
    picked = stratified_sample(dataset.y_train, int(cell.labels), seed)
    x_val = y_val = validation = None
    if cell.search:
        held = stratified_sample(dataset.y_train[picked], len(picked) // config.HELD_OUT, seed)
        x_val, y_val = dataset.x_train[picked[held]], dataset.y_train[picked[held]]
        picked = np.delete(picked, held)
        validation = "a held-out fifth of its labelled images"
    repeats = repeats_for(len(picked), batch_size, epochs, min_steps)
    train = np.tile(picked, repeats)
    x, y = dataset.x_train[train], dataset.y_train[train]
    return cases.Split(x, y, x_val, y_val, repeats, validation, keep_best=False)


class GridTuner(keras_tuner.Tuner):
    """Runs each trial's cell once per fine-tuning seed and keeps every run's record.

    Args:
        encoders: network -> pretraining seed -> (encoder model, its file's SHA-256).
        dataset: the data; the test split is scored once per final run, for the record.
        results: the results folder the run records go to.
        epochs, batch_size, min_steps: every run's.
        saved: cell -> where its first seed's classifier is saved, or None.
        tensorboard: a folder for TensorBoard logs, one run per run and phase, laid out as
            the results' run records are, or None.
    """

    def __init__(
        self, encoders, dataset, results, epochs, batch_size, min_steps, saved, tensorboard, **kw
    ):
        super().__init__(**kw)
        self.encoders, self.dataset, self.results = encoders, dataset, results
        self.epochs, self.batch_size, self.min_steps = epochs, batch_size, min_steps
        self.saved, self.tensorboard = saved, tensorboard
        self.probe = cases.probe_images(dataset)
        self._asked_in_vain = False

    def pre_create_trial(self):
        if self._asked_in_vain:  # the last ask was answered IDLE: wait before the next
            time.sleep(config.WAIT_SECONDS)
        self._asked_in_vain = True

    def on_trial_begin(self, trial):
        self._asked_in_vain = False
        super().on_trial_begin(trial)

    def done(self, cell: Cell, seed: int) -> bool:
        """Its record whole (not cut short) and made at the rate the search chose now, and the
        classifier it keeps, if it keeps one, the one it saved."""
        record = read_record(layout.grid_run(self.results, cell, seed))
        if record is None or record["learning_rate"] != cell.rate:
            return False
        saved = self.saved(cell) if seed == cell.seeds[0] else None
        return saved is None or (
            saved.exists() and file_digest(saved) == record.get("classifier_sha256")
        )

    @user_errors_end_the_search
    def run_trial(self, trial, *args, **kwargs):
        cell = Cell.from_values(trial.hyperparameters.values)
        pending = [seed for seed in cell.seeds if not self.done(cell, seed)]
        for seed, classifier, record in self._train(cell, pending):
            saved = self.saved(cell)
            if seed == cell.seeds[0] and saved is not None:
                save_model(classifier, saved)
                record["classifier_sha256"] = file_digest(saved)  # which run the file is
            write_json(layout.grid_run(self.results, cell, seed), record)  # last: now done
            print(describe(record), flush=True)
        records = [read_json(layout.grid_run(self.results, cell, s)) for s in cell.seeds]
        score = "val_accuracy" if cell.search else "split_val_accuracy"
        return {OBJECTIVE.name: float(np.mean([r[score] for r in records]))}

    def _logs(self, cell: Cell, seed: int, phase: str = "all") -> list:
        """One run's TensorBoard callbacks (`training.tensorboard`), for one of its phases."""
        run = layout.grid_run(Path(), cell, seed).with_suffix("") / phase
        values = {**cell.values(), "seed": seed}
        return training.tensorboard(self.tensorboard, str(run), values)

    def _train(self, cell: Cell, seeds):
        """Yield (seed, trained classifier, record) for each seed of `seeds`."""
        first = min(self.encoders[cell.network])
        template, digest = self.encoders[cell.network][max(cell.encoder_seed, first)]
        arguments = (self.dataset, self.batch_size, self.epochs, self.min_steps)
        together = training.compiles_whole_epochs() and cell.recipe == "joint"
        if together and cell.labels == ALL and len(seeds) > 1:
            keras.backend.clear_session()
            split = cases.whole_split(self.dataset)
            trained = cases.train_together(
                template,
                cell.case,
                cell.rate,
                seeds,
                split,
                self.epochs,
                self.batch_size,
                self.probe,
                lambda seed: self._logs(cell, seed),
            )
            for seed, (classifier, record) in zip(seeds, trained, strict=True):
                yield seed, classifier, self._record(cell, seed, classifier, record, digest)
            return
        # Elsewhere one after another: few-label runs give each seed its own images and
        # two-phase runs have two phases, so branches of one model would be a third way of
        # training a run, for a gain on a CPU too small and unsteady to keep (commit messages).
        for seed in seeds:
            keras.backend.clear_session()  # the last run's models are done with
            split = split_for(cell, seed, *arguments)
            classifier, record = cases.train(
                template,
                cell.case,
                cell.recipe,
                cell.rate,
                seed,
                split,
                self.epochs,
                self.batch_size,
                self.probe,
                verbose=cases.verbosity() if cell.labels == ALL else 0,
                logs=lambda phase, seed=seed: self._logs(cell, seed, phase),
            )
            yield seed, classifier, self._record(cell, seed, classifier, record, digest)

    def _record(self, cell: Cell, seed: int, classifier, record: dict, digest: str) -> dict:
        from kfashion.core.provenance import environment, utc_now

        run = {
            **{k: v for k, v in dataclasses.asdict(cell).items() if k not in ("seeds", "rate")},
            "seed": seed,
            "learning_rate": cell.rate,
            "epochs": sum(record["phase_epochs"]),  # two-phase: at least one of each
            "batch_size": self.batch_size,
            "encoder_sha256": digest,  # a random encoder: the file its configuration came from
            **record,
        }
        if config.RECIPES[cell.recipe].head_rate:
            run["head_learning_rate"] = config.RECIPES[cell.recipe].head_rate
        if not cell.search:  # the test split, once; the validation split for the record only
            val = classifier.evaluate(
                self.dataset.x_val,
                self.dataset.y_val,
                batch_size=config.EVAL_BATCH_SIZE,
                verbose=0,
                return_dict=True,
            )
            run["split_val_accuracy"] = float(val["accuracy"])
            run |= cases.test_scores(classifier, self.dataset)
        return run | {"ended": utc_now(), "environment": environment()}


def describe(record: dict) -> str:
    """One line for a finished run."""
    labels, encoder = labels_text(record["labels"]), encoder_text(record["encoder_seed"])
    head = f"{record['network']}, {labels}, case {record['case']} ({CASES[record['case']].label})"
    how = f"{record['recipe']} at lr {record['learning_rate']:g}, {encoder}, seed {record['seed']}"
    if record["search"]:
        outcome = f"validation accuracy {record['val_accuracy']:.4f} (search)"
    else:
        outcome = f"test accuracy {record['test_accuracy']:.4f}"
    return f"{head}, {how}: {outcome} ({record['seconds']:.0f} s)"
