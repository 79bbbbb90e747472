"""The report's section on pretext tasks: how each pretrained the encoder and at what cost, its
knobs and the point they chose, and its codes frozen (a linear probe) against its encoder
fine-tuned, beside raw pixels and PCA; Markdown lines rendered from the sweeps' JSON, the
grid's and the probes'."""

import numpy as np

from kfashion import config
from kfashion.analysis import answer
from kfashion.analysis.stats import interval
from kfashion.analysis.sweep_claims import points_of
from kfashion.finetuning.grid import random_arms
from kfashion.rendering.sections import (
    accuracy_interval,
    chosen_trial,
    count_text,
    interval_text,
    table,
)


def _number(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _seconds(seeds: list[dict]) -> list[float]:
    """The training seconds that the seeds recorded."""
    return [seed["seconds"] for seed in seeds if seed.get("seconds") is not None]


def _knobs(sweep: dict) -> str:
    """The chosen point's knob values, "noise=0.4", or "-" for a pretext without knobs."""
    options = config.PRETEXTS[sweep["settings"].get("pretext", config.PRETEXT)]
    point = {**options, **sweep["selected"]["config"]}
    return ", ".join(f"{k}={point[k]:g}" for k in options if k in config.KNOBS) or "-"


def cost_lines(sweeps: dict) -> list[str]:
    """One row per pretext: the point chosen and by what, its codes' rank and probe accuracy,
    and its cost (images seen and seconds per seed, and the whole sweep's training seconds)."""
    rows = []
    for name, sweep in sweeps.items():
        chosen, settings = chosen_trial(sweep), sweep["settings"]
        rule = sweep["selected"]["rule"] if len(sweep["trials"]) > 1 else "its only point"
        codes = [
            _number(chosen.get("code_rank"), ".1f"),
            _number(chosen.get("probe_accuracy"), ".2%"),
        ]
        images = f"{settings['epochs'] * settings['sizes']['train']:,}"
        mine = _seconds(chosen["seeds"])
        every = _seconds([seed for trial in sweep["trials"] for seed in trial["seeds"]])
        seconds = [f"{np.mean(mine):.0f}" if mine else "-", f"{sum(every):,.0f}" if every else "-"]
        rows.append([name, _knobs(sweep), rule, *codes, images, *seconds])
    return table(
        "pretext | knobs chosen | chosen by | code rank | probe accuracy | images seen per seed "
        "| seconds per seed | sweep's training seconds",
        rows,
    )


def knob_lines(name: str, sweep: dict, folder: str) -> list[str]:
    """A table per knob of a pretext's sweep, with its figure under `folder`; the knobs' main
    effects where there are several."""
    out = []
    knobs = [f for f in dict.fromkeys(t["factor"] for t in sweep["trials"]) if f in config.KNOBS]
    for knob in knobs:
        rows = [
            [value, _number(t["best_val_loss"], ".4f"), _number(t.get("code_rank"), ".1f"),
             _number(t.get("probe_accuracy"), ".2%"), t["status"]]
            for value, t in points_of(sweep, knob)
        ]  # fmt: skip
        out += [f"#### {name}: {knob}", ""]
        out += table(f"{knob} | validation loss | code rank | probe accuracy | status", rows)
        if knob in sweep["figures"]:
            out += ["", f"![{name} {knob}]({folder}/{sweep['figures'][knob]})"]
        out.append("")
    if "main_effects" in sweep["figures"]:
        out += [f"![{name} main effects]({folder}/{sweep['figures']['main_effects']})", ""]
    return out


def _accuracy(values: list[float]) -> str:
    """The mean and its 95% t interval, "-" without a value."""
    return accuracy_interval(np.mean(values), interval(values)) if values else "-"


def features_lines(grid: dict, probe: dict | None) -> list[str]:
    """Per label count, each network's codes frozen (the probe) and its encoder fine-tuned
    (case 1), beside the random encoder fine-tuned (case 3, and case 5 where it ran), pixels
    and PCA: test accuracy, mean and 95% t interval over starts (`answer.side_values`)."""
    runs, networks = grid["runs"], grid["settings"]["networks"]
    counts = grid["settings"]["labels"]
    probed = {}
    for row in (probe or {}).get("summary", []):
        probed.setdefault(row["features"], {})[row["labels"]] = row

    def probe_row(features: str, name: str) -> list[str]:
        mine = probed.get(features, {})
        return [name, *(interval_text(mine[c]) if c in mine else "-" for c in counts)]

    def tuned_row(network: str, case: int, name: str) -> list[str]:
        return [name, *(_accuracy(answer.side_values(runs, network, c, case)) for c in counts)]

    rows = [probe_row("pixels", "pixels, linear probe"), probe_row("pca", "PCA, linear probe")]
    for network, arm in random_arms(networks).items():
        if arm == network:
            rows.append(tuned_row(network, 3, f"{network} random, fine-tuned"))
            if any(r["case"] == config.AUGMENTED_CASE for r in runs):
                rows.append(
                    tuned_row(network, config.AUGMENTED_CASE, f"{network} random, augmented")
                )
        rows.append(probe_row(f"{network} pretrained", f"{network}, linear probe"))
        rows.append(tuned_row(network, 1, f"{network}, fine-tuned"))
    return table("features | " + " | ".join(map(count_text, counts)), rows)


def pretext_section(sweeps: dict, folders: dict, grid: dict | None, probe: dict | None) -> list:
    """The section, from `sweeps` (pretext -> its sweep.json, reconstruction's first) whose
    figures lie under `folders`, and the grid and probes where they ran."""
    out = [
        "## Pretext tasks",
        "",
        "Each pretext pretrains the same encoder on the same training images, without a label "
        "(the supervised control reads every one), for the same epochs. Its knobs are swept "
        "one at a time around its options and its point chosen by the rule named, on "
        "validation images; the code rank and probe accuracy are means over seeds (the probe: "
        "logistic regression on each seed's frozen codes, read on test, choosing nothing).",
        "",
        *cost_lines(sweeps),
        "",
    ]
    for name, sweep in sweeps.items():
        out += knob_lines(name, sweep, folders[name])
    if grid is not None:
        out += [
            "### Frozen against fine-tuned",
            "",
            "Test accuracy per label count: each network's frozen codes under a linear probe "
            "and its encoder fine-tuned (case 1, the recipe each draw chose), beside a random "
            "encoder fine-tuned, raw pixels and PCA; the mean [95% t interval] over pretraining "
            "seeds (fine-tuned) or draws (the probes and a random encoder).",
            "",
            *features_lines(grid, probe),
            "",
        ]
    return out
