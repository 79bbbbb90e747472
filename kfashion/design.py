"""The study's design as data: the images, the sweep's factors, the four transfer cases.

No framework is imported here, so commands can check their arguments, and the findings and
the report can read a design, without loading Keras.
"""

import dataclasses

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SHAPE = (28, 28, 1)
TRAIN_IMAGES = 60_000  # Fashion-MNIST's training file: the train and validation splits' images


def train_split_size(subset: int | None = None) -> int:
    """The images a stage trains on, out of `--subset` of them (None: all): five sixths; the
    other sixth validates (`kfashion.data.load`)."""
    images = subset or TRAIN_IMAGES
    return images - images // 6


# The autoencoder networks `kfashion.models` builds: the course's, and a variant with `same`
# padding, a linear code and a 7x7 decoder.
ARCHITECTURES = ("course", "linear_code")

# The study's base case, and the values each factor is swept over around it.
BASE = {
    "latent_dim": 64,
    "dropout": 0.2,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 100,
}
FACTORS = {
    "latent_dim": (16, 32, 64, 128, 256),
    "dropout": (0.0, 0.1, 0.2, 0.3, 0.5),
    "optimizer": ("adam", "sgd"),
    "learning_rate": (1e-4, 1e-3, 1e-2),
    "batch_size": (50, 100, 150),
    "architecture": ARCHITECTURES,
}
# The reference study's factors: the default design (14 points). Others are swept on request.
REFERENCE_FACTORS = ("latent_dim", "dropout", "optimizer", "learning_rate", "batch_size")
# Settings beyond the reference study, with the value every point has unless its factor
# changes it. They stay out of BASE so the reference design's configs read as the study's.
IMPLIED = {"architecture": "course"}
# Factors swept around another point than BASE. The linear_code network is meant to be used
# without dropout, and p=0.0 is also where the course network's validation loss is lowest in
# the sweep, so both architectures are compared at p=0.0.
AROUND = {"architecture": {**BASE, "dropout": 0.0}}
# The configuration the reference study chose in the end.
REFERENCE_CHOICE = {**BASE, "dropout": 0.1}
# The history key under which each sweep seed records its training loss's step noise.
STEP_NOISE = "loss_chunk_noise"


@dataclasses.dataclass(frozen=True)
class DesignPoint:
    """One point of the design: the factor it varies (or "base"), that factor's value, and all."""

    factor: str
    value: object
    config: dict

    @property
    def label(self) -> str:
        """ "base case", or "factor=value"."""
        return describe(self.factor, self.value)


def describe(factor: str, value) -> str:
    return "base case" if factor == "base" else f"{factor}={value}"


def make_design(factors=REFERENCE_FACTORS) -> list[DesignPoint]:
    """The base case, then each factor's values in order, each configuration once.

    The reference factors give 14 points; "architecture" adds the course network and the
    linear_code one, both at p=0.0 (the course one is not repeated if "dropout" is swept too).

    Raises:
        ValueError: a factor is not one of FACTORS.
    """
    unknown = [factor for factor in factors if factor not in FACTORS]
    if unknown:
        raise ValueError(f"unknown factor {unknown[0]!r}; choose from {', '.join(FACTORS)}")
    design = [DesignPoint("base", None, dict(BASE))]
    for factor in factors:
        for value in FACTORS[factor]:
            config = {**AROUND.get(factor, BASE), factor: value}
            if IMPLIED.get(factor) == value:
                del config[factor]  # implied settings are left out, as in the base case
            if all(config != point.config for point in design):
                design.append(DesignPoint(factor, value, config))
    return design


def setting(config: dict, name: str):
    """A point's value of `name`, implied ones included."""
    return {**IMPLIED, **config}[name]


def network(config: dict) -> str:
    """A point's architecture (configs leave out the course network, the default)."""
    return setting(config, "architecture")


@dataclasses.dataclass(frozen=True)
class Case:
    """A transfer case: where the encoder's weights start, and whether they train."""

    pretrained: bool
    train_encoder: bool

    @property
    def label(self) -> str:
        weights = "pretrained" if self.pretrained else "random"
        how = "trained jointly" if self.train_encoder else "frozen"
        return f"{weights} encoder, {how}"


CASES = {
    1: Case(pretrained=True, train_encoder=True),
    2: Case(pretrained=True, train_encoder=False),
    3: Case(pretrained=False, train_encoder=True),
    4: Case(pretrained=False, train_encoder=False),
}
