"""What a study's stages cost: each training stage's seconds predicted before it starts, from
the committed reference run's measured costs (`prediction.json`), and the time its stages still
need while it runs. It loads no framework: a bad argument is still refused before
one loads."""

import dataclasses
import shlex
import statistics
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


def predicted_seconds(stage: Stage, prices: dict | None, sweep: dict | None) -> float | None:
    """A training stage's seconds, predicted before it starts from measured costs: a grid
    cell's least runs (`grid.least_runs`) at the price of a least run of its label count and
    case (`committed_costs`; the augmentation control at case 3's), a sweep seed at the mean
    seconds per seed of
    `sweep` (every pretext's at reconstruction's: none other is measured at full size);
    None where nothing measured applies."""
    from kfashion.finetuning import grid

    if stage.module == "tune" and sweep is not None:
        seeds = [s["seconds"] for t in sweep["trials"] for s in t["seeds"] if s.get("seconds")]
        return stage.units * sum(seeds) / len(seeds) if seeds else None
    if stage.module == "transfer" and prices is not None:
        cost = prices["seconds_per_run"]
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


def committed_costs(root: Path = Path()) -> tuple[dict | None, dict | None]:
    """(the grid's prices, the committed reference sweep), each None where it is not there:
    the measured costs a full-size run is priced from. The prices are the committed reference
    grid's (`taken_prices`) where it ran a label count and case, else the committed pilot's
    scaled by how the reference's took against the pilot's where both ran. `root`: the
    project's folder."""
    from kfashion.core.files import read_json

    def committed(path: Path) -> dict | None:
        return read_json(path) if path.exists() else None

    reference = root / config.REFERENCE_RESULTS
    pilot = committed(root / config.PILOT_RESULTS / layout.PILOT) or {}
    prices = {n: dict(by_case) for n, by_case in pilot.get("seconds_per_run", {}).items()}
    made = committed(reference / layout.GRID)
    if made is not None:
        argv = shlex.split(made["provenance"]["command"])[3:]  # as `command_line` joined it
        taken = taken_prices(argv, made["settings"]["networks"], reference)
        ratios = [
            taken[n][c] / prices[n][c] for n in taken for c in taken[n] if prices.get(n, {}).get(c)
        ]
        scale = statistics.median(ratios) if ratios else 1.0
        prices = {n: {c: p * scale for c, p in by_case.items()} for n, by_case in prices.items()}
        for labels, by_case in taken.items():
            prices.setdefault(labels, {}).update(by_case)
    return ({"seconds_per_run": prices} if prices else None), committed(reference / layout.SWEEP)


def taken_prices(argv: list[str], networks: list[str], results: Path) -> dict:
    """Seconds per least run ({label count: {case: seconds}}) as a finished grid (its
    transfer command's `argv`, its `networks`, its records in `results`) took them: the
    seconds of all its runs of a count and case (`priced_as`) over its cells' least runs
    there, so a price holds the workers' pace (a core each) and the rates its choices tried
    beyond the least."""
    from kfashion.core.files import read_json
    from kfashion.finetuning import grid

    seconds, least = {}, {}
    planned = cells(argv, networks)
    for cell in planned:
        key = cell.labels, str(priced_as(cell.case))
        least[key] = least.get(key, 0) + grid.least_runs(cell)
    mine = {(layout.grid_runs(results, cell.network, cell.labels), cell.case) for cell in planned}
    for path in layout.finished_transfer_runs(results):
        record = read_json(path)
        if (path.parent, record["case"]) not in mine:  # of a plan since amended
            continue
        key = str(record["labels"]), str(priced_as(record["case"]))
        seconds[key] = seconds.get(key, 0.0) + float(record["seconds"])
    prices = {}
    for (labels, case), total in seconds.items():
        if least.get((labels, case)):
            prices.setdefault(labels, {})[case] = total / least[labels, case]
    return prices


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
        return sum(
            layout.fold_run(results, cell, recipe, rate, fold).exists()
            for recipe, rate in grid.candidates(cell.recipes)
            for fold in range(cell.folds)
        )
    if made is None:
        return 0
    chosen = dataclasses.replace(cell, recipe=made["recipe"])
    return sum(layout.grid_run(results, chosen, *run).exists() for run in cell.runs)


def least_runs_held(cells, results: Path) -> int:
    """The grid's units of work finished: each cell's least runs its records hold."""
    return sum(runs_held(cell, results) for cell in cells)


def grid_seconds_left(stage: Stage, prices: dict) -> float | None:
    """The training seconds a grid stage still needs: the price of each cell's least runs its
    records do not hold yet (`runs_held`), scaled by how long this grid's finished runs took
    against their price (on a faster or slower machine than the reference run's); None while
    no finished run has a price."""
    from kfashion import transfer
    from kfashion.core.files import read_record
    from kfashion.finetuning import grid

    cost = prices["seconds_per_run"]
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


def prediction(plan: list[Stage], prices: dict | None, sweep: dict | None) -> dict | None:
    """Each training stage's predicted seconds (`predicted_seconds`), from the committed
    reference run's costs (`committed_costs`), for prediction.json; None where none is there
    to price a stage. It loads no framework: a bad argument is still refused before one loads."""
    stages = [
        {"what": s.what, "module": s.module, "units": s.units,
         "predicted_seconds": predicted_seconds(s, prices, sweep)}
        for s in plan
        if s.module in ("tune", "transfer")
    ]  # fmt: skip
    if all(s["predicted_seconds"] is None for s in stages):
        return None
    return {
        "costs": {
            "transfer": f"{config.REFERENCE_RESULTS}/{layout.GRID}'s runs: the seconds of all its "
            "runs of a label count and case over its cells' least runs there (in workers of a "
            "core each, its choices' extra rates included); a count it did not run at "
            f"{config.PILOT_RESULTS}/{layout.PILOT}'s seconds_per_run times the median ratio of "
            "the two; the augmentation control at case 3's",
            "tune": f"{config.REFERENCE_RESULTS}/{layout.SWEEP} mean seconds per seed, every "
            "pretext's at reconstruction's",
        },
        "stages": stages,
        "predicted_seconds": sum(s["predicted_seconds"] or 0 for s in stages),
    }


def time_left(plan: list[Stage], start: int, prices: dict | None = None) -> str:
    """An estimate of the wall-clock training time the stages from `start` on still need, over
    the workers that train them side by side: the seconds their finished units took, times the
    units left (a grid's runs weighted by their `prices` where given: a
    full-size run's runs differ in cost a hundredfold); stages with none finished yet are named
    instead."""
    total, untimed = 0.0, []
    for stage in plan[start:]:
        left = max(stage.units - stage.done(), 0)
        if not left or not stage.finished:
            continue
        seconds = None
        if stage.module == "transfer" and prices is not None:
            seconds = grid_seconds_left(stage, prices)
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
