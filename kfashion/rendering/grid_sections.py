"""The grid's sections of the report: the answer (its sentence, forest plot and table, and the
README's summary of it), the plan and variance components, the choices, the linear probes."""

from kfashion.analysis import answer
from kfashion.config import CASES, label_order
from kfashion.rendering.sections import count_text, interval_text, spread, table


def _sd(variance: float | None) -> str:
    return "-" if variance is None else f"{100 * variance**0.5:.2f}"


def _difference(row: dict) -> str:
    text = f"{100 * row['mean_difference']:+.2f}"
    if row["ci95"] is not None:
        low, high = (100 * v for v in row["ci95"])
        text += f" [{low:+.2f}, {high:+.2f}]"
    return text


def _p(row: dict) -> str:
    if row["p_difference"] is None:
        return "-"
    return f"{row['p_difference_holm']:.3g} / {row['p_equivalence_holm']:.3g}"


def _comparison(row: dict) -> str:
    """ "fine-tuned (cases 1 - 3)": a row's recipe and the cases it compares."""
    return f"{answer.compared(row)} (cases {row['cases'][0]} - {row['cases'][1]})"


def answer_lines(found: dict, figure: str | None = None) -> list[str]:
    """The answer's sentence, its forest plot (`figure`) and its table, one row per comparison
    (for the report)."""
    rows = [
        [
            r["network"],
            count_text(r["labels"]),
            _comparison(r),
            f"{r['pretrained_mean']:.2%} - {r['random_mean']:.2%}",
            _difference(r),
            f"±{100 * r['margin']:g}",
            _p(r),
            f"{len(r['pretraining_seeds'])} x {len(r['draws'])} x {r['random_initialisations']}",
            f"**{answer.verdict_text(r)}**",
        ]
        for r in found["rows"]
    ]
    picture = ["", f"![the answer: pretrained minus random]({figure})"] if figure else []
    out = [f"**{answer.sentence(found['rows'])}**", *picture, ""]  # in today's words
    out += table(
        "encoder | labels | recipe | pretrained - random | difference, points [95% interval] "
        "| margin | Holm p: difference / equivalence | seeds x draws x random inits | verdict",
        rows,
    )
    return out + _family_note(found)


def _family_note(found: dict) -> list[str]:
    if tests := 2 * sum(1 for r in found["rows"] if r["p_difference"] is not None):
        return [
            "",
            f"Each interval is its row's own 95% interval; the verdicts read the Holm-adjusted "
            f"p-values of all {tests} tests of the family (two a row: difference and "
            "equivalence), so a row whose interval excludes 0, or lies within its margin, can "
            "still be inconclusive.",
        ]
    return []


def answer_summary_lines(found: dict, figure: str | None, link: str) -> list[str]:
    """The answer for the README: its sentence, its forest plot (`figure` under `link`) and a
    row per encoder and comparison, a column per label count; the report has every number."""
    counts = sorted({r["labels"] for r in found["rows"]}, key=label_order)
    by_comparison = {}
    for r in found["rows"]:
        by_comparison.setdefault((r["network"], _comparison(r)), {})[r["labels"]] = r
    rows = [
        [network, name, *(_verdict_cell(mine.get(count)) for count in counts)]
        for (network, name), mine in by_comparison.items()
    ]
    columns = " | ".join(f"{count_text(c)} labels" for c in counts)
    header = f"encoder | recipe (cases compared) | {columns}"
    picture = ["", f"![the answer: pretrained minus random]({link}/{figure})"] if figure else []
    said = answer.sentences(found["rows"])  # one line a pretext task, where there are several
    said = [f"**{said[0]}**"] if len(said) == 1 else [f"- {sentence}" for sentence in said]
    out = [*said, *picture, "", *table(header, rows), *_family_note(found)]
    return out + [
        "",
        "A cell is the difference in points of test accuracy with its 95% interval, and the "
        f"verdict; [the report]({link}/README.md) has each row's means, margin, Holm-adjusted "
        "p-values and sizes.",
    ]


def _verdict_cell(row: dict | None) -> str:
    if row is None:  # a dash could read as no difference
        return "not run"
    verdict = row["verdict"] if row["verdict"] == answer.INCONCLUSIVE else answer.verdict_text(row)
    return f"{_difference(row)} **{verdict}**"


def choice_lines(found: dict) -> list[str]:
    """How the grid's recipes and rates were chosen, and what was chosen how often."""
    out = ["", f"The choices: {found['settings']['choice']}", ""]
    rows = [
        [c["network"], count_text(c["labels"]), c["case"],
         ", ".join(f"{name} ({count}x)" for name, count in sorted(c["chosen"].items())),
         c["choices"], c["ties"], c["extended"]]
        for c in found["choice_summary"]
    ]  # fmt: skip
    return out + table(
        "encoder | labels | case | chosen (recipe, rate) | choices | ties "
        "| beyond the starting rates",
        rows,
    )


def search_lines(found: dict) -> list[str]:
    """The recipe search of a grid made before each draw chose its own (one rate per cell)."""
    out = ["", f"The recipe search: {found['settings']['search']}", ""]
    rows = []
    for group in found["recipe_search"]:
        scores = ", ".join(
            f"{c['learning_rate']:g}: "
            + ("-" if c["mean_val_accuracy"] is None else f"{c['mean_val_accuracy']:.2%}")
            for c in group["candidates"]
        )
        rows.append(
            [group["network"], count_text(group["labels"]), group["case"], group["recipe"], scores,
             f"{group['chosen_learning_rate']:g}"]
        )  # fmt: skip
    header = "encoder | labels | case | recipe | validation accuracy by rate | chosen"
    return out + table(header, rows)


def grid_section(found: dict) -> list[str]:
    """The grid of transfer runs: the answer, its plan and variance components, the choices,
    and what training did to the encoders."""
    settings = found["settings"]
    out = [
        "## Does pretraining help the classifier? The grid",
        "",
        f"`{found['provenance']['command']}`: encoders {', '.join(settings['networks'])}; "
        f"label counts {', '.join(map(count_text, settings['labels']))}; cases "
        f"{settings['cases']}; recipes: "
        + "; ".join(f"{name}: {text}" for name, text in settings["recipes"].items())
        + f". {settings['kerastuner'].capitalize()}.",
        "",
        *answer_lines(found["answer"], found.get("answer_figure")),
        "",
        f"The analysis plan: {found['answer']['plan']}",
        "",
        "The variance components of each row's paired differences (standard deviations, "
        "points: pretraining seed, draw, residual; and between a random encoder's "
        "initialisations of one draw):",
        "",
    ]
    rows = [
        [r["network"], count_text(r["labels"]), answer.compared(r),
         *(_sd(r["components"] and r["components"][name])
           for name in ("pretraining", "draw", "residual")),
         _sd(r["init_variance"])]
        for r in found["answer"]["rows"]
    ]  # fmt: skip
    out += table(
        "encoder | labels | recipe | pretraining seed | draw | residual | random initialisation",
        rows,
    )
    out += choice_lines(found) if "choices" in found else search_lines(found)
    out += [
        "",
        "What training did to the encoder (jointly trained cases): the share of code units "
        "that are 0 on every one of 1,000 fixed validation images, before and after, and how "
        "far its weights moved relative to their norm; mean ± std over the cell's runs:",
        "",
    ]
    rows = [
        [c["network"], count_text(c["labels"]), c["case"],
         ", ".join(c["recipes"]) if "recipes" in c else c["recipe"],
         "random" if c["encoder_seed"] < 0 else c["encoder_seed"],
         spread(c["dead_code_units_before"]), spread(c["dead_code_units_after"]),
         spread(c["encoder_weight_change"], percent=False)]
        for c in found["cells"]
        if CASES[c["case"]].train_encoder
    ]  # fmt: skip
    out += table(
        "encoder | labels | case | recipe | pretraining seed | dead before | dead after "
        "| weight change",
        rows,
    )
    return out + ["", f"![the grid]({found['figure']})", ""]


def probe_section(probe: dict) -> list[str]:
    """Frozen codes judged as features: the linear probes' test accuracy per label count."""
    settings = probe["settings"]
    counts = settings["labels"]
    names = list(dict.fromkeys(row["features"] for row in probe["summary"]))
    cell = {(r["labels"], r["features"]): r for r in probe["summary"]}
    rows = [[name, *(interval_text(cell[c, name]) if (c, name) in cell else "-" for c in counts)]
            for name in names]  # fmt: skip
    return [
        "## Frozen codes as features: linear probes",
        "",
        f"`{probe['provenance']['command']}`: logistic regression on each set of features, its "
        f"C chosen from {settings['C_grid']} by {settings['folds']}-fold cross-validation inside "
        "each draw's labels (with all labels, on the validation split); test accuracy, the mean "
        "over draws (and pretraining seeds) [95% t interval over draws]:",
        "",
        *table("features | " + " | ".join(map(count_text, counts)), rows),
        "",
    ]
