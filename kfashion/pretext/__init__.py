"""Pretext tasks: what an encoder is pretrained to do before the transfer grid uses it.

A pretext is one module here, named in `kfashion.config.PRETEXTS` with its options. It builds
its pretraining model around the network's `encoder` and `decoder` sub-models:

- `build(encoder, decoder, **options) -> keras.Model`: images in; the model keeps `encoder`
  (and `decoder`, if it uses one) as sub-models of those names, so the sweep saves them alone;
- `DECODER`: whether the pretraining model holds the decoder (the latent maps decode paths);
- `LOSS`: the loss the model compiles with; the sweep's validation and test losses are this
  loss, and `best_val_loss` chooses each seed's best epoch by it;
- `TARGETS` (optional): what `fit` takes as targets, "images" (the default: the model's own
  inputs, which a contrastive loss ignores) or "labels" (the supervised control's).

A seed's test MSE is the reconstruction of unaltered test images by its encoder and decoder,
for the pretexts that have a decoder, so that reconstruction quality compares across them.
"""

import importlib

from kfashion import config


def load(name: str):
    """The module of pretext `name` (one of `config.PRETEXTS`)."""
    if name not in config.PRETEXTS:
        raise ValueError(f"unknown pretext {name!r}; choose from {', '.join(config.PRETEXTS)}")
    return importlib.import_module(f"{__name__}.{name}")


def build(name: str, encoder, decoder, **options):
    """Pretext `name`'s pretraining model around `encoder` and `decoder`, with its options
    (`config.PRETEXTS`) where `options` does not give them."""
    return load(name).build(encoder, decoder, **{**config.PRETEXTS[name], **options})


def targets(name: str, images, labels):
    """What pretext `name` fits `images` to: the images themselves, or their `labels`."""
    return labels if getattr(load(name), "TARGETS", "images") == "labels" else images
