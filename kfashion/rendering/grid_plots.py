"""The transfer stage's figures: curves, confusion matrices, accuracy against labels, the
grid and the answer (`kfashion.rendering.plots` holds the shared set-up)."""

import numpy as np
from matplotlib.ticker import MaxNLocator, NullFormatter, PercentFormatter

from kfashion import config
from kfashion.analysis import answer
from kfashion.rendering.plots import TAB10, save, subplots, t_band


def plot_transfer_curves(histories: dict, labels: dict, path) -> None:
    """Loss and accuracy against epoch for each case: mean over seeds, train dashed, val solid.

    Args:
        histories: case -> list of Keras history dicts (one per seed).
        labels: case -> legend label.
        path: where to write the PNG.
    """
    fig, axes = subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    colors = dict(zip(histories, TAB10.colors, strict=False))
    for case, runs in histories.items():
        for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
            for prefix, style in (("", "--"), ("val_", "-")):
                curves = np.array([run[prefix + metric] for run in runs])
                epochs = range(1, curves.shape[1] + 1)
                split = "validation" if prefix else "train"
                ax.plot(
                    epochs,
                    curves.mean(axis=0),
                    style,
                    color=colors[case],
                    label=f"{labels[case]} ({split})",
                )
                if len(runs) > 1:
                    ax.fill_between(epochs, *t_band(curves), color=colors[case], alpha=0.15)
    axes[0].set(title="cross-entropy loss", xlabel="epoch", ylabel="loss")
    axes[1].set(title="accuracy", xlabel="epoch", ylabel="accuracy")
    axes[1].yaxis.set_major_formatter(PercentFormatter(1.0))  # percentages, as in the tables
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[1].legend(fontsize=7, loc="lower right")
    seeds = max(len(runs) for runs in histories.values())
    fig.suptitle(
        f"Classifier training, mean over {seeds} seed(s) (band: 95% t interval of the mean)"
    )
    save(fig, path)


def plot_confusion_grid(matrices: dict, labels: dict, class_names, path) -> None:
    """Row-normalised confusion matrices (true class per row), one panel per case, drawn by
    scikit-learn's ConfusionMatrixDisplay."""
    from sklearn.metrics import ConfusionMatrixDisplay

    count = len(matrices)
    columns = min(count, 2)
    rows = -(-count // columns)
    fig, axes = subplots(
        rows, columns, figsize=(6.5 * columns, 6 * rows), squeeze=False, layout="constrained"
    )
    for ax, (case, matrix) in zip(axes.flat, matrices.items(), strict=False):
        matrix = np.asarray(matrix, dtype=float)
        normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        display = ConfusionMatrixDisplay(normalised, display_labels=list(class_names))
        display.plot(
            ax=ax,
            cmap="Blues",
            colorbar=False,
            values_format=".2f",
            xticks_rotation=45,
            im_kw={"vmin": 0, "vmax": 1},
        )
        for text in display.text_.flat:
            text.set_fontsize(7)
        accuracy = np.trace(matrix) / matrix.sum()
        ax.set_title(f"{labels[case]}\naccuracy {accuracy:.3f}")
    for ax in list(axes.flat)[count:]:
        ax.axis("off")
    fig.suptitle("Test-set confusion matrices, row-normalised, summed over seeds")
    save(fig, path)


def plot_label_efficiency(summary: dict, counts: list, labels: dict, path, all_size: int) -> None:
    """Test accuracy against the number of labelled images: one line per case, the band the 95%
    t interval of the mean over seeds.

    Args:
        summary: case -> count -> {"mean", "per_seed"} of the test accuracy.
        counts: the label counts in order; "all" is drawn at `all_size`.
        labels: case -> legend label.
        path: where to write the PNG.
        all_size: the number of training images "all" stands for.
    """
    fig, ax = subplots(figsize=(7, 4.5), layout="constrained")
    xs = [all_size if count == "all" else count for count in counts]
    for case, color in zip(labels, TAB10.colors, strict=False):
        rows = [summary[str(case)][str(count)] for count in counts]
        seeds = np.array([row["per_seed"] for row in rows]).T  # one row per seed
        ax.plot(xs, seeds.mean(axis=0), "o-", color=color, label=labels[case])
        if len(seeds) > 1:
            ax.fill_between(xs, *t_band(seeds), color=color, alpha=0.2)
    ax.set_xscale("log")
    names = [f"all\n({all_size:,})" if count == "all" else f"{count:,}" for count in counts]
    ax.set_xticks(xs, names)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(
        xlabel="labelled training images",
        ylabel="test accuracy",
        title="Label efficiency (mean over seeds, band: 95% t interval of the mean)",
    )
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    save(fig, path)


def plot_grid(lines: dict, counts: list, path, all_size: int) -> None:
    """Test accuracy against labelled images, one panel per encoder network, one line per
    case and recipe (colour: case; dashes: frozen, dots: two-phase, a line: the recipe each
    draw chose, or joint); the band the 95% t interval of the mean over starts
    (`answer.side_values`), within [0, 1].

    Args:
        lines: (network, case, recipe) -> count -> one test accuracy per start.
        counts: the label counts in order; "all" is drawn at `all_size`.
    """
    from kfashion.analysis.stats import interval

    networks = list(dict.fromkeys(network for network, _, _ in lines))
    columns = min(len(networks), 3)  # a pretext a panel: rows of three stay readable
    rows = -(-len(networks) // columns)
    fig, axes = subplots(
        rows, columns, figsize=(6 * columns, 4.5 * rows), squeeze=False, sharey=True,
        layout="constrained",
    )  # fmt: skip
    for ax in axes.flat[len(networks) :]:
        ax.set_visible(False)
    xs = [all_size if count == "all" else int(count) for count in counts]
    styles = {"chosen": "-", "joint": "-", "two_phase": ":", "frozen": "--"}
    names = [f"all\n({all_size:,})" if count == "all" else f"{int(count):,}" for count in counts]
    for ax, network in zip(axes.flat, networks, strict=False):
        for (mine, case, recipe), values in lines.items():
            if mine != network:
                continue
            color = TAB10(case - 1)
            means = [np.mean(values[c]) if values[c] else np.nan for c in counts]
            augmented = " (augmented)" if config.CASES[case].augmented else ""
            label = f"case {case}{augmented}, {recipe}"
            ax.plot(xs, means, "o" + styles[recipe], color=color, label=label, markersize=4)
            bands = [interval(values[c]) for c in counts]
            if all(band is not None for band in bands):
                low, high = np.clip(np.array(bands).T, 0, 1)
                ax.fill_between(xs, low, high, color=color, alpha=0.12)
        ax.set_xscale("log")
        ax.set_xticks(xs, names)
        ax.xaxis.set_minor_formatter(NullFormatter())  # no "2x10^2" between the counts
        ax.set(xlabel="labelled training images", title=f"{network} encoder")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy")
    fig.suptitle("The grid: mean over starts, band: 95% t interval of the mean")
    save(fig, path)


def plot_answer(rows: list[dict], path) -> None:
    """The answer as a forest plot: pretrained minus random in points per label count and
    recipe, with its 95% interval (a dot where it has none) and its margin as a grey band; a
    row of panels per encoder network, fine-tuned and frozen apart (their scales differ), each
    column on one scale so that the networks (the pretexts) compare.

    Args:
        rows: the answer's rows (`kfashion.analysis.answer.headline`).
    """
    networks = list(dict.fromkeys(r["network"] for r in rows))
    kinds = [
        ("fine-tuned", lambda r: r["recipe"] != "frozen"),
        ("frozen", lambda r: r["recipe"] == "frozen"),
    ]
    height = max(2.5, 0.45 * max(sum(1 for r in rows if r["network"] == n) for n in networks))
    fig, axes = subplots(
        len(networks), 2, figsize=(11, height * len(networks)), squeeze=False, sharex="col",
        layout="constrained",
    )  # fmt: skip
    for ax_row, network in zip(axes, networks, strict=True):
        for ax, (kind, belongs) in zip(ax_row, kinds, strict=True):
            mine = [r for r in rows if r["network"] == network and belongs(r)]
            for y, r in enumerate(reversed(mine)):
                margin, mean = 100 * r["margin"], 100 * r["mean_difference"]
                ax.fill_betweenx([y - 0.35, y + 0.35], -margin, margin, color="0.85", lw=0)
                if r["ci95"] is not None:
                    ax.plot([100 * v for v in r["ci95"]], [y, y], color="black", lw=1.5)
                ax.plot([mean], [y], "o", color=TAB10(0 if kind == "fine-tuned" else 1))
            labels = [f"{_count(r['labels'])}, {answer.compared(r)}" for r in reversed(mine)]
            ax.set_yticks(range(len(mine)), labels)
            ax.axvline(0, color="0.4", lw=0.8)
            ax.set_title(f"{network} encoder, {kind}")
            ax.tick_params(labelbottom=True)  # every panel's scale, shared down its column
            ax.grid(axis="x", alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("pretrained - random (points)")
    fig.suptitle("Does pretraining help? Mean difference, 95% interval, grey: the margin")
    save(fig, path)


def _count(labels: str) -> str:
    return "all labels" if labels == "all" else f"{int(labels):,} labels"
