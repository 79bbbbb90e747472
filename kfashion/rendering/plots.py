"""Every figure kfashion draws: matplotlib's Agg renderer, one idea per PNG.

Figures are made outside pyplot (`matplotlib.figure.Figure`), whose backend is the whole
process's: choosing Agg there would stop a notebook that runs a command from showing its own
plots afterwards.
"""

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, PercentFormatter

TAB10 = matplotlib.colormaps["tab10"]


def _subplots(rows: int = 1, columns: int = 1, *, figsize, layout=None, **grid):
    """A figure and its axes, as `pyplot.subplots` makes them."""
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(rows, columns, **grid)


def _save(fig, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def _band(ax, x, curves, color, **style) -> None:
    """The mean of `curves` (one row per seed) as a line, their lowest to highest as a band."""
    curves = np.asarray(curves, dtype=float)
    ax.plot(x, curves.mean(axis=0), color=color, **style)
    if len(curves) > 1:
        ax.fill_between(x, curves.min(axis=0), curves.max(axis=0), color=color, alpha=0.15)


def _t_band(rows):
    """The 95% two-sided t interval of the mean of `rows` (one row per seed), per column."""
    from scipy import stats

    rows = np.asarray(rows, dtype=float)
    mean = rows.mean(axis=0)
    half = stats.t.ppf(0.975, len(rows) - 1) * stats.sem(rows, axis=0)
    return mean - half, mean + half


def plot_factor(factor: str, trials: list[dict], path, others="the base case") -> None:
    """Train and validation loss against epoch, one line per value of `factor`: the mean over
    seeds, with a band from the lowest to the highest seed (the range, not an interval).

    Args:
        factor: the factor the figure is about.
        trials: records with "value", "is_base", "status" and "seeds" (each seed's "history"
            with loss and val_loss).
        path: where to write the PNG.
        others: where the other factors were held, for the title.
    """
    fig, axes = _subplots(1, 2, figsize=(11, 4), sharey=True)
    colors = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, len(trials)))
    seeds = max((len(trial["seeds"]) for trial in trials), default=0)
    for trial, color in zip(trials, colors, strict=True):
        label = f"{trial['value']:g}" if isinstance(trial["value"], float) else str(trial["value"])
        style = {"linewidth": 1.5, "marker": "o", "markersize": 3}
        if trial["is_base"]:
            label += " (base)"
            color = "black"
            style.update(linewidth=2.5)
        if trial["status"] != "COMPLETED":
            label += f" ({trial['status'].lower()})"
            style.update(linestyle="--")
        for ax, key in zip(axes, ("loss", "val_loss"), strict=True):
            curves = [run["history"].get(key, []) for run in trial["seeds"]]
            length = min((len(curve) for curve in curves), default=0)  # a diverged seed stops
            if length:
                curves = [curve[:length] for curve in curves]
                _band(ax, range(1, length + 1), curves, color, label=label, **style)
    for ax, title in zip(axes, ("train", "validation"), strict=True):
        ax.set(title=f"{title} loss", xlabel="epoch", yscale="log")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean squared error")
    axes[1].legend(title=factor)
    fig.suptitle(
        f"Autoencoder: effect of {factor} (others at {others}); mean of {seeds} seed(s), "
        "band: lowest to highest seed"
    )
    _save(fig, path)


def plot_reconstructions(images, reconstructions, class_names, path, title) -> None:
    """Originals (top row) above their reconstructions (bottom row), one column per class."""
    columns = len(images)
    fig, axes = _subplots(2, columns, figsize=(1.3 * columns, 3))
    for column in range(columns):
        for row, batch in enumerate((images, reconstructions)):
            ax = axes[row, column]
            ax.imshow(batch[column].squeeze(), cmap="gray", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[])
        axes[0, column].set_title(class_names[column], fontsize=8)
    axes[0, 0].set_ylabel("test image")
    axes[1, 0].set_ylabel("reconstruction")
    fig.suptitle(title)
    _save(fig, path)


def plot_mse_vs_pca(latent_dims, autoencoder_mse, pca_mse, path) -> None:
    """Test MSE per latent size: the autoencoder (mean over seeds, bars from the lowest to the
    highest seed) beside PCA with as many components.

    Args:
        latent_dims: the latent sizes, in order.
        autoencoder_mse: for each size, the test MSE of every seed.
        pca_mse: for each size, PCA's test MSE.
        path: where to write the PNG.
    """
    fig, ax = _subplots(figsize=(6, 4))
    per_seed = [np.asarray(values, dtype=float) for values in autoencoder_mse]
    mean = np.array([values.mean() for values in per_seed])
    spread = np.array([[mean[i] - v.min(), v.max() - mean[i]] for i, v in enumerate(per_seed)])
    ax.errorbar(latent_dims, mean, yerr=spread.T, fmt="o-", capsize=3, label="autoencoder")
    ax.plot(latent_dims, pca_mse, "s--", label="PCA, same number of components")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="latent size n",
        ylabel="test mean squared error",
        title="Reconstruction error against a linear baseline",
    )
    ax.set_xticks(latent_dims, [str(n) for n in latent_dims])
    # the log axis's minor ticks would label 20, 30, ... over the sizes (as "2x10^1")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def plot_mse_vs_probe(points: list[dict], correlation: dict, path) -> None:
    """Each design point's test MSE against its frozen codes' probe accuracy (means over
    seeds), labelled by the point, with Spearman's correlation and its interval."""
    fig, ax = _subplots(figsize=(6, 4.5))
    for point in points:
        ax.plot(point["test_mse"], 100 * point["probe_accuracy"], "o", color="tab:blue")
        ax.annotate(point["label"], (point["test_mse"], 100 * point["probe_accuracy"]),
                    fontsize=7, xytext=(3, 3), textcoords="offset points")  # fmt: skip
    low, high = correlation["ci95"]
    ax.set(
        xscale="log",
        xlabel="test mean squared error (reconstruction)",
        ylabel="test accuracy of a linear probe on the codes (%)",
        title=f"Reconstruction against features: Spearman {correlation['spearman']:+.2f} "
        f"[{low:+.2f}, {high:+.2f}]",
    )
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_transfer_curves(histories: dict, labels: dict, path) -> None:
    """Loss and accuracy against epoch for each case: mean over seeds, train dashed, val solid.

    Args:
        histories: case -> list of Keras history dicts (one per seed).
        labels: case -> legend label.
        path: where to write the PNG.
    """
    fig, axes = _subplots(1, 2, figsize=(12, 4.5), layout="constrained")
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
                    ax.fill_between(epochs, *_t_band(curves), color=colors[case], alpha=0.15)
    axes[0].set(title="cross-entropy loss", xlabel="epoch", ylabel="loss")
    axes[1].set(title="accuracy", xlabel="epoch", ylabel="accuracy")
    axes[1].yaxis.set_major_formatter(PercentFormatter(1.0))  # percentages, as in the tables
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes[1].legend(fontsize=7, loc="lower right")
    seeds = max(len(runs) for runs in histories.values())
    fig.suptitle(
        f"Classifier training, mean over {seeds} seed(s) (band: 95% t interval of the mean)"
    )
    _save(fig, path)


def plot_confusion_grid(matrices: dict, labels: dict, class_names, path) -> None:
    """Row-normalised confusion matrices (true class per row), one panel per case, drawn by
    scikit-learn's ConfusionMatrixDisplay."""
    from sklearn.metrics import ConfusionMatrixDisplay

    count = len(matrices)
    columns = min(count, 2)
    rows = -(-count // columns)
    fig, axes = _subplots(
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
    _save(fig, path)


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
    fig, ax = _subplots(figsize=(7, 4.5), layout="constrained")
    xs = [all_size if count == "all" else count for count in counts]
    for case, color in zip(labels, TAB10.colors, strict=False):
        rows = [summary[str(case)][str(count)] for count in counts]
        seeds = np.array([row["per_seed"] for row in rows]).T  # one row per seed
        ax.plot(xs, seeds.mean(axis=0), "o-", color=color, label=labels[case])
        if len(seeds) > 1:
            ax.fill_between(xs, *_t_band(seeds), color=color, alpha=0.2)
    ax.set_xscale("log")
    names = [f"all\n({all_size:,})" if count == "all" else f"{count:,}" for count in counts]
    ax.set_xticks(xs, names)
    ax.set(
        xlabel="labelled training images",
        ylabel="test accuracy",
        title="Label efficiency (mean over seeds, band: 95% t interval of the mean)",
    )
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    _save(fig, path)


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
    fig, axes = _subplots(
        1, len(networks), figsize=(6 * len(networks), 4.5), squeeze=False, sharey=True,
        layout="constrained",
    )  # fmt: skip
    xs = [all_size if count == "all" else int(count) for count in counts]
    styles = {"chosen": "-", "joint": "-", "two_phase": ":", "frozen": "--"}
    names = [f"all\n({all_size:,})" if count == "all" else f"{int(count):,}" for count in counts]
    for ax, network in zip(axes[0], networks, strict=True):
        for (mine, case, recipe), values in lines.items():
            if mine != network:
                continue
            color = TAB10(case - 1)
            means = [np.mean(values[c]) if values[c] else np.nan for c in counts]
            label = f"case {case}, {recipe}"
            ax.plot(xs, means, "o" + styles[recipe], color=color, label=label, markersize=4)
            bands = [interval(values[c]) for c in counts]
            if all(band is not None for band in bands):
                low, high = np.clip(np.array(bands).T, 0, 1)
                ax.fill_between(xs, low, high, color=color, alpha=0.12)
        ax.set_xscale("log")
        ax.set_xticks(xs, names)
        ax.set(xlabel="labelled training images", title=f"{network} encoder")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0, 0].set_ylabel("test accuracy")
    fig.suptitle("The grid: mean over starts, band: 95% t interval of the mean")
    _save(fig, path)


def plot_answer(rows: list[dict], path) -> None:
    """The answer as a forest plot: pretrained minus random in points per label count and
    recipe, with its 95% interval (a dot where it has none) and its margin as a grey band; a
    row of panels per encoder network, fine-tuned and frozen apart (their scales differ).

    Args:
        rows: the answer's rows (`kfashion.analysis.answer.headline`).
    """
    networks = list(dict.fromkeys(r["network"] for r in rows))
    kinds = [
        ("fine-tuned", lambda r: r["recipe"] != "frozen"),
        ("frozen", lambda r: r["recipe"] == "frozen"),
    ]
    height = max(2.5, 0.45 * max(sum(1 for r in rows if r["network"] == n) for n in networks))
    fig, axes = _subplots(
        len(networks), 2, figsize=(11, height * len(networks)), squeeze=False,
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
            labels = [f"{_count(r['labels'])}, {r['recipe']}" for r in reversed(mine)]
            ax.set_yticks(range(len(mine)), labels)
            ax.axvline(0, color="0.4", lw=0.8)
            ax.set(title=f"{network} encoder, {kind}", xlabel="pretrained - random (points)")
            ax.grid(axis="x", alpha=0.3)
    fig.suptitle("Does pretraining help? Mean difference, 95% interval, grey: the margin")
    _save(fig, path)


def _count(labels: str) -> str:
    return "all labels" if labels == "all" else f"{int(labels):,} labels"


def plot_latent_maps(rows: dict, class_names, path) -> None:
    """One row per encoder: its test codes in 2-D by PCA and by t-SNE, coloured by class.

    Args:
        rows: encoder name -> {"pca", "pca_labels", "tsne", "tsne_labels"} arrays, the PCA's
            "pca_explained_variance", and the "title" the row is shown by (else its name).
        class_names: legend names of the classes.
        path: where to write the PNG.
    """
    fig, axes = _subplots(
        len(rows), 2, figsize=(12, 5.5 * len(rows)), squeeze=False, layout="constrained"
    )
    for ax_row, (name, row) in zip(axes, rows.items(), strict=True):
        for ax, method in zip(ax_row, ("pca", "tsne"), strict=True):
            points, labels = row[method], row[f"{method}_labels"]
            for k, label in enumerate(class_names):
                mine = labels == k
                ax.scatter(
                    points[mine, 0],
                    points[mine, 1],
                    s=2,
                    alpha=0.5,
                    color=TAB10(k),
                    label=label,
                )
            if method == "pca":
                share = row["pca_explained_variance"]
                axis = [
                    f"principal component {k + 1} ({share[k]:.0%} of the variance)" for k in (0, 1)
                ]
            else:
                axis = ["t-SNE 1", "t-SNE 2"]
            ax.set(xticks=[], yticks=[], xlabel=axis[0], ylabel=axis[1])
            method_name = "PCA" if method == "pca" else "t-SNE"
            title = f"{row.get('title', name)}: {method_name} of {len(labels):,} test codes"
            ax.set_title(title, fontsize=10)
    axes[0, 1].legend(markerscale=6, fontsize=8, loc="upper right", bbox_to_anchor=(1.32, 1))
    _save(fig, path)


def plot_latent_paths(rows: dict, paths, path) -> None:
    """For each encoder, decoded images along straight lines between two classes' mean codes.

    Args:
        rows: encoder name -> {"paths": array (paths, steps, 28, 28)}.
        paths: the (start class, end class) name pairs, in the order of the arrays.
        path: where to write the PNG.
    """
    lines = [(name, k) for name in rows for k in range(len(paths))]
    steps = next(iter(rows.values()))["paths"].shape[1]
    fig, axes = _subplots(
        len(lines), steps, figsize=(steps * 1.1, len(lines) * 1.25), squeeze=False
    )
    for ax_row, (name, k) in zip(axes, lines, strict=True):
        for step, ax in enumerate(ax_row):
            ax.imshow(rows[name]["paths"][k, step], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(paths[k][0], fontsize=7)
        ax_row[-1].yaxis.set_label_position("right")
        ax_row[-1].set_ylabel(paths[k][1], fontsize=7)
        if len(rows) > 1 and k == 0:
            ax_row[steps // 2].set_title(name, fontsize=8)
    fig.suptitle("Decoded along the line from one class's mean code to another's")
    _save(fig, path)
