"""`python -m kfashion.report`: judge the findings (`findings.json`) and render
RESULTS/README.md, its model cards and CSV tables from the stages' JSON under `--results`,
writing nothing until all is rendered and nothing outside `--results`. A folder other than the
committed reference run (`results/reference/`) is set beside the reference's headline numbers
when the report runs from the project's folder, where the reference is."""

import functools
import shlex
import sys
from pathlib import Path

from kfashion import config
from kfashion.config import TRAIN_IMAGES
from kfashion.core import cli, layout
from kfashion.core.errors import UserError, exit_on_user_error
from kfashion.core.files import json_text, read_json, reading, write_text
from kfashion.rendering import grid_sections, model_card, pretext_sections, sections, sweep_sections

# what another folder's report is set beside, from the project's root (where commands run)
REFERENCE = Path(config.REFERENCE_RESULTS)


def load(results: Path, name: str) -> dict | None:
    path = results / name
    return read_json(path) if path.exists() else None


def classic(results: Path) -> dict | None:
    """The grid's classic comparison: its four cases on all labels (grid.json's "classic")."""
    return (load(results, layout.GRID) or {}).get("classic")


def headline_numbers(results: Path) -> dict:
    """name -> (this folder's number, its per-seed values, whether it is a percentage) for the
    numbers a reader looks at."""
    numbers = {}
    if transfer := classic(results):
        for case, entry in sections.by_case(transfer):
            per_seed = sections.case_accuracies(transfer, case)
            name = f"case {case} test accuracy ({entry['label']})"
            numbers[name] = (entry["test_accuracy"]["mean"], per_seed, True)
    if sweep := load(results, layout.SWEEP):
        chosen = sections.chosen_trial(sweep)
        if chosen["test_mse"] is not None:  # a point that did not complete has none
            per_seed = [r["test_mse"] for r in chosen["seeds"]]
            name = "exported autoencoder's point, test MSE"
            numbers[name] = (chosen["test_mse"], per_seed, False)
    if baseline := load(results, layout.BASELINE):
        value = baseline["logistic_regression"]["test_accuracy"]
        numbers["baseline test accuracy"] = (value, [value], True)
    return numbers


def beside_reference(results: Path, reference: Path) -> list[str]:
    """This run's headline numbers beside the reference run's, and whether each falls inside
    the reference's spread (from its lowest to its highest run)."""
    mine, theirs = headline_numbers(results), headline_numbers(reference)
    rows = []
    for name, (value, _, percent) in mine.items():
        if name in theirs:
            ref_value, ref_seeds, _ = theirs[name]
            low, high = min(ref_seeds), max(ref_seeds)
            fmt = functools.partial(sections.number, percent=percent)
            inside = "yes" if low <= value <= high else "no"
            rows.append([name, fmt(value), fmt(ref_value), f"{fmt(low)} to {fmt(high)}", inside])
    if not rows:
        return []
    return [
        "## Beside the reference run",
        "",
        "This folder's headline numbers (means over its seeds) beside the committed reference "
        "run's (`results/reference/`), and whether each falls inside the reference's spread "
        "over runs. A run at other sizes (a subset, fewer epochs, capped baseline fits) is not "
        "expected to.",
        "",
        *sections.table("number | this run | reference | reference's runs | inside?", rows),
        "",
    ]


def sizes_of(stage: dict) -> tuple:
    """(images used, epochs, seeds) of a sweep or of a grid's classic cases."""
    settings = stage["settings"]
    return settings.get("subset") or TRAIN_IMAGES, settings["epochs"], len(settings["seeds"])


# What a smaller run's report says of its claims, by how each stands (`standing`)
AT_THESE_SIZES = {
    "one seed": "Not resolved with one seed, since a verdict needs an interval over seeds and one "
    "seed gives none",
    "every seed alike": "Not resolved: every seed gave the same number (a collapsed classifier, a "
    "count), which leaves no spread to make an interval of",
    "few seeds": "Not resolved at these sizes (few seeds give wide intervals: with 2, the 95% t "
    "interval reaches 12.7 standard errors either side of the mean)",
    "judged": "Judged here, but at these sizes, not the reference's (a level of accuracy, "
    '"about 80%", is a claim about the full study)',
}


def standing(found: dict) -> str:
    """How a claim stands: "judged"; else why it is not resolved: where none of its comparisons
    has an interval, "one seed" (each has one seed) or "every seed alike"; else "few seeds"."""
    if found["verdict"] != "not resolved":
        return "judged"
    reasons = {sections.why_no_interval(c) for c in found["comparisons"]}
    if reasons <= {"one seed"}:
        return "one seed"
    return "few seeds" if None in reasons else "every seed alike"


def about_this_run(sweep, transfer, findings: dict, reference: Path | None) -> list[str]:
    """What a run smaller than the reference is, and which findings it cannot resolve, why."""
    ours = {name: sizes_of(stage) for name, stage in (("sweep", sweep), ("transfer", transfer))}
    if reference is None:
        return []
    found = {"sweep": load(reference, layout.SWEEP), "transfer": classic(reference)}
    theirs = {name: sizes_of(stage) for name, stage in found.items() if stage}
    if not theirs or all(ours[name] == theirs.get(name, ours[name]) for name in ours):
        return []
    out = [
        "## What this run is",
        "",
        "A smaller run than the committed reference run (`results/reference/`), to show the "
        "study's stages and the shape of its results quickly, not its numbers:",
        "",
    ]
    rows = []
    for name, (images, epochs, seeds) in ours.items():
        beside = "{:,} images, {} epochs, {} seeds".format(*theirs[name]) if name in theirs else "-"
        rows.append([name, f"{images:,}", epochs, seeds, beside])
    out += sections.table("stage | images (train + validation) | epochs | seeds | reference", rows)
    for how, text in AT_THESE_SIZES.items():
        if claims := [c for c in findings["claims"] if standing(c) == how]:
            named = "; ".join(
                c["claim"] + ("" if c["verdict"] == "not resolved" else f" ({c['verdict']})")
                for c in claims
            )
            out += ["", f"{text}: {named}."]
    return out + [""]


def render(results: Path, reference: Path | None = REFERENCE, judged: dict | None = None) -> str:
    """The report's Markdown, from whichever JSON files exist under `results`."""
    sweep, grid = load(results, layout.SWEEP), load(results, layout.GRID)
    if not sweep and not grid:
        raise UserError(
            f"{results} holds neither sweep.json nor grid.json: run "
            "`python -m kfashion.study` (or `tune` and `transfer`) first"
        )
    transfer = efficiency = None
    if grid:
        with reading(results / layout.GRID):
            transfer, efficiency = grid["classic"], grid["label_efficiency"]
    baseline, latent = load(results, layout.BASELINE), load(results, layout.LATENT)
    variant_file = f"{layout.ARCHITECTURE}/{layout.SWEEP}"
    variant = load(results, variant_file)
    pretexts = {  # every pretext's sweep beside reconstruction's, whose folder is this one
        path.parent.name: read_json(path) for path in pretext_sweeps(results)
    }
    folders = {name: f"{layout.PRETEXTS}/{name}" for name in pretexts}
    unjudged = {"claims": [], "label_efficiency": [], "per_class_recall": None}
    findings = judged or load(results, layout.FINDINGS) or unjudged
    out = [
        "# Results",
        "",
        "Generated by `python -m kfashion.report` from the JSON files in this folder; do not "
        "edit by hand. Each stage's command, settings and machine are listed at the end.",
        "",
    ]
    if reference is not None and not is_reference(results):
        with reading(*(results / n for n in (layout.GRID, layout.SWEEP, layout.BASELINE))):
            if sweep and transfer:
                out += about_this_run(sweep, transfer, findings, reference)
            out += beside_reference(results, reference)
    with reading(results / layout.FINDINGS):
        out += sections.findings_section(findings) if findings["claims"] else []
    probe = load(results, layout.PROBE)
    pretext_files = [layout.GRID, layout.PROBE, *(f"{f}/{layout.SWEEP}" for f in folders.values())]
    in_order = [  # (what it needs, the files it is rendered from, the section)
        (grid, [layout.GRID], lambda: grid_sections.grid_section(grid)),
        (probe, [layout.PROBE], lambda: grid_sections.probe_section(probe)),
        (
            pretexts,
            pretext_files,
            lambda: pretext_sections.pretext_section(
                {config.PRETEXT: sweep, **pretexts} if sweep else pretexts,
                {config.PRETEXT: ".", **folders},
                grid,
                probe,
            ),
        ),
        (
            transfer,
            [layout.GRID, layout.FINDINGS],
            lambda: sections.transfer_section(transfer, baseline, findings["per_class_recall"]),
        ),
        (
            efficiency,
            [layout.GRID, layout.FINDINGS],
            lambda: sections.labels_section(efficiency, findings["label_efficiency"]),
        ),
        (sweep, [layout.SWEEP], lambda: sweep_sections.sweep_section(sweep)),
        (
            variant,
            [variant_file],
            lambda: sweep_sections.architecture_section(variant, layout.ARCHITECTURE),
        ),
        (latent, [layout.LATENT], lambda: sweep_sections.latent_section(latent)),
    ]
    for needed, files, section in in_order:
        if needed:  # each section within the files it is rendered from, so a bad one is named
            with reading(*(results / file for file in files)):
                out += section()
    if made := training_time(results):
        with reading(results / layout.PREDICTION):
            out += sections.time_section(*made)
    stages = {
        "sweep": (layout.SWEEP, sweep),
        "transfer grid": (layout.GRID, grid),
        "baseline": (layout.BASELINE, baseline),
        "linear probes": (layout.PROBE, probe),
        "architecture sweep": (variant_file, variant),
        "latent space": (layout.LATENT, latent),
        **{
            f"{name} sweep": (f"{folders[name]}/{layout.SWEEP}", found)
            for name, found in pretexts.items()
        },
    }
    for name, (file, stage) in stages.items():
        if stage:
            with reading(results / file):  # each stage's provenance alone, to name its file
                sections.how_section({name: stage})
    made = {name: stage for name, (_, stage) in stages.items() if stage}
    return "\n".join(out + sections.how_section(made) + made_elsewhere(made, results))


# The folder of each sweep the study runs, by the name its plan gives the stage
SWEEP_FOLDERS = {"the autoencoder sweep": ".", "the architecture comparison": layout.ARCHITECTURE}


def training_time(results: Path) -> tuple[dict, list] | None:
    """A study's `prediction.json` and, for each stage of its last plan, the run records whose
    seconds it took (`stage_runs`); None where the study kept no prediction."""
    prediction = load(results, layout.PREDICTION)
    if prediction is None:
        return None
    with reading(results / layout.PREDICTION):
        stages = sections.last_plan(prediction)["stages"]
        return prediction, [stage_runs(stage, results) for stage in stages]


def stage_runs(stage: dict, results: Path) -> list[dict] | None:
    """The run records of a study's stage (a `prediction.json` entry) under `results`, each
    with its own training seconds and the time it ended: a sweep's seeds, or the grid's runs,
    its choices' included; None where the stage has not finished."""
    if stage["module"] == "transfer":
        grid = load(results, layout.GRID)
        if grid is None:
            return None
        settings = grid["settings"]  # its groups' runs: not those of another grid beside it
        groups = [(n, c) for n in settings["networks"] for c in settings["labels"]]
        runs = []
        for path in layout.finished_transfer_runs(results, groups):
            with reading(path):
                runs.append(read_json(path))
        return runs
    what = stage["what"]  # "the autoencoder sweep", or a pretext's: "masked pretraining, ..."
    folder = SWEEP_FOLDERS.get(what, f"{layout.PRETEXTS}/{what.split()[0]}")
    sweep = load(results / folder, layout.SWEEP)
    return None if sweep is None else [run for trial in sweep["trials"] for run in trial["seeds"]]


def is_reference(results: Path) -> bool:
    """Whether `results` is a project's committed reference folder, wherever the report runs."""
    return results.resolve().parts[-2:] == Path(config.REFERENCE_RESULTS).parts


def made_elsewhere(stages: dict, results: Path) -> list[str]:
    """For the committed reference run only: a line saying so where its stages ran with another
    `--results` (a new reference run is made in a folder of its own, then moved here), since its
    commands are kept as they ran, with folders relative to the project's root."""
    if not is_reference(results):
        return []
    results = results.resolve()
    root = results.parents[1]
    here = {results, results / layout.ARCHITECTURE}
    here |= {path.resolve() for path in (results / layout.PRETEXTS).glob("*")}
    folders = set()
    for stage in stages.values():
        words = shlex.split(stage["provenance"]["command"])
        pairs = zip(words, words[1:], strict=False)  # each word and the one after it
        folders |= {after for before, after in pairs if before == "--results"}
    elsewhere = sorted(f for f in folders if (root / f).resolve() not in here)
    # the architecture comparison's and the pretexts' folders inside the one named already
    elsewhere = [
        f for f in elsewhere if not any(Path(f).is_relative_to(o) and f != o for o in elsewhere)
    ]
    if not elsewhere:
        return []
    named = " and ".join(f"`{f}`" for f in elsewhere)
    return [
        f"These runs were made in {named} and moved here once complete (KerasTuner's working "
        "folder, `--directory`, is not part of a committed run); each command is shown as it ran.",
        "",
    ]


def pretext_sweeps(results: Path) -> list[Path]:
    """Each other pretext's sweep.json in a study's folder, by name."""
    return sorted((results / layout.PRETEXTS).glob(f"*/{layout.SWEEP}"))


@exit_on_user_error
def main(argv=None) -> None:
    what = "Judge the findings and write RESULTS/README.md."
    parser = cli.parser("kfashion.report", what, "--results results/quick")
    parser.add_argument("--results", default=config.RESULTS, help="the results folder")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    results = Path(args.results)
    if not results.is_dir():
        raise UserError(f"--results {results}: not a folder; run `python -m kfashion.study` first")
    cli.writable_folder(results, "--results")
    from kfashion.analysis import findings, sweep_claims

    judged = None
    if (results / layout.SWEEP).exists() or (results / layout.GRID).exists():
        judges = {layout.SWEEP: sweep_claims.sweep_claims, layout.GRID: findings.grid_claims}
        for name, judge in judges.items():  # each file alone first, to name a bad one
            if (results / name).exists():
                with reading(results / name):
                    judge(read_json(results / name))
        with reading(*(results / name for name in judges)):
            judged = findings.judge(results)
    # everything is rendered before anything is written: a bad file changes nothing
    from kfashion.analysis import tables

    outputs = {results / layout.REPORT: render(results, judged=judged)}
    if judged is not None:
        outputs[results / layout.FINDINGS] = json_text(judged)
    pretexts = [path.parent for path in pretext_sweeps(results)]
    for folder in (results, results / layout.ARCHITECTURE, *pretexts):
        with reading(folder / layout.SWEEP, folder / layout.GRID):
            card = model_card.render(folder)
        if card:
            outputs[layout.model_card(folder)] = card
    for source, table, rows in tables.TABLES:
        if source == layout.FINDINGS and judged is not None:  # as judged now, not as it was
            outputs[results / table] = tables.csv_text(rows(judged))
        elif (results / source).exists():
            with reading(results / source):
                outputs[results / table] = tables.csv_text(rows(read_json(results / source)))
    for path, text in outputs.items():
        write_text(path, text)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
