"""Every figure kfashion draws: matplotlib with the Agg backend, one idea per PNG."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402


def _save(fig, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_factor(factor: str, trials: list[dict], path) -> None:
    """Train and validation loss against epoch, one line per value of `factor`.

    Args:
        factor: the factor the figure is about.
        trials: records with "value", "is_base", "status" and "history" (loss, val_loss).
        path: where to write the PNG.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(trials)))
    for trial, color in zip(trials, colors, strict=True):
        label = f"{trial['value']:g}" if isinstance(trial["value"], float) else str(trial["value"])
        style = {"color": color, "linewidth": 1.5, "marker": "o", "markersize": 3}
        if trial["is_base"]:
            label += " (base)"
            style.update(color="black", linewidth=2.5)
        if trial["status"] != "COMPLETED":
            label += f" ({trial['status'].lower()})"
            style.update(linestyle="--")
        for ax, key in zip(axes, ("loss", "val_loss"), strict=True):
            values = trial["history"].get(key, [])
            ax.plot(range(1, len(values) + 1), values, label=label, **style)
    for ax, title in zip(axes, ("train", "validation"), strict=True):
        ax.set(title=f"{title} loss", xlabel="epoch", yscale="log")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean squared error")
    axes[1].legend(title=factor)
    fig.suptitle(f"Autoencoder: effect of {factor} (others at the base case)")
    _save(fig, path)


def plot_reconstructions(images, reconstructions, class_names, path, title) -> None:
    """Originals (top row) above their reconstructions (bottom row), one column per class."""
    columns = len(images)
    fig, axes = plt.subplots(2, columns, figsize=(1.3 * columns, 3))
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
    """Test MSE per latent size: the autoencoder trials beside PCA with as many components."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(latent_dims, autoencoder_mse, "o-", label="autoencoder (sweep trial)")
    ax.plot(latent_dims, pca_mse, "s--", label="PCA, same number of components")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="latent size n",
        ylabel="test mean squared error",
        title="Reconstruction error against a linear baseline",
    )
    ax.set_xticks(latent_dims, [str(n) for n in latent_dims])
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)
