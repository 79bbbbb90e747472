"""Render the blocks of the project's Markdown from the committed reference run: the answer, the
four cases and the findings in README.md, the speed in docs/speed.md. After re-rendering the
reference's own report (`python -m kfashion.report --results results/reference`), run
`python docs/render.py` from the repository's root. It rewrites only the text between each
block's two markers; the tests check that the committed text is what the JSON renders.
"""

import sys
from pathlib import Path

# this checkout's kfashion, whichever one is installed: the Markdown is rendered by its own
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kfashion import config
from kfashion.core import layout
from kfashion.core.files import read_json, write_text
from kfashion.rendering import grid_sections, sections
from kfashion.report import load, training_time

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "results/reference"  # as the Markdown links it, from the root
# the default study timed whole, committed as it was made (run with --results and --directory
# there, so that it resumes on a fresh machine)
TIMED_STUDY = "results/study"
HEADLINE = ("<!-- results:start -->", "<!-- results:end -->")
FINDINGS = ("<!-- findings:start -->", "<!-- findings:end -->")
SPEED = ("<!-- speed:start -->", "<!-- speed:end -->")
ANSWER = ("<!-- answer:start -->", "<!-- answer:end -->")
QUICK = ("<!-- quick:start -->", "<!-- quick:end -->")
STUDY = ("<!-- study:start -->", "<!-- study:end -->")
MARKERS = (HEADLINE, FINDINGS, SPEED, ANSWER, QUICK, STUDY)
DOCUMENTS = ("README.md", "docs/speed.md")  # the files with blocks


def findings_summary(findings: dict, link: str) -> list[str]:
    """One row a finding: its verdict and its intervals."""
    rows = []
    for found in findings["claims"]:
        numbers = "; ".join(
            f"{c['name']}: {sections.interval(c)}"
            + (f"; {sections.p_values(c)}" if c["p_value"] is not None else "")
            for c in found["comparisons"]
        )
        rows.append([found["claim"], f"**{found['verdict']}**", numbers])
    out = sections.table("finding | here | mean [95% interval] over seeds; p-values", rows)
    out += ["", sections.families(findings)]
    return out + ["", f"Measures, per-seed values and rules: [the report]({link}/README.md)."]


def headline(results: Path, link: str) -> str:
    """The four cases on all labels, the baselines and the key figure."""
    transfer = read_json(results / layout.GRID)["classic"]
    rows = [
        [case, entry["label"], sections.spread(entry["test_accuracy"])]
        for case, entry in sections.by_case(transfer)
    ]
    if baseline := load(results, layout.BASELINE):
        lr = baseline["logistic_regression"]["test_accuracy"]
        rows.append(["-", "logistic regression on raw pixels (baseline)", f"{lr:.2%}"])
        for key, name in (
            ("logistic_regression_tuned", "the same, C chosen on validation"),
            ("pca_logistic_regression", "PCA-64 codes + logistic regression"),
        ):
            if key in baseline:
                rows.append(["-", name, f"{baseline[key]['test_accuracy']:.2%}"])
    settings = transfer["settings"]
    encoder = (
        f"the {settings['network']} encoder of pretraining seed {settings['encoder_seed']} for "
        "the pretrained cases, each case at the learning rate validation chose, "
        if "encoder_seed" in settings
        else ""
    )
    seeds = len(settings["seeds"])
    inits = max(e["test_accuracy"].get("n", seeds) for e in transfer["cases"].values()) // seeds
    each = f" (a random encoder's over {inits} initialisations of each)" if inits > 1 else ""
    lines = [
        f"The four cases on all labels: test accuracy on the {settings['sizes']['test']:,} test "
        f"images, {encoder}mean ± std over {seeds} seeds{each} "
        f"([full report]({link}/README.md)):",
        "",
    ]
    lines += sections.table("case | classifier | test accuracy", rows)
    return "\n".join(lines + ["", f"![transfer curves]({link}/{transfer['figures']['curves']})"])


def study_seconds(results: Path) -> tuple[dict, float, float | None] | None:
    """The study behind `results`: its `prediction.json`, its runs' own training seconds, and
    their seconds on the clock (None where a run does not say when it ended); None before every
    stage is done."""
    made = training_time(results)
    return None if made is None or None in made[1] else spent_of(*made)


def spent_of(prediction: dict, runs: list) -> tuple[dict, float, float | None]:
    """`study_seconds` of a study's prediction and its stages' run records."""
    clocks = [sections.clock_seconds(done) for done in runs]
    taken = sum(sections.taken_seconds(done) for done in runs)
    return prediction, taken, None if None in clocks else sum(clocks)


def time_taken(results: Path, link: str) -> list[str]:
    """How long the study behind the answer trained, in its runs' own seconds and on the clock
    (the report's time section has each stage's); nothing before every stage is done."""
    if (spent := study_seconds(results)) is None:
        return []
    prediction, taken, clock = spent
    on_the_clock = "" if clock is None else f", {sections.hours(clock)} on the clock"
    return [
        "",
        f"The run behind it, `{prediction['provenance']['command']}`, took "
        f"{sections.hours(taken)} of training in its runs' own seconds{on_the_clock} ([each "
        f"stage's time]({link}/README.md#training-time-predicted-and-taken)).",
    ]


def version(entry: dict) -> str:
    return entry.get("provenance", {}).get("versions", {}).get("kfashion", "?")


def stage_name(command: str) -> str:
    """A study stage's short name: "kfashion.tune", or "kfashion.tune (denoising)"."""
    words = command.split()
    pretext = f" ({words[words.index('--pretext') + 1]})" if "--pretext" in words else ""
    return words[0] + pretext


def quick_time(bench: dict) -> list[str]:
    """How long the quick look takes on a CPU, from each CPU's timing of it at today's sizes
    (`docs/bench.py --only-quick`); nothing where none was timed at these sizes."""
    timed = {
        machine: entry["quick_study"]
        for machine, entry in bench.items()
        if " x2, no GPU, " in machine
        and entry.get("quick_study")
        and entry["quick_study"].get("sizes") == config.QUICK
    }
    if not timed:
        return []
    minutes = sorted(run["wall_seconds"] / 60 for run in timed.values())
    took = f"{minutes[0]:.1f}" + (f" to {minutes[-1]:.1f}" if len(minutes) > 1 else "")
    where = "; ".join(f"{machine}, {run['date'][:10]}" for machine, run in timed.items())
    return [
        f"The quick look took {took} minutes from scratch (the data already installed) on a "
        f"2-core CPU ({where}: "
        "[each stage's time](docs/speed.md#what-a-run-costs))."
    ]


def study_time(results: Path, timed: Path = ROOT / TIMED_STUDY) -> list[str]:
    """The default study's training time as it predicts it, at the committed reference run's
    costs, and on the clock at the ratio the reference run took; then as it took, where a
    study of today's plan was timed whole in `timed`. Nothing before the reference run is done."""
    from kfashion import study
    from kfashion.core import costs

    spent = study_seconds(results)
    args = study.parse_args([])
    plan = study.stages(args, *study.folders(args))
    predicted = costs.prediction(plan, *costs.committed_costs(ROOT))
    if spent is None or predicted is None:
        return []
    _, taken, clock_seconds = spent
    seconds = predicted["predicted_seconds"]
    clock = (
        ""
        if clock_seconds is None or not taken
        else f", about {sections.hours(seconds * clock_seconds / taken)} on the clock with "
        f"{config.WORKERS} workers (the reference run's ratio of the two)"
    )
    return [
        "At the committed reference run's measured costs it needs about "
        f"{sections.hours(seconds)} of training in its runs' own seconds{clock}: [what a run "
        f"costs](docs/speed.md#what-a-run-costs). {timed_whole(timed, predicted)}"
    ]


def timed_whole(folder: Path, predicted: dict) -> str:
    """How long the default study took where it was timed whole in `folder`: a study of the
    plan `predicted` (its stages' units) that finished it (`study.finish_prediction`); else
    that it has not been."""
    made = training_time(folder)
    latest = made and sections.last_plan(made[0])
    if made is None or None in made[1] or not latest.get("finished"):
        return "It has not been timed whole."
    prediction, runs = made
    if [(s["what"], s["units"]) for s in latest["stages"]] != [
        (s["what"], s["units"]) for s in predicted["stages"]
    ]:
        return "It has not been timed whole at today's sizes."
    _, taken, clock = spent_of(prediction, runs)
    runs = [run for done in runs for run in done]
    machines = sorted({run["environment"]["machine"] for run in runs if "environment" in run})
    days = sorted({run["ended"][:10] for run in runs if run.get("ended")})
    on_the_clock = "" if clock is None else f", {sections.hours(clock)} on the clock"
    link = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    return (
        f"Timed whole, `{prediction['provenance']['command']}` took {sections.hours(taken)} of "
        f"training in its runs' own seconds{on_the_clock} ({'; '.join([*machines, *days[:1]])}"
        f"{' to ' + days[-1] if len(days) > 1 else ''}: [each stage's time]"
        f"({link}/README.md#training-time-predicted-and-taken))."
    )


def speed_section(bench: dict) -> list[str]:
    """Each machine's timed runs (`stage_runs`), then the wall time of its whole commands."""
    out = []
    for machine, entry in bench.items():
        if "runs" in entry:  # (earlier entries timed a path no stage runs: commands only)
            out += stage_runs(machine, entry)
    for machine, entry in bench.items():
        where = f"on {machine} (kfashion {version(entry)}"
        for name in ("study", "quick_study"):
            if run := entry.get(name):
                stages = ", ".join(
                    f"{stage_name(stage)} {seconds:.0f} s"
                    for stage, seconds in run["stage_seconds"].items()
                )
                cache = run["compilation_cache"]
                hits = (
                    f"; JAX compilation cache: {cache['hits']} hits, {cache['misses']} misses"
                    if cache["hits"] or cache["misses"]
                    else ""
                )
                when = (run.get("date") or entry["provenance"]["date"])[:10]
                made = run.get("kfashion", version(entry))
                earlier = name == "quick_study" and run.get("sizes") != config.QUICK
                out.append(
                    f"\n`{run['command']}` on {machine} (kfashion {made}, {when})"
                    f"{' at the sizes it had then' if earlier else ''}, from scratch: "
                    f"{run['wall_seconds']:.0f} s ({stages}){hits}."
                )
        for command, seconds in entry.get("small_study_seconds", {}).items():
            out.append(f"\n`{command}` {where}): {seconds:.0f} s.")
        for run in entry.get("full_sweeps", []):
            out.append(f"\n`{run['command']}` {where}), from scratch: {run['wall_seconds']:.0f} s.")
    return out


def stage_runs(machine: str, entry: dict) -> list[str]:
    """One machine's timed runs as a table, and the ratios the bench judges by."""
    low, high = sorted(entry["matmul_peak_gflops"])
    out = [
        f"On {machine} ({entry['provenance']['date'][:10]}, kfashion {version(entry)}), "
        f"{entry['epochs']} epochs a run at batch 100 (unless its row says otherwise), "
        "validated after every epoch where the run validates and tested once, each timed "
        f"{entry['timed_runs']} times in turn after an untimed run (float32 matmul peak "
        f"{low:.0f}-{high:.0f} GFLOP/s as it ran):",
        "",
    ]
    rows = []
    for name, run in entry["runs"].items():
        seconds = f"{min(run['seconds']):.1f}-{max(run['seconds']):.1f}"
        images = f"{run['images_per_second_median']:,.0f}"
        rows.append([f"`{name}`", run["what"], f"{run['seconds_median']:.1f} ({seconds})", images])
    out += sections.table("run | what | seconds: median (range) | images/s", rows)
    ratios = entry["ratios"]

    def against(stage: str) -> str:
        torch = ratios[f"{stage}_over_plain_torch"]
        beside = f" and {torch:.2f}x a plain PyTorch loop" if torch else ""
        return f"{ratios[f'{stage}_over_plain_fit']:.2f}x a plain fit{beside}"

    out.append(
        f"\nImages/s of the median runs: a sweep seed trains at {against('sweep_seed')} of the "
        f"same run, a grid run on all labels (joint) at {against('grid_all_joint')} "
        f"(the target: {entry['torch_bar']}x a plain PyTorch loop or more)."
    )
    if mechanisms := entry.get("mechanisms"):  # what the bench measured then, since decided
        judged = [
            f"{m['what']} {m['ratio']:.2f}x ({'kept' if m['keep'] else 'below the bar: removed'})"
            for m in mechanisms.values()
        ]
        out.append(
            f"\nEach speed mechanism against the same run without it, kept only at its bar of "
            f"{entry['mechanism_bar']}x or more: {'; '.join(judged)}."
        )
    return out


def replace_block(text: str, markers: tuple[str, str], block: str) -> str:
    """`text` with what lies between the two markers replaced by `block`."""
    start, end = markers
    if start not in text:
        return text
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{block}\n{end}{after}"


def rendered(text: str, results: Path, link: str) -> str:
    """`text` with each of its blocks rendered from the JSON under `results` (linked from the
    text as `link`); a text without a block's markers is left as it is there."""
    text = replace_block(text, HEADLINE, headline(results, link))
    if findings := load(results, layout.FINDINGS):
        text = replace_block(text, FINDINGS, "\n".join(findings_summary(findings, link)))
    if grid := load(results, layout.GRID):
        lines = grid_sections.answer_summary_lines(grid["answer"], grid.get("answer_figure"), link)
        lines += time_taken(results, link)
        text = replace_block(text, ANSWER, "\n".join(lines))
    if bench := load(results, layout.BENCH):
        text = replace_block(text, SPEED, "\n".join(speed_section(bench)))
        text = replace_block(text, QUICK, "\n".join(quick_time(bench)))
    text = replace_block(text, STUDY, "\n".join(study_time(results)))
    return text


def link_from(document: str) -> str:
    """The reference folder as a link from `document` (a path from the root)."""
    return "../" * document.count("/") + REFERENCE


def main() -> None:
    results = ROOT / REFERENCE
    if not (load(results, layout.GRID) or {}).get("classic"):
        print(
            f"{REFERENCE}/{layout.GRID}: missing, or without the classic cases; nothing to render",
            file=sys.stderr,
        )
        raise SystemExit(2)
    # everything is rendered before anything is written: a bad file changes nothing
    outputs = {}
    for document in DOCUMENTS:
        path = ROOT / document
        outputs[path] = rendered(path.read_text(), results, link_from(document))
    for path, text in outputs.items():
        write_text(path, text)
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
