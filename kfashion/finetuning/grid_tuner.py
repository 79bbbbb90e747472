"""The grid of transfer runs as KerasTuner parts: its oracle and its tuner.

One trial is one cell of the grid (`kfashion.finetuning.grid.Cell`). A choice cell's trial
cross-validates its candidates on its draw's labels and writes the choice (`layout.choice`);
a final cell's trial trains its runs (fine-tuning seeds, each from its initialisations) with
that choice. The oracle hands out the choice cells first, then the final cells, each with its
draw's recipe and rate as the choice's record on disk says: a final cell whose choice is not
made yet is answered IDLE (KerasTuner's "ask again"), so workers on several machines share one
grid (and one results folder). Each run's record is written as it ends, so a grid resumes
from its records even without KerasTuner's folder.
"""

import dataclasses
import functools
import time
from pathlib import Path

import keras
import keras_tuner
import numpy as np

from kfashion import config
from kfashion.config import CASES
from kfashion.core import layout
from kfashion.core.errors import UserError
from kfashion.core.files import file_digest, read_json, read_record, save_model, write_json
from kfashion.engine import training
from kfashion.engine.fixed_oracle import UNFINISHED, FixedOracle, user_errors_end_the_search
from kfashion.finetuning import cases, grid
from kfashion.finetuning.grid import ALL, Cell, encoder_text, init_seed, labels_text

OBJECTIVE = keras_tuner.Objective("val_accuracy", direction="max")


def search_space(cells) -> keras_tuner.HyperParameters:
    """A Choice for every field of a cell, over the values the grid's cells take (a final
    cell's recipe and rate are among every recipe's and every rate of the ladder)."""
    hp = keras_tuner.HyperParameters()
    values = [cell.values() for cell in cells]
    recipes = sorted({v["recipe"] for v in values} | set(config.RECIPES))
    rates = sorted({0.0, *(rate for r in config.RECIPES.values() for rate in r.ladder)})
    for name in values[0]:
        if name == "search":
            hp.Boolean(name)
        else:
            known = {"recipe": recipes, "rate": rates}
            hp.Choice(name, known.get(name) or sorted({v[name] for v in values}))
    return hp


class GridOracle(FixedOracle):
    """Hands out the grid's cells in order, one per trial; a final cell gets its recipe and
    rate from its draw's choice in `results` (`layout.choice`), or waits (IDLE) for it."""

    def __init__(self, cells: list[Cell], results, **kwargs):
        super().__init__(cells, OBJECTIVE, search_space(cells), **kwargs)
        self.results = Path(results)

    def values_of(self, cell: Cell) -> dict | None:
        if not cell.search:
            choice = read_record(layout.choice(self.results, cell))
            if choice is not None:
                cell = dataclasses.replace(
                    cell, recipe=choice["recipe"], rate=choice["learning_rate"]
                )
            elif not self.choice_ended(cell):  # its choice is being made elsewhere: ask again
                return None
            # else its choice failed: handed out without one, to fail too (and be reported)
        return cell.values()

    def choice_ended(self, cell: Cell) -> bool:
        """Whether the trial of a final cell's choice has ended (a failed one writes none)."""
        for trial in self.trials.values():
            made = Cell.from_values(trial.hyperparameters.values)
            same = (made.network, made.labels, made.case, made.draw)
            if made.search and same == (cell.network, cell.labels, cell.case, cell.draw):
                return trial.status not in UNFINISHED
        return False


def repeats_for(count: int, batch_size: int, epochs: int, min_steps: int) -> int:
    """How many times the labelled images appear per epoch, for at least `min_steps` steps."""
    steps_per_epoch = -(-count // batch_size)
    return max(1, -(-min_steps // (epochs * steps_per_epoch)))


def split_for(cell: Cell, seed: int, dataset, batch_size, epochs, min_steps) -> cases.Split:
    """What final run (`cell`, `seed`) trains on: with all labels the training split,
    validated on the validation split; else the N labelled images its fine-tuning seed draws,
    the same in every case, repeated within each epoch for `min_steps` steps, no validation."""
    from kfashion.data import stratified_sample

    if cell.labels == ALL:
        return cases.whole_split(dataset)
    picked = stratified_sample(dataset.y_train, int(cell.labels), seed)
    return repeated(dataset, picked, None, batch_size, epochs, min_steps, None)


def fold_split(cell: Cell, fold: int, dataset, batch_size, epochs, min_steps) -> cases.Split:
    """Fold `fold` of a choice cell's cross-validation: its draw's N labelled images (those
    the final runs train on) in config.FOLDS stratified folds; it trains on the others,
    repeated as a final run's, and is scored on this one at the last epoch."""
    from sklearn.model_selection import StratifiedKFold

    from kfashion.data import stratified_sample

    picked = stratified_sample(dataset.y_train, int(cell.labels), cell.draw)
    folds = StratifiedKFold(config.FOLDS, shuffle=True, random_state=cell.draw)
    train, held = list(folds.split(picked, dataset.y_train[picked]))[fold]
    how = "a held-out fold of its own labels"
    return repeated(dataset, picked[train], picked[held], batch_size, epochs, min_steps, how)


def repeated(dataset, train, held, batch_size, epochs, min_steps, validation) -> cases.Split:
    """A few-label split: the training images `train` (indices) repeated for `min_steps`,
    validated on `held` (or not, where None), the last epoch kept."""
    repeats = repeats_for(len(train), batch_size, epochs, min_steps)
    every = np.tile(train, repeats)
    x, y = dataset.x_train[every], dataset.y_train[every]
    x_val = None if held is None else dataset.x_train[held]
    y_val = None if held is None else dataset.y_train[held]
    return cases.Split(x, y, x_val, y_val, repeats, validation, keep_best=False)


class GridTuner(keras_tuner.Tuner):
    """Runs each trial's cell, a choice (its candidates on their folds) or a final cell (once
    per fine-tuning seed and initialisation), and keeps every run's record.

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
        # the arguments every run passes on: to `split_for` or `fold_split`, to `cases.train`
        self._splits = (dataset, batch_size, epochs, min_steps)
        self._shared = (epochs, batch_size, self.probe)
        self._asked_in_vain = False

    def pre_create_trial(self):
        if self._asked_in_vain:  # the last ask was answered IDLE: wait before the next
            time.sleep(config.WAIT_SECONDS)
        self._asked_in_vain = True

    def on_trial_begin(self, trial):
        self._asked_in_vain = False
        super().on_trial_begin(trial)

    def done(self, cell: Cell, run: tuple) -> bool:
        """Its record whole (not cut short) and made with the recipe and rate its draw's choice
        made, and the classifier it keeps, if it keeps one, the one it saved."""
        record = read_record(layout.grid_run(self.results, cell, *run))
        if record is None or record["learning_rate"] != cell.rate:
            return False
        saved = self.saved(cell) if run == cell.runs[0] else None
        return saved is None or (
            saved.exists() and file_digest(saved) == record.get("classifier_sha256")
        )

    @user_errors_end_the_search
    def run_trial(self, trial, *args, **kwargs):
        cell = Cell.from_values(trial.hyperparameters.values)
        if cell.search:
            return {OBJECTIVE.name: self._choose(cell)["mean_accuracy"]}
        if cell.recipe is None:
            raise RuntimeError(f"no choice for {cell.describe()}: its choice's trial failed")
        pending = [run for run in cell.runs if not self.done(cell, run)]
        for run, classifier, record in self._train(cell, pending):
            saved = self.saved(cell)
            if run == cell.runs[0] and saved is not None:
                save_model(classifier, saved)
                record["classifier_sha256"] = file_digest(saved)  # which run the file is
            write_json(layout.grid_run(self.results, cell, *run), record)  # last: now done
            print(describe(record), flush=True)
        records = [read_json(layout.grid_run(self.results, cell, *run)) for run in cell.runs]
        return {OBJECTIVE.name: float(np.mean([r["split_val_accuracy"] for r in records]))}

    def _choose(self, cell: Cell) -> dict:
        """Make (or read back) a choice cell's choice (`grid.CHOICE_RULE`): its record, the
        chosen candidate's score as "mean_accuracy"."""
        from kfashion.core.provenance import environment, utc_now

        path = layout.choice(self.results, cell)
        if (found := read_record(path)) is not None:
            among = sorted({c["recipe"] for c in found["candidates"]})
            if among != sorted(cell.recipes):
                raise UserError(
                    f"{path} holds a choice among {', '.join(among)}; this grid chooses among "
                    f"{cell.recipe}: rerun with --recipes {','.join(among)} to resume, pass "
                    "--overwrite to discard the group's runs, or choose another --results"
                )
            return found
        folds, extended = {}, []
        for recipe in cell.recipes:
            queue = list(config.RECIPES[recipe].rates)
            while queue:
                rate = queue.pop(0)
                folds[recipe, rate] = self._held_out(cell, recipe, rate)
                mine = {r: np.mean(v) for (name, r), v in folds.items() if name == recipe}
                if not queue and (beyond := grid.next_rate(recipe, mine)) is not None:
                    queue.append(beyond)
                    extended.append([recipe, beyond])
        means = {candidate: float(np.mean(values)) for candidate, values in folds.items()}
        recipe, rate = grid.best_candidate(means)
        choice = {
            "network": cell.network,
            "labels": cell.labels,
            "case": cell.case,
            "draw": cell.draw,
            "encoder_seed": cell.encoder_seed,
            "encoder_sha256": self._template(cell)[1],
            "candidates": [
                {"recipe": name, "learning_rate": r, "held_out_accuracy": v, "mean": means[name, r]}
                for (name, r), v in folds.items()
            ],
            "extended": extended,
            "ties": grid.ties(means),
            "recipe": recipe,
            "learning_rate": rate,
            "mean_accuracy": means[recipe, rate],
            "ended": utc_now(),
            "environment": environment(),
        }
        write_json(path, choice)
        print(describe_choice(choice), flush=True)
        return choice

    def _held_out(self, cell: Cell, recipe: str, rate: float) -> list[float]:
        """A candidate's held-out accuracy on each fold of a choice cell (one score with all
        labels: the validation split's at the best epoch), each run's record kept."""
        template, digest = self._template(cell)
        ran = dataclasses.replace(cell, recipe=recipe, rate=rate)
        run = (init_seed(cell.draw or 0, 0), 0)  # as its draw's first final run
        scores = []
        for fold in range(cell.folds):
            path = layout.fold_run(self.results, cell, recipe, rate, fold)
            record = read_record(path)
            if record is None:
                keras.backend.clear_session()
                split = (
                    cases.whole_split(self.dataset)
                    if cell.labels == ALL
                    else fold_split(cell, fold, *self._splits)
                )
                named = layout.fold_run(Path(), cell, recipe, rate, fold)
                logs = functools.partial(self._logs, ran, run, record=named)
                _, record = cases.train(
                    template, cell.case, recipe, rate, run[0], split, *self._shared, logs=logs
                )
                record = self._record(ran, run, None, record, digest) | {"fold": fold}
                write_json(path, record)
                print(describe(record), flush=True)
            scores.append(record["val_accuracy"])
        return scores

    def _logs(self, cell: Cell, run: tuple, phase: str = "all", record=None) -> list:
        """One run's TensorBoard callbacks (`training.tensorboard`), for one of its phases,
        in a folder named as its record (`record`, under the results; a final run's if None)."""
        record = record or layout.grid_run(Path(), cell, *run)
        values = {**cell.values(), "seed": run[0], "init": run[1]}
        return training.tensorboard(self.tensorboard, str(record.with_suffix("") / phase), values)

    def _template(self, cell: Cell) -> tuple:
        """(the encoder a cell's runs start from, its file's SHA-256): its pretraining seed's,
        or for a random encoder the first seed's, whose configuration it takes."""
        first = min(self.encoders[cell.network])
        return self.encoders[cell.network][max(cell.encoder_seed, first)]

    def _train(self, cell: Cell, runs):
        """Yield ((seed, init), trained classifier, record) for each run of `runs`."""
        template, digest = self._template(cell)
        # the augmentation control's random layers stay on the plain path: their state in a
        # whole-epoch program is untested
        together = (
            training.compiles_whole_epochs()
            and cell.recipe == "joint"
            and not CASES[cell.case].augmented
        )
        if together and cell.labels == ALL and len(runs) > 1:
            keras.backend.clear_session()
            split = cases.whole_split(self.dataset)
            logs = {init_seed(*run): self._logs(cell, run) for run in runs}
            trained = cases.train_together(
                template, cell.case, cell.rate, list(logs), split, *self._shared, logs.get
            )
            for run, (classifier, record) in zip(runs, trained, strict=True):
                yield run, classifier, self._record(cell, run, classifier, record, digest)
            return
        # Elsewhere one after another: few-label runs give each seed its own images and
        # two-phase runs have two phases, so branches of one model would be a third way of
        # training a run, for a gain on a CPU too small and unsteady to keep (commit messages).
        verbose = cases.verbosity() if cell.labels == ALL else 0
        for run in runs:
            keras.backend.clear_session()  # the last run's models are done with
            split = split_for(cell, run[0], *self._splits)  # the draw: the fine-tuning seed's
            logs = functools.partial(self._logs, cell, run)
            classifier, record = cases.train(
                template, cell.case, cell.recipe, cell.rate, init_seed(*run), split,
                *self._shared, verbose, logs,
            )  # fmt: skip
            yield run, classifier, self._record(cell, run, classifier, record, digest)

    def _record(self, cell: Cell, run_id: tuple, classifier, record: dict, digest: str) -> dict:
        from kfashion.core.provenance import environment, utc_now

        omitted = ("seeds", "rate", "inits")
        run = {
            **{k: v for k, v in dataclasses.asdict(cell).items() if k not in omitted},
            "seed": run_id[0],
            "init": run_id[1],
            "learning_rate": cell.rate,
            "epochs": sum(record["phase_epochs"]),  # two-phase: at least one of each
            "batch_size": self.batch_size,
            "encoder_sha256": digest,  # a random encoder: the file its configuration came from
            **record,
        }
        if config.RECIPES[cell.recipe].head_rate:
            run["head_learning_rate"] = config.RECIPES[cell.recipe].head_rate
        if not cell.search:  # the test split, once; the validation split for the record only
            run["chosen"] = True  # its recipe and rate: its draw's choice (`grid.CHOICE_RULE`)
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


def describe_choice(choice: dict) -> str:
    """One line for a choice made."""
    draw = "" if choice["draw"] is None else f", draw {choice['draw']}"
    head = f"{choice['network']}, {labels_text(choice['labels'])}, case {choice['case']}{draw}"
    tried = len(choice["candidates"])
    tie = " (a tie, broken by the rule)" if choice["ties"] else ""
    return (
        f"{head}: chose {choice['recipe']} at lr {choice['learning_rate']:g} among {tried} "
        f"candidates, held-out accuracy {choice['mean_accuracy']:.4f}{tie} (choice)"
    )


def describe(record: dict) -> str:
    """One line for a finished run."""
    labels, encoder = labels_text(record["labels"]), encoder_text(record["encoder_seed"])
    head = f"{record['network']}, {labels}, case {record['case']} ({CASES[record['case']].label})"
    how = f"{record['recipe']} at lr {record['learning_rate']:g}, {encoder}, seed {record['seed']}"
    how += f" (initialisation {record['init']})" if record.get("init") else ""
    if record["search"]:
        outcome = f"held-out accuracy {record['val_accuracy']:.4f} (choice, fold {record['fold']})"
    else:
        outcome = f"test accuracy {record['test_accuracy']:.4f}"
    return f"{head}, {how}: {outcome} ({record['seconds']:.0f} s)"
