"""What a study's stages cost: each training stage's seconds predicted before it starts, from
the committed pilot's and reference sweep's measured costs (`prediction.json`), and the time its
stages still need while it runs. It loads no framework: a bad argument is still refused before
one loads."""

import dataclasses
from pathlib import Path

from kfashion import config
from kfashion.config import train_split_size
from kfashion.core import cli, layout, saved_models
from kfashion.core.stages import Stage


def cells(argv: list[str], networks=()) -> list:
    """The cells of the grid a transfer command will run (`grid.plan`)."""
    from kfashion import transfer
    from kfashion.finetuning import grid

    args = transfer.parse_args(argv)
    counts, others, every = grid.label_counts(args, train_split_size(args.subset))
    return grid.plan(
        list(networks) or [f"network{i}" for i in range(len(args.encoder or [None]))],
        counts,
        cli.parse_cases(args.cases),
        grid.parse_recipes(args.recipes),
        saved_models.parse_encoder_seeds(args.encoder_seeds or "0"),
        grid.draws(every, args.seeds),
        args.random_inits,
        others,
    )


def predicted_seconds(stage: Stage, pilot: dict | None, sweep: dict | None) -> float | None:
    """A training stage's seconds, predicted before it starts from measured costs: a grid
    cell's least runs (`grid.least_runs`) at the pilot's seconds per run of its label count
    and case (the augmentation control at case 3's; a choice's fold runs at a final run's,
    as they take the minimum steps too), a sweep seed at the mean seconds per seed of
    `sweep` (every pretext's at reconstruction's: none other is measured at full size);
    None where nothing measured applies."""
    from kfashion.finetuning import grid

    if stage.module == "tune" and sweep is not None:
        seeds = [s["seconds"] for t in sweep["trials"] for s in t["seeds"] if s.get("seconds")]
        return stage.units * sum(seeds) / len(seeds) if seeds else None
    if stage.module == "transfer" and pilot is not None:
        cost = pilot["seconds_per_run"]
        return sum(
            grid.least_runs(cell) * cost[cell.labels][str(priced_as(cell.case))]
            for cell in cells(stage.argv, stage.networks)
        )
    return None


def priced_as(case: int) -> int:
    """The first case whose encoder starts and trains as `case`'s does (5: 3)."""
    mine = config.CASES[case]
    return next(
        number
        for number, other in config.CASES.items()
        if (other.pretrained, other.train_encoder) == (mine.pretrained, mine.train_encoder)
    )


def committed_costs() -> tuple[dict | None, dict | None]:
    """(the committed pilot, the committed reference sweep), each None where it is not there:
    the measured costs a full-size run is priced from."""
    from kfashion.core.files import read_json

    def committed(path: Path) -> dict | None:
        return read_json(path) if path.exists() else None

    pilot = committed(Path(config.PILOT_RESULTS) / layout.PILOT)
    return pilot, committed(Path(config.REFERENCE_RESULTS) / layout.SWEEP)


def runs_held(cell, results: Path) -> int:
    """How many of a cell's least runs (`grid.least_runs`) its records in `results` hold: all
    of a choice that is made, else its starting candidates' fold runs; a final cell's runs
    with the recipe its choice made."""
    from kfashion.core.files import read_record
    from kfashion.finetuning import grid

    made = read_record(layout.choice(results, cell))
    if cell.search:
        if made is not None:
            return grid.least_runs(cell)
        folds = 1 if cell.labels == grid.ALL else config.FOLDS
        candidates = [(r, rate) for r in cell.recipes for rate in config.RECIPES[r].rates]
        return sum(
            layout.fold_run(results, cell, recipe, rate, fold).exists()
            for recipe, rate in candidates
            for fold in range(folds)
        )
    if made is None:
        return 0
    chosen = dataclasses.replace(cell, recipe=made["recipe"])
    return sum(layout.grid_run(results, chosen, *run).exists() for run in cell.runs)


def least_runs_held(cells, results: Path) -> int:
    """The grid's units of work finished: each cell's least runs its records hold."""
    return sum(runs_held(cell, results) for cell in cells)


def grid_seconds_left(stage: Stage, pilot: dict) -> float | None:
    """The training seconds a grid stage still needs: the pilot's price of each cell's least
    runs its records do not hold yet (`runs_held`), scaled by how long this grid's finished
    runs took against their price (in workers of a core each, or on a slower machine, a run
    takes longer than the pilot's one at a time on every core); None while no finished run
    has a price."""
    from kfashion import transfer
    from kfashion.core.files import read_record
    from kfashion.finetuning import grid

    cost = pilot["seconds_per_run"]
    results = Path(transfer.parse_args(stage.argv).results)
    taken = priced = 0.0
    for path in stage.finished():
        record = read_record(path) or {}
        try:
            price = cost[str(record["labels"])][str(priced_as(record["case"]))]
            taken, priced = taken + float(record["seconds"]), priced + price
        except (KeyError, TypeError, ValueError):
            continue
    if not priced:
        return None
    left = sum(
        (grid.least_runs(cell) - runs_held(cell, results))
        * cost[cell.labels][str(priced_as(cell.case))]
        for cell in cells(stage.argv, stage.networks)
    )
    return max(left, 0.0) * taken / priced


def prediction(plan: list[Stage], pilot: dict | None, sweep: dict | None) -> dict | None:
    """Each training stage's predicted seconds (`predicted_seconds`), from the committed pilot
    and reference sweep (`committed_costs`), for prediction.json; None where neither is there
    to price a stage. It loads no framework: a bad argument is still refused before one loads."""
    stages = [
        {"what": s.what, "module": s.module, "units": s.units,
         "predicted_seconds": predicted_seconds(s, pilot, sweep)}
        for s in plan
        if s.module in ("tune", "transfer")
    ]  # fmt: skip
    if all(s["predicted_seconds"] is None for s in stages):
        return None
    return {
        "costs": {
            "transfer": f"{config.PILOT_RESULTS}/{layout.PILOT} seconds_per_run (one run at a time "
            "on every core: in workers of a core each, a run takes longer and two run at once), "
            "the augmentation control at case 3's (its augmentation's own cost is not measured), "
            "the least runs of each cell (a choice at an edge of its rates runs more)",
            "tune": f"{config.REFERENCE_RESULTS}/{layout.SWEEP} mean seconds per seed, every "
            "pretext's at reconstruction's",
        },
        "stages": stages,
        "predicted_seconds": sum(s["predicted_seconds"] or 0 for s in stages),
    }


def time_left(plan: list[Stage], start: int, pilot: dict | None = None) -> str:
    """An estimate of the wall-clock training time the stages from `start` on still need, over
    the workers that train them side by side: the seconds their finished units took, times the
    units left (a grid's runs weighted by the pilot's costs where `pilot` is given: a
    full-size run's runs differ in cost a hundredfold); stages with none finished yet are named
    instead."""
    total, untimed = 0.0, []
    for stage in plan[start:]:
        left = max(stage.units - stage.done(), 0)
        if not left or not stage.finished:
            continue
        seconds = None
        if stage.module == "transfer" and pilot is not None:
            seconds = grid_seconds_left(stage, pilot)
        elif (per_unit := stage.seconds_per_unit()) is not None:
            seconds = left * per_unit
        if seconds is None:
            untimed.append(f"{stage.units_text(left)} of {stage.module}")
        else:
            total += seconds / stage.workers
    amount = (
        "under a minute" if total < 60
        else f"about {total / 60:.0f} min" if total < 7200
        else f"about {total / 3600:.1f} h"
    )  # fmt: skip
    if not untimed:
        return f"time left: {amount} of training"
    known = f"{amount} of training, plus " if total else ""
    return f"time left: {known}{', '.join(untimed)}, timed once the first of each ends"
