"""The transfer stage's figures: curves, confusion matrices, accuracy against labels, the
grid and the answer (`kfashion.rendering.plots` holds the shared set-up)."""

import numpy as np
from matplotlib.ticker import MaxNLocator, PercentFormatter

from kfashion import config
from kfashion.analysis import answer
from kfashion.rendering.plots import TAB10, band, log_ticks, panels, save, subplots
from kfashion.rendering.sections import count_text


def label_counts(counts: list, all_size: int) -> tuple[list, list]:
    """Where each label count is drawn ("all" at `all_size`), and its tick's label."""
    xs = [all_size if count == "all" else int(count) for count in counts]
    names = [f"all\n({all_size:,})" if count == "all" else f"{int(count):,}" for count in counts]
    return xs, names


def accuracy_axes(ax, xs, names, legend_size: int, **labels) -> None:
    """A panel of test accuracy against label counts: its log axis, percentages and legend."""
    log_ticks(ax, xs, names)
    ax.set(xlabel="labelled training images", **labels)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size, loc="lower right")


def plot_transfer_curves(histories: dict, labels: dict, path) -> None:
    """Loss and accuracy against epoch for each case (`histories`: case -> one Keras history a
    seed): mean over seeds, train dashed, validation solid."""
    fig, axes = subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    colors = dict(zip(histories, TAB10.colors, strict=False))
    for case, runs in histories.items():
        for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
            for prefix, style in (("", "--"), ("val_", "-")):
                curves = [run[prefix + metric] for run in runs]
                epochs = range(1, len(curves[0]) + 1)
                label = f"{labels[case]} ({'validation' if prefix else 'train'})"
                band(ax, epochs, curves, colors[case], linestyle=style, label=label)
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

    fig, axes = panels(len(matrices), 2, (6.5, 6))
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
    for ax in list(axes.flat)[len(matrices) :]:
        ax.axis("off")
    fig.suptitle("Test-set confusion matrices, row-normalised, summed over seeds")
    save(fig, path)


def plot_label_efficiency(summary: dict, counts: list, labels: dict, path, all_size: int) -> None:
    """Test accuracy against the number of labelled images (`summary`: case -> count ->
    {"per_seed"}), one line per case, the band the 95% t interval of the mean over seeds (each
    count's own: a crossed grid draws its labels more often where they are few)."""
    from kfashion.analysis.stats import interval

    fig, ax = subplots(figsize=(7, 4.5), layout="constrained")
    xs, names = label_counts(counts, all_size)
    for case, color in zip(labels, TAB10.colors, strict=False):
        seeds = [summary[str(case)][str(count)]["per_seed"] for count in counts]
        ax.plot(xs, [np.mean(s) for s in seeds], "o-", color=color, label=labels[case])
        bands = [interval(s) or (np.nan, np.nan) for s in seeds]  # none from one seed
        ax.fill_between(xs, *np.array(bands, dtype=float).T, color=color, alpha=0.2)
    title = "Label efficiency (mean over seeds, band: 95% t interval of the mean)"
    accuracy_axes(ax, xs, names, 8, ylabel="test accuracy", title=title)
    save(fig, path)


def plot_grid(lines: dict, counts: list, path, all_size: int) -> None:
    """Test accuracy against labelled images (`lines`: (network, case, recipe) -> count -> one
    per start), a panel per network, a line per case (colour) and recipe (dashes: frozen, dots:
    two-phase), the band the 95% t interval of the mean over starts, within [0, 1]."""
    from kfashion.analysis.stats import interval

    networks = list(dict.fromkeys(network for network, _, _ in lines))
    # a pretext a panel: rows of three stay readable
    fig, axes = panels(len(networks), 3, (6, 4.5), sharey=True)
    for ax in axes.flat[len(networks) :]:
        ax.set_visible(False)
    xs, names = label_counts(counts, all_size)
    styles = {answer.CHOSEN: "-", "joint": "-", "two_phase": ":", "frozen": "--"}
    for ax, network in zip(axes.flat, networks, strict=False):
        for (mine, case, recipe), values in lines.items():
            if mine != network:
                continue
            color = TAB10(case - 1)
            means = [np.mean(values[c]) if values[c] else np.nan for c in counts]
            augmented = " (augmented)" if config.CASES[case].augmented else ""
            shown = "fine-tuned" if recipe == answer.CHOSEN else recipe  # each draw's own
            label = f"case {case}{augmented}, {shown}"
            ax.plot(xs, means, "o" + styles[recipe], color=color, label=label, markersize=4)
            # no band at a count without an interval (one start, or not run there)
            bands = [interval(values[c]) or (np.nan, np.nan) for c in counts]
            low, high = np.clip(np.array(bands, dtype=float).T, 0, 1)
            ax.fill_between(xs, low, high, color=color, alpha=0.12)
        accuracy_axes(ax, xs, names, 7, title=f"{network} encoder")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy")
    fig.suptitle("The grid: mean over starts, band: 95% t interval of the mean")
    save(fig, path)


def plot_answer(rows: list[dict], path) -> None:
    """The answer's rows as a forest plot: pretrained minus random in points, its 95% interval
    and its margin (grey); a row of panels per network, fine-tuned and frozen apart (their
    scales differ), each column on one scale so that the networks (the pretexts) compare."""
    networks = list(dict.fromkeys(r["network"] for r in rows))
    kinds = [
        ("fine-tuned", lambda r: r["recipe"] != "frozen"),
        ("frozen", lambda r: r["recipe"] == "frozen"),
    ]
    height = max(2.5, 0.45 * max(sum(1 for r in rows if r["network"] == n) for n in networks))
    fig, axes = panels(2 * len(networks), 2, (5.5, height), sharex="col")
    for ax_row, network in zip(axes, networks, strict=True):
        for ax, (kind, belongs) in zip(ax_row, kinds, strict=True):
            mine = [r for r in rows if r["network"] == network and belongs(r)]
            for y, r in enumerate(reversed(mine)):
                margin, mean = 100 * r["margin"], 100 * r["mean_difference"]
                ax.fill_betweenx([y - 0.35, y + 0.35], -margin, margin, color="0.85", lw=0)
                if r["ci95"] is not None:
                    ax.plot([100 * v for v in r["ci95"]], [y, y], color="black", lw=1.5)
                ax.plot([mean], [y], "o", color=TAB10(0 if kind == "fine-tuned" else 1))
            labels = [
                f"{count_text(r['labels'])} labels, {answer.compared(r)}" for r in reversed(mine)
            ]
            ax.set_yticks(range(len(mine)), labels)
            ax.axvline(0, color="0.4", lw=0.8)
            ax.set_title(f"{network} encoder, {kind}")
            ax.tick_params(labelbottom=True)  # every panel's scale, shared down its column
            ax.grid(axis="x", alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("pretrained - random (points)")
    fig.suptitle("Does pretraining help? Mean difference, 95% interval, grey: the margin")
    save(fig, path)
