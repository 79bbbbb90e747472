"""An oracle that hands out a fixed list of points in order, one per trial: the sweep's design
points (`kfashion.sweep`) and the grid's cells (`kfashion.grid_tuner`).

KerasTuner's GridSearch walks the whole product of a search space, not a list of points.
Here a trial's index is how many trials have been created, which the oracle's saved state
keeps, so a stopped search resumes where it was (KerasTuner re-queues an interrupted trial),
and every value a trial reads is given (KerasTuner's base oracle would sample a missing one).
"""

import keras_tuner

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
