"""The figures of the sweep and the latent space, and the set-up every figure shares
(`grid_plots` draws the transfer stage's): matplotlib's Agg renderer, one idea per PNG.

Figures are made outside pyplot (`matplotlib.figure.Figure`), whose backend is the whole
process's: choosing Agg there would stop a notebook that runs a command from showing its own
plots afterwards.
"""

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

TAB10 = matplotlib.colormaps["tab10"]


def subplots(rows: int = 1, columns: int = 1, *, figsize, layout=None, **grid):
    """A figure and its axes, as `pyplot.subplots` makes them."""
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(rows, columns, **grid)


def panels(count: int, most_columns: int, size: tuple, **grid):
    """A figure of `count` panels of `size` inches each, in rows of at most `most_columns`."""
    columns = min(count, most_columns)
    rows = -(-count // columns)
    figsize = (size[0] * columns, size[1] * rows)
    return subplots(rows, columns, figsize=figsize, squeeze=False, layout="constrained", **grid)


def save(fig, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def log_ticks(ax, xs, names) -> None:
    """A log x axis labelled at `xs` alone: no minor label (a "2x10^2") between them."""
    ax.set_xscale("log")
    ax.set_xticks(xs, names)
    ax.xaxis.set_minor_formatter(NullFormatter())


def t_band(rows):
    """The 95% two-sided t interval of the mean of `rows` (one row per seed), per column: every
    figure's band and bars, as the tables' intervals."""
    from scipy import stats

    from kfashion.analysis.stats import ALPHA

    rows = np.asarray(rows, dtype=float)
    mean = rows.mean(axis=0)
    half = stats.t.ppf(1 - ALPHA / 2, len(rows) - 1) * stats.sem(rows, axis=0)
    return mean - half, mean + half


def t_bars(groups) -> np.ndarray:
    """Error bars (below and above each group's mean) of its 95% t interval
    (`stats.interval`), as `errorbar` takes them; none for a group of one."""
    from kfashion.analysis.stats import interval

    bars = []
    for values in groups:
        mean = float(np.mean(values))
        low, high = interval(values) or (mean, mean)
        bars.append([mean - low, high - mean])
    return np.array(bars).T


def band(ax, x, curves, color, **style) -> None:
    """The mean of `curves` (one row per seed) as a line, its 95% t interval as a band."""
    curves = np.asarray(curves, dtype=float)
    ax.plot(x, curves.mean(axis=0), color=color, **style)
    if len(curves) > 1:
        ax.fill_between(x, *t_band(curves), color=color, alpha=0.15)


def level(value) -> str:
    """A factor's value as a legend or axis shows it: 0.001 as 0.001, 1e-05 as 1e-05."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def plot_factor(factor: str, trials: list[dict], path, others="the base case") -> None:
    """Train and validation loss against epoch, one line per value of `factor` (`trials`:
    records with "value", "is_base", "status" and "seeds", each seed with its "history"), the
    other factors held at `others`."""
    fig, axes = subplots(1, 2, figsize=(11, 4.2), layout="constrained", sharey=True)
    colors = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, len(trials)))
    seeds = max((len(trial["seeds"]) for trial in trials), default=0)
    for trial, color in zip(trials, colors, strict=True):
        label = level(trial["value"])
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
                band(ax, range(1, length + 1), curves, color, label=label, **style)
    for ax, title in zip(axes, ("train", "validation"), strict=True):
        ax.set(title=f"{title} loss", xlabel="epoch", yscale="log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean squared error")
    axes[1].legend(title=factor)
    fig.suptitle(
        f"Autoencoder: effect of {factor} (others at {others}); mean of {seeds} seed(s), "
        "band: 95% t interval of the mean"
    )
    save(fig, path)


def plot_main_effects(factors: dict, path, title: str) -> Figure:
    """Each factor's best validation loss by level (`factors`: factor -> levels, each {"label",
    "is_base", "values"}), a panel a factor: every seed a dot, the mean and its 95% t interval a
    bar, the base case in black (the one-factor-at-a-time counterpart of a slice plot)."""
    size = (2.4 * len(factors) + 1, 3.8)
    fig, axes = subplots(1, len(factors), figsize=size, layout="constrained", sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (factor, levels) in zip(axes, factors.items(), strict=True):
        for x, entry in enumerate(levels):
            values = np.asarray(entry["values"], dtype=float)
            if not len(values):  # every seed diverged: its label stays, with no dot
                continue
            color = "black" if entry["is_base"] else TAB10(0)
            ax.plot(np.full(len(values), x), values, ".", color=color, alpha=0.5)
            ax.errorbar(x, values.mean(), yerr=t_bars([values]), fmt="o", color=color, capsize=3)
        ax.set_xticks(range(len(levels)), [entry["label"] for entry in levels], rotation=45)
        ax.set(title=factor, xlim=(-0.5, len(levels) - 0.5), yscale="log")
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("best validation loss")
    fig.suptitle(f"{title}; dots: seeds, bars: 95% t interval of the mean, black: the base case")
    save(fig, path)
    return fig


def plot_reconstructions(images, reconstructions, class_names, path, title) -> None:
    """Originals (top row) above their reconstructions (bottom row), one column per class."""
    columns = len(images)
    fig, axes = subplots(2, columns, figsize=(1.3 * columns, 3))
    for column in range(columns):
        for row, batch in enumerate((images, reconstructions)):
            ax = axes[row, column]
            ax.imshow(batch[column].squeeze(), cmap="gray", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[])
        axes[0, column].set_title(class_names[column], fontsize=8)
    axes[0, 0].set_ylabel("test image")
    axes[1, 0].set_ylabel("reconstruction")
    fig.suptitle(title)
    save(fig, path)


def plot_mse_vs_pca(latent_dims, autoencoder_mse, pca_mse, path) -> None:
    """Test MSE per latent size: the autoencoder (`autoencoder_mse`: every seed's, per size;
    the mean with its 95% t interval as bars) beside PCA with as many components."""
    fig, ax = subplots(figsize=(6, 4))
    per_seed = [np.asarray(values, dtype=float) for values in autoencoder_mse]
    mean = np.array([values.mean() for values in per_seed])
    label = "autoencoder (bars: 95% t interval of the mean)"
    ax.errorbar(latent_dims, mean, yerr=t_bars(per_seed), fmt="o-", capsize=3, label=label)
    ax.plot(latent_dims, pca_mse, "s--", label="PCA, same number of components")
    # the log axis's minor ticks would label 20, 30, ... over the sizes (as "2x10^1")
    log_ticks(ax, latent_dims, [str(n) for n in latent_dims])
    ax.set(yscale="log", xlabel="latent size n", ylabel="test mean squared error")
    ax.set_title("Reconstruction error against a linear baseline")
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, path)


def plot_mse_vs_probe(points: list[dict], correlation: dict, path) -> None:
    """Each design point's test MSE against its frozen codes' probe accuracy (means over
    seeds), labelled by the point, with Spearman's correlation and its interval."""
    fig, ax = subplots(figsize=(6, 4.5))
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
    save(fig, path)


def plot_latent_maps(rows: dict, class_names, path) -> None:
    """One row per encoder (`rows`: name -> its "pca" and "tsne" points, their "_labels", the
    "pca_explained_variance" and the "title" it is shown by, else its name): its test codes in
    2-D by PCA and by t-SNE, coloured by class."""
    fig, axes = subplots(
        len(rows), 2, figsize=(12, 5.5 * len(rows)), squeeze=False, layout="constrained"
    )
    for ax_row, (name, row) in zip(axes, rows.items(), strict=True):
        for ax, method in zip(ax_row, ("pca", "tsne"), strict=True):
            points, labels = row[method], row[f"{method}_labels"]
            for k, label in enumerate(class_names):
                mine = points[labels == k]
                ax.scatter(mine[:, 0], mine[:, 1], s=2, alpha=0.5, color=TAB10(k), label=label)
            if method == "pca":
                share = row["pca_explained_variance"]
                axis = [
                    f"principal component {k + 1} ({share[k]:.0%} of the variance)" for k in (0, 1)
                ]
                method_name = "PCA"
            else:
                axis, method_name = ["t-SNE 1", "t-SNE 2"], "t-SNE"
            ax.set(xticks=[], yticks=[], xlabel=axis[0], ylabel=axis[1])
            title = f"{row.get('title', name)}: {method_name} of {len(labels):,} test codes"
            ax.set_title(title, fontsize=10)
    axes[0, 1].legend(markerscale=6, fontsize=8, loc="upper right", bbox_to_anchor=(1.32, 1))
    save(fig, path)


def plot_latent_paths(rows: dict, paths, path) -> None:
    """For each encoder (`rows`: name -> {"paths": array (paths, steps, 28, 28)}), the images
    decoded along straight lines between two classes' mean codes (`paths`: the class names)."""
    lines = [(name, k) for name in rows for k in range(len(paths))]
    steps = next(iter(rows.values()))["paths"].shape[1]
    fig, axes = subplots(len(lines), steps, figsize=(steps * 1.1, len(lines) * 1.25), squeeze=False)
    for ax_row, (name, k) in zip(axes, lines, strict=True):
        for step, ax in enumerate(ax_row):
            ax.imshow(rows[name]["paths"][k, step], cmap="gray", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[])
        ax_row[0].set_ylabel(paths[k][0], fontsize=7)
        ax_row[-1].yaxis.set_label_position("right")
        ax_row[-1].set_ylabel(paths[k][1], fontsize=7)
        if len(rows) > 1 and k == 0:
            ax_row[steps // 2].set_title(name, fontsize=8)
    fig.suptitle("Decoded along the line from one class's mean code to another's")
    save(fig, path)
