"""The report's sections on pretraining: the sweep, the architecture comparison, the latent
space; Markdown lines rendered from each stage's JSON."""

from kfashion.analysis.sweep_claims import points_of
from kfashion.config import network
from kfashion.rendering.sections import plural, table

BORDER = (
    "The grey band along the bottom and right edges of every reconstruction is the course "
    "network's: each of its decoder's transposed convolutions pads its output "
    "(`output_padding=1`) with a last row and column that no input reaches, so the image's "
    "last three rows and columns come from biases alone, the same for every image."
)


def loss(value: float | None) -> str:
    """A loss to four decimals, "-" where the point has none (it did not complete)."""
    return f"{value:.4f}" if value else "-"


def sweep_section(sweep: dict) -> list[str]:
    settings = sweep["settings"]
    out = [
        "## The autoencoder sweep",
        "",
        f"{len(sweep['trials'])} points, one factor at a time around the base case, each "
        f"trained with seeds {settings['seeds']} for {plural(settings['epochs'], 'epoch')} on "
        f"{settings['sizes']['train']:,} training images (validation "
        f"{settings['sizes']['validation']:,}, test {settings['sizes']['test']:,}); objective "
        f"{settings['objective']}; saved weights: {settings['saved_weights']}.",
        "",
    ]
    if "main_effects" in sweep["figures"]:
        out += [
            "Each factor's best validation loss by level, every seed beside the mean and its "
            "interval:",
            "",
            f"![main effects]({sweep['figures']['main_effects']})",
            "",
        ]
    factors = [f for f in dict.fromkeys(t["factor"] for t in sweep["trials"]) if f != "base"]
    for factor in factors:
        out += [f"### {factor}", ""]
        rows = []
        for value, trial in points_of(sweep, factor):
            runs = trial["seeds"]
            per_seed = ", ".join(f"{r['best_val_loss']:.4f}" for r in runs if r["best_val_loss"])
            epochs = ", ".join(str(r["best_epoch"]) for r in runs)
            mean_loss, mse = loss(trial["best_val_loss"]), loss(trial["test_mse"])
            rows.append([value, mean_loss, per_seed, mse, epochs, trial["status"]])
        header = "mean best validation loss | per seed | mean test MSE | epochs to best | status"
        out += table(f"{factor} | {header}", rows)
        if factor in sweep["figures"]:
            out += ["", f"![{factor}]({sweep['figures'][factor]})"]
        out.append("")
    pca, chosen = sweep["pca_test_mse"], sweep["selected"]
    latent = [(v, t) for v, t in points_of(sweep, "latent_dim") if t["test_mse"]]
    if latent:
        out += [
            "### Autoencoder against PCA",
            "",
            f"Test MSE per latent size (mean over seeds), beside PCA with as many "
            f"components (fitted on {sweep['pca_fit_images']:,} training images):",
            "",
        ]
        dropout = latent[0][1]["config"]["dropout"]
        rows = [[v, f"{t['test_mse']:.4f}", f"{pca[str(v)]:.4f}"] for v, t in latent]
        out += table(f"n | autoencoder (p={dropout}) | PCA", rows) + [""]
    n = chosen["config"]["latent_dim"]
    out += [
        f"The exported models are point {chosen['trial_id']} ({chosen['rule']}: "
        f"{chosen['config']}), seed {chosen['seed']}, best epoch {chosen['best_epoch']}: test "
        f"MSE {chosen['test_mse']:.4f}, against {pca[str(n)]:.4f} for PCA-{n}.",
        "",
    ]
    course = chosen["config"].get("architecture") in (None, "course")
    for name in ("mse_vs_pca", "reconstructions"):
        if name in sweep["figures"]:
            out += [BORDER, ""] if name == "reconstructions" and course else []
            out += [f"![{name}]({sweep['figures'][name]})", ""]
    out += features_lines(sweep)
    return out


def features_lines(sweep: dict) -> list[str]:
    """Whether reconstruction quality tells feature quality across the sweep's points (a
    sweep made before the probes: nothing)."""
    found = sweep.get("reconstruction_vs_features")
    if found is None:
        return []
    low, high = found["ci95"]
    if high < 0:
        reading = "points that reconstruct better give better features"
    elif low > 0:
        reading = "points that reconstruct better give worse features"
    else:
        reading = "the sign is not resolved: reconstruction quality does not tell feature quality"
    out = [
        "### Reconstruction against features",
        "",
        f"Across the {found['points']} points, test MSE against the test accuracy of logistic "
        f"regression on each seed's frozen codes (fitted on {sweep['probe_fit_images']:,} "
        f"training images; means over seeds; nothing is chosen by it): Spearman's "
        f"correlation {found['spearman']:+.2f}, 95% bootstrap interval over points "
        f"[{low:+.2f}, {high:+.2f}]; {reading}.",
        "",
    ]
    if "mse_vs_probe" in sweep["figures"]:
        out += [f"![mse_vs_probe]({sweep['figures']['mse_vs_probe']})", ""]
    return out


def architecture_section(variant: dict, folder: str) -> list[str]:
    """The course network against the variant (`tune --factors architecture`); the grid of
    transfer runs reports what each network's encoder gives a classifier."""
    settings, pca = variant["settings"], variant["pca_test_mse"]
    out = [
        "## Architecture",
        "",
        f"`{variant['provenance']['command']}`: the course network against the linear_code "
        "variant (`same` padding, a linear code, a 7x7 decoder with a 3x3 output convolution; "
        f"`kfashion/core/models.py`), both without dropout, beside the base case; seeds "
        f"{settings['seeds']}, {plural(settings['epochs'], 'epoch')} on "
        f"{settings['sizes']['train']:,} training images.",
        "",
    ]
    rows = []
    for t in variant["trials"]:
        parameters = f"{t['parameters']:,}" if t["parameters"] else "-"
        pca_mse = f"{pca[str(t['config']['latent_dim'])]:.4f}"
        losses = [loss(t["best_val_loss"]), loss(t["test_mse"]), pca_mse]
        rows.append(
            [network(t["config"]), t["config"]["dropout"], parameters, *losses, t["status"]]
        )
    out += table(
        "network | dropout | parameters | mean best validation loss | mean test MSE "
        "| PCA test MSE | status",
        rows,
    )
    figures = variant["figures"]
    return out + [
        "",
        f"![architecture curves]({folder}/{figures['architecture']})",
        "",
        f"![reconstructions]({folder}/{figures['reconstructions']})",
        "",
    ]


def latent_section(latent: dict) -> list[str]:
    settings = latent["settings"]
    out = [
        "## The latent space",
        "",
        f"The test images' codes in two dimensions, coloured by class: PCA of all of them, "
        f"t-SNE (perplexity {settings['perplexity']}, seed {settings['seed']}) of a "
        f"stratified {settings['tsne_images']:,}; then, for each encoder with a decoder beside "
        f"it, images decoded at {settings['steps']} evenly spaced points on the line between two "
        "classes' mean codes.",
        "",
    ]
    for encoder, numbers in latent["encoders"].items():
        first, second = numbers["pca_explained_variance"]
        out.append(
            f"- `{encoder}`: the two principal components hold {first:.1%} and {second:.1%} of "
            f"the codes' variance; t-SNE's final KL divergence {numbers['tsne_kl_divergence']:.2f}."
        )
    out.append("")
    for name, figure in latent["figures"].items():  # no paths where no encoder has a decoder
        out += [f"![latent {name}]({figure})", ""]
    return out
