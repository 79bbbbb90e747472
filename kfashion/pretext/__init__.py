"""Pretext tasks: what an encoder is pretrained to do before the transfer grid uses it.

A pretext is one module here, named in `kfashion.config.PRETEXTS` with its options. It builds
its pretraining model around the network's `encoder` and `decoder` sub-models:

- `build(encoder, decoder, **options) -> keras.Model`: images in; the model keeps `encoder`
  (and `decoder`, if it uses one) as sub-models of those names, so the sweep saves them alone;
- `DECODER`: whether the pretraining model holds the decoder (the latent maps decode paths);
- `LOSS`: the loss `model.fit(images, images)` compiles with; the sweep's validation and test
  losses are this loss on unaltered images.
"""

import importlib

from kfashion import config


def load(name: str):
    """The module of pretext `name` (one of `config.PRETEXTS`)."""
    if name not in config.PRETEXTS:
        raise ValueError(f"unknown pretext {name!r}; choose from {', '.join(config.PRETEXTS)}")
    return importlib.import_module(f"{__name__}.{name}")


def build(name: str, encoder, decoder):
    """Pretext `name`'s pretraining model around `encoder` and `decoder`, with its options."""
    return load(name).build(encoder, decoder, **config.PRETEXTS[name])
