"""`python -m kfashion.latent`: pictures of the encoder's latent space.

Two maps of the test set's codes coloured by class, PCA and t-SNE (scikit-learn), and a grid
decoding points along straight lines between the mean codes of two classes. Each `--encoder`
gets a row, so a variant can be set beside the course network; an encoder's paths are decoded
by the decoder beside it (`encoder.keras` -> `decoder.keras`), and an encoder without one (a
seed's `encoder_seed1.keras`, a pretext with no decoder) gets its maps only. Writes
`figures/latent_maps.png`, `figures/latent_paths.png` (where an encoder has a decoder) and
`latent.json` under `--results`.
"""

import sys
from pathlib import Path

import numpy as np

from kfashion import config
from kfashion.config import CLASS_NAMES
from kfashion.core import cli, layout, saved_models
from kfashion.core.errors import UserError, exit_on_user_error
from kfashion.core.files import file_digest, write_json


def decoder_beside(encoder_path: Path) -> Path:
    return encoder_path.with_name(encoder_path.name.replace("encoder", "decoder"))


def short_names(paths: list[Path]) -> list[str]:
    """The fewest trailing path parts that tell the encoders apart, for the figures' titles."""
    for depth in range(1, max(len(p.parts) for p in paths) + 1):
        names = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    return [str(p) for p in paths]


def maps(codes: np.ndarray, labels: np.ndarray, sample: np.ndarray, seed: int) -> dict:
    """2-D PCA of all codes and t-SNE of the sampled ones."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    pca = PCA(n_components=2, random_state=seed).fit(codes)
    tsne = TSNE(n_components=2, init="pca", perplexity=config.PERPLEXITY, random_state=seed)
    return {
        "pca": pca.transform(codes),
        "pca_labels": labels,
        "pca_explained_variance": [float(v) for v in pca.explained_variance_ratio_],
        "tsne": tsne.fit_transform(codes[sample]),
        "tsne_labels": labels[sample],
        "tsne_kl_divergence": float(tsne.kl_divergence_),
    }


def paths_between_means(codes, labels, decoder) -> np.ndarray:
    """Decoded images along each path of `config.LATENT_PATHS`: shape (paths, steps, 28, 28)."""
    names = list(CLASS_NAMES)
    rows = []
    for start, end in config.LATENT_PATHS:
        a = codes[labels == names.index(start)].mean(axis=0)
        b = codes[labels == names.index(end)].mean(axis=0)
        points = np.stack([a + t * (b - a) for t in np.linspace(0, 1, config.LATENT_STEPS)])
        rows.append(decoder.predict(points, verbose=0)[..., 0])
    return np.stack(rows)


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = cli.parser(
        "kfashion.latent",
        "Maps of the test set's latent codes and decoded paths between classes.",
        "--encoder results/models/encoder.keras --encoder results/models/encoder_seed1.keras",
    )
    parser.add_argument(
        "--encoder",
        action="append",
        help="encoder .keras (repeat to compare; default: RESULTS/models/encoder.keras)",
    )
    parser.add_argument(
        "--tsne-images",
        type=int,
        help=f"t-SNE sample size (default: {config.TSNE_IMAGES:,}, or every test image if fewer)",
    )
    parser.add_argument(
        "--seed", type=int, default=config.LATENT_SEED, help="seed of the sample, PCA and t-SNE"
    )
    cli.add_data_flags(parser)
    parser.add_argument("--results", default=config.RESULTS, help="where figures and JSON go")
    args = parser.parse_args(argv)
    cli.check_data_flags(args)
    encoders = [Path(p) for p in args.encoder or [layout.model(args.results, "encoder")]]
    for path in encoders:
        saved_models.readable_archive(path, "--encoder")
        if decoder_beside(path).exists():
            saved_models.readable_archive(decoder_beside(path), "the decoder beside --encoder")
    results = cli.writable_folder(args.results, "--results")
    from kfashion import data
    from kfashion.core.provenance import provenance
    from kfashion.core.quiet_keras import load_keras
    from kfashion.rendering import plots

    load_keras()
    models = []
    for path in encoders:
        encoder = saved_models.load_encoder(path)
        decoder = None
        if decoder_beside(path).exists():
            latent_dim = encoder.output_shape[-1]
            decoder = saved_models.load_decoder(decoder_beside(path), latent_dim, path)
        models.append((path, encoder, decoder))
    dataset = data.load(args.data_dir, subset=args.subset)
    if args.tsne_images is None:  # a --subset of the study leaves fewer test images
        args.tsne_images = min(config.TSNE_IMAGES, len(dataset.y_test))
    if not 50 <= args.tsne_images <= len(dataset.y_test):
        raise UserError(f"--tsne-images {args.tsne_images}: give 50 to {len(dataset.y_test)}")
    sample = data.stratified_sample(dataset.y_test, args.tsne_images, args.seed)
    rows, summary = {}, {}
    for (path, encoder, decoder), name in zip(models, short_names(encoders), strict=True):
        codes = encoder.predict(dataset.x_test, batch_size=config.EVAL_BATCH_SIZE, verbose=0)
        rows[name] = maps(codes, dataset.y_test, sample, args.seed)
        rows[name]["title"] = f"{saved_models.network_of(path.parent)} encoder ({path.name})"
        if decoder is not None:
            rows[name]["paths"] = paths_between_means(codes, dataset.y_test, decoder)
        summary[name] = {
            "sha256": file_digest(path),
            "decoded_paths": decoder is not None,
            **{k: rows[name][k] for k in ("pca_explained_variance", "tsne_kl_divergence")},
        }
        print(f"{path}: codes of {len(codes)} test images mapped", flush=True)
    figures = {"maps": layout.figure(results, "latent_maps")}
    plots.plot_latent_maps(rows, CLASS_NAMES, figures["maps"])
    decoded = {name: row for name, row in rows.items() if "paths" in row}
    if decoded:
        figures["paths"] = layout.figure(results, "latent_paths")
        plots.plot_latent_paths(decoded, config.LATENT_PATHS, figures["paths"])
    write_json(
        results / layout.LATENT,
        {
            "provenance": provenance("kfashion.latent", argv, dataset),
            "settings": {
                "tsne_images": args.tsne_images,
                "seed": args.seed,
                "perplexity": config.PERPLEXITY,
                "paths": config.LATENT_PATHS,
                "steps": config.LATENT_STEPS,
            },
            "encoders": summary,
            "figures": {name: str(path.relative_to(results)) for name, path in figures.items()},
        },
    )
    print(f"wrote {', '.join(map(str, figures.values()))} and {results / layout.LATENT}")


if __name__ == "__main__":
    main()
