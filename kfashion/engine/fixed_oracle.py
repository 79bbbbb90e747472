"""An oracle that hands out a fixed list of points in order, one per trial: the sweep's design
points (`kfashion.pretraining.sweep`) and the grid's cells (`kfashion.finetuning.grid_tuner`).

KerasTuner's GridSearch walks the whole product of a search space, not a list of points.
Here a trial's index is how many trials have been created, which the oracle's saved state
keeps, so a stopped search resumes where it was (KerasTuner re-queues an interrupted trial),
and every value a trial reads is given (KerasTuner's base oracle would sample a missing one).
Also what both searches' tuners share: a problem the user must fix ends the search.
"""

import functools

import keras_tuner

from kfashion.core.errors import UserError, disk_full, full_disk_message

TrialStatus = keras_tuner.engine.trial.TrialStatus
UNFINISHED = (TrialStatus.RUNNING, TrialStatus.IDLE)  # a trial that has not ended


class FixedOracle(keras_tuner.Oracle):
    """Trial i gets `values_of(points[i])`; where that is None (the point cannot start yet,
    say while what it depends on runs elsewhere), the worker is answered IDLE: ask again."""

    def __init__(self, points: list, objective, hyperparameters, **kwargs):
        super().__init__(
            objective=objective,
            max_trials=len(points),
            hyperparameters=hyperparameters,
            allow_new_entries=False,
            tune_new_entries=False,
            # a failed trial (a diverged run, say) is recorded as failed, and the search goes on
            max_consecutive_failed_trials=len(points) + 1,
            **kwargs,
        )
        self.points = points

    def values_of(self, point) -> dict | None:
        raise NotImplementedError

    def populate_space(self, trial_id):
        # KerasTuner asks for no more than `max_trials`, the number of points
        values = self.values_of(self.points[len(self.trials)])
        if values is None:
            return {"status": TrialStatus.IDLE}
        return {"status": TrialStatus.RUNNING, "values": values}


class UserErrorInTrial(keras_tuner.errors.FatalError, UserError):
    """A UserError raised in a trial, as KerasTuner lets it end the search (see below)."""


def user_errors_end_the_search(run_trial):
    """Wrap a tuner's `run_trial`: a UserError (a full disk, a bad results file), or a full disk
    met in a library's write, ends the search at once, as the one line every command prints.
    KerasTuner's `BaseTuner._try_run_and_update_trial` catches anything else a trial raises,
    prints its traceback, marks the trial failed and goes on to the next, which would fail the
    same way; it re-raises a `keras_tuner.errors.FatalError` untouched. A genuine bug still
    shows its traceback."""

    @functools.wraps(run_trial)
    def wrapper(*args, **kwargs):
        try:
            return run_trial(*args, **kwargs)
        except UserError as error:
            raise UserErrorInTrial(str(error)) from None
        except Exception as error:
            if full := disk_full(error):  # in a library's write (a TensorBoard log, say)
                raise UserErrorInTrial(full_disk_message(full)) from None
            raise

    return wrapper
