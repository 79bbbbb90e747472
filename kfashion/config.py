"""The study as one config: the images, the sweep's factors, the transfer cases and recipes,
and every default of every command, in one place.

Each command's `--help` shows these defaults; `python -m kfashion.study` runs its stages with
them, `--quick` with `QUICK`'s smaller numbers. No framework is imported here, so commands can
check their arguments, and the findings and the report can read the design, without Keras.
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
SPLIT_SEED = 0  # the train/validation split is part of the data: every stage uses the same one

# Where results go. The committed reference run lives apart, in results/reference/.
RESULTS, DIRECTORY = "results", "tuning"  # a results folder, and KerasTuner's working folder
QUICK_RESULTS, QUICK_DIRECTORY = "results/quick", "tuning/quick"
# `study --reference` makes a new reference run here, its sweeps' records inside it so that
# they can be committed as they finish (.gitignore); moved whole into results/reference by hand
NEXT_RESULTS, NEXT_DIRECTORY = "results/next", "results/next/tuning"
REFERENCE_RESULTS = "results/reference"  # the committed reference run
PILOT_RESULTS = "results/pilot"  # the pilot grid that sized the reference run (`kfashion.pilot`)

# Training, every stage.
EVAL_BATCH_SIZE = 1000  # evaluation keeps no gradients: bigger batches, the same numbers

# `python -m kfashion.tune`: the sweep (its design points are below).
SWEEP_EPOCHS = 10  # per seed of each point, as in the study
SWEEP_SEEDS = 3  # each point trained with seeds 0, 1, 2: a mean and a spread for every finding
SWEEP_SELECT = "reference"  # export the study's choice (n=64, p=0.1), or "best": lowest val loss
PCA_FIT_SIZE = 20_000  # training images the sweep's PCA reference is fitted on
# Each sweep seed's frozen codes judged as features, for the figure of reconstruction quality
# against feature quality (nothing is chosen by it): logistic regression (C=1) on the codes of
# this many training images, scored on the test images.
SWEEP_PROBE_IMAGES = 10_000

# `python -m kfashion.transfer`: the grid of transfer runs (its cases and recipes are below).
TRANSFER_EPOCHS = 30
TRANSFER_BATCH_SIZE = 100
# Fine-tuning seeds (draws of labels) of every pretraining seed and random case, per label
# count (a count between two takes the lower one's, `by_count`): transfer's own (the default
# study's are in STUDY, the reference run's in REFERENCE below).
DRAWS = {100: 8, 1000: 6, 10000: 4, "all": 4}
RANDOM_INITS = 2  # initialisations of each draw of a random case
INIT_SEEDS_FROM = 100_000  # a further initialisation's seed: apart from every fine-tuning seed
MIN_STEPS = 1000  # training steps of a few-label run, at least (its images repeat)
FOLDS = 3  # a few-label run's recipe and rate are chosen by cross-validation in its own labels
PROBE_IMAGES = 1000  # validation images on which each run's code units are checked
WAIT_SECONDS = 2  # between a waiting grid worker's asks for a trial
LABELS = "100,1000,10000,all"  # label counts of the grid
# The recipes the jointly trained cases choose among (`--recipes joint,two_phase` adds the
# two-phase one: twice the choices' runs).
GRID_RECIPES = "joint"

# `python -m kfashion.baseline`: linear classifiers on pixels.
MAX_ITER = 1000  # lbfgs iterations at most; the JSON says whether each fit converged
REGULARISATION_C = 1.0  # scikit-learn's default L2 strength
C_GRID = (0.01, 0.1, 1.0, 10.0)  # the validation grid of C
PCA_COMPONENTS = 64  # as many numbers as the exported autoencoder's code

# `python -m kfashion.latent`: pictures of the latent space.
TSNE_IMAGES = 3000  # t-SNE on a stratified sample: it grows quadratically with the points
PERPLEXITY = 30  # scikit-learn's default
LATENT_PATHS = (("T-shirt/top", "Trouser"), ("Sneaker", "Ankle boot"), ("Shirt", "Bag"))
LATENT_STEPS = 9  # decoded points per path, ends included
LATENT_SEED = 0  # of the sample, PCA and t-SNE

# JAX's persistent compilation cache (KFASHION_JAX_CACHE moves it).
JAX_CACHE = "~/.cache/kfashion/jax"

# Local workers (KerasTuner's distributed mode) of a sweep or a grid, one core each (fewer
# where the machine holds fewer): faster than one process on both cores.
WORKERS = 2
WORKER_RESTARTS = 3  # times a dead worker is started again before the search gives up
WORKER_MEMORY = 1300 * 2**20  # peak memory of one worker (and of the chief): all 60,000 images

# `python -m kfashion.study --quick`: the default study's stages and tables, with the cheapest
# pretext task beside reconstruction (fine-tuned at few labels, as in the reference run), at
# sizes that take minutes, enough that every case lands well above chance and the trained cases
# ahead of the frozen ones.
QUICK = {
    "subset": 3_600,
    "epochs": 2,
    "seeds": 1,
    "transfer_seeds": 2,  # two draws of labels: the answer's rows have intervals
    "labels": "100,all",
    "max_iter": 300,
    "recipes": "joint",  # no two-phase candidates: the choices are most of a quick grid's time
    "pretexts": "denoising",
    "pretext_labels": "100",
}

# Statistics.
CONFIDENCE = 0.95  # of every interval; a family's chance of any false verdict is 1 - this
BOOTSTRAP_RESAMPLES = 2000  # of a percentile bootstrap interval (reconstruction vs features)
# The answer's analysis plan (`kfashion.analysis.answer`), fixed before the run: pretrained
# minus random, in points, is judged equivalent to no difference within these margins; a count
# between two takes the lower one's margin.
MARGINS = {100: 1.5, 1000: 0.75, 10000: 0.5, "all": 0.5}
# The pilot's sizing of the reference run (`kfashion.analysis.sizing`): at most this many draws
# of one label count, before more pretraining seeds are asked for, and this many seeds.
MOST_DRAWS, MOST_SEEDS = 40, 10
NEAR = 0.03  # a claim of "about X%" holds within 3 points of X


def draws_text(table: dict) -> str:
    """A table of draws as --seeds takes it: "100:8,1000:6,10000:4,all:4"."""
    return ",".join(f"{count}:{n}" for count, n in table.items())


def label_order(labels: str) -> tuple:
    """The sort key of label counts ("100", "all"): fewest first, all labels last."""
    return (labels == "all", 0 if labels == "all" else int(labels))


def by_count(table: dict, labels: str):
    """A label count's entry of `table` (counts and "all" -> values): its own, or that of the
    largest count below it (the smallest count's, below every one)."""
    if labels == "all":
        return table["all"]
    counts = sorted(c for c in table if c != "all")
    below = [c for c in counts if c <= int(labels)]
    return table[below[-1] if below else counts[0]]


def train_split_size(subset: int | None = None) -> int:
    """The images a stage trains on, out of `--subset` of them (None: all): five sixths; the
    other sixth validates (`kfashion.data.load`)."""
    images = subset or TRAIN_IMAGES
    return images - images // 6


# The autoencoder networks `kfashion.core.models` builds: the course's, and a variant with `same`
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
# Pretext tasks (`kfashion.pretext`): name -> its options. The sweep pretrains with PRETEXT
# unless `tune --pretext` names another; a network pretrained by another pretext is named
# "<architecture>_<pretext>" in the transfer grid.
PRETEXT = "reconstruction"
PRETEXTS = {
    "reconstruction": {},
    "denoising": {"noise": 0.4},  # standard deviation of the Gaussian noise added to each pixel
    # a share of the 4x4 patches hidden (SimMIM hides 0.6 of its patches)
    "masked": {"ratio": 0.5, "patch": 4},
    # SimCLR's temperature for small batches; crop and shift by up to a fifth of the image; a
    # projection head as wide as the code
    "contrastive": {"temperature": 0.5, "strength": 0.2, "width": 64},
    "supervised": {},  # the control that must help: every training image's label
}
CONTROLS = ("supervised",)  # pretexts that are controls, not pretext tasks: judged apart
# The pretexts a study pretrains beside reconstruction (`study --pretexts`), each by a sweep of
# its knobs (the point by --select rank) whose encoders join the grid and the probes, compared
# with the same random encoders: the default study's (--quick's and --reference's are in QUICK
# and REFERENCE).
STUDY_PRETEXTS = ""
# Each pretext's own knobs (its options above), swept one at a time around those options as the
# factors are around the base case: `tune --pretext masked --factors ratio,patch`. A pretext's
# point is chosen by `--select rank`: the highest mean effective rank of the codes of validation
# images (RankMe, Garrido et al. 2023), a criterion that reads no label and compares across
# knobs where the pretexts' own losses do not.
KNOBS = {
    "noise": (0.2, 0.4, 0.6),
    "ratio": (0.25, 0.5, 0.75),
    "patch": (4, 7),
    "temperature": (0.1, 0.2, 0.5),
    "strength": (0.1, 0.2, 0.3),
}

# `python -m kfashion.study` (no mode): the crossed grid on the course network at the two ends
# of the answer's label counts (few labels, where pretraining should matter most, and all, the
# course's four cases), with fewer draws with all labels than `transfer`'s own: the sizes whose
# prediction (`kfashion.core.costs`, at the reference run's costs) fits a night on a 2-core CPU
# with room for a host slower than the reference run's.
STUDY = {"labels": "100,all", "transfer_seeds": draws_text({100: 8, "all": 3})}

# `python -m kfashion.study --reference`: the reference run, sized to a budget of 16 hours of
# training on 2 cores (its report sets its predictions beside what it took). Its grid
# fine-tunes the course network pretrained by each pretext with the joint recipe (its rate
# chosen in each draw's labels), reconstruction's at three label counts and the others' (and
# the augmentation control) at the two few-label ones: a run with all labels costs far more,
# and the pretexts ask what pretraining gives where labels are few. The linear_code network is
# swept against the course one (the architecture comparison) but not fine-tuned. Its draws are
# the fewest for which the pilot's rule (`kfashion.analysis.sizing.sizes`) expects the course
# network's joint comparison to reach each count's margin (results/pilot/pilot.json).
REFERENCE_DRAWS = {100: 8, 1000: 5, "all": 4}
REFERENCE = {
    "labels": "100,1000,all",
    "pretext_labels": "100,1000",
    "recipes": "joint",
    "transfer_seeds": draws_text(REFERENCE_DRAWS),
    "pretexts": "denoising,masked,contrastive,supervised",
}
# The history key under which each sweep seed records its training loss's step noise, and the
# training steps of each chunk whose mean loss that measure compares with the next chunk's.
STEP_NOISE = "loss_chunk_noise"
STEP_NOISE_CHUNK = 10


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


def levels(pretext: str = PRETEXT) -> dict:
    """The values each factor a sweep pretrained by `pretext` may vary takes: FACTORS, and the
    pretext's knobs."""
    return {**FACTORS, **{k: KNOBS[k] for k in PRETEXTS[pretext] if k in KNOBS}}


def implied(pretext: str = PRETEXT) -> dict:
    """Every point's settings unless its factor changes them: IMPLIED and the pretext's
    options."""
    return {**IMPLIED, **PRETEXTS[pretext]}


def make_design(factors=REFERENCE_FACTORS, pretext: str = PRETEXT) -> list[DesignPoint]:
    """The base case, then each factor's values in order, each configuration once.

    The reference factors give 14 points; "architecture" adds the course network and the
    linear_code one, both at p=0.0 (the course one is not repeated if "dropout" is swept too).
    A pretext's knobs are factors too, around its options. Another pretext than reconstruction
    pretrains the network the study transfers: its base case is REFERENCE_CHOICE.

    Raises:
        ValueError: a factor is not one of `levels(pretext)`.
    """
    values = levels(pretext)
    unknown = [factor for factor in factors if factor not in values]
    if unknown:
        raise ValueError(f"unknown factor {unknown[0]!r}; choose from {', '.join(values)}")
    base = BASE if pretext == PRETEXT else REFERENCE_CHOICE
    design = [DesignPoint("base", None, dict(base))]
    for factor in factors:
        for value in values[factor]:
            config = {**AROUND.get(factor, base), factor: value}
            if implied(pretext).get(factor) == value:
                del config[factor]  # implied settings are left out, as in the base case
            if all(config != point.config for point in design):
                design.append(DesignPoint(factor, value, config))
    return design


def setting(config: dict, name: str):
    """A point's value of `name`, implied ones included."""
    return {**IMPLIED, **config}[name]


def network(config: dict, pretext: str = PRETEXT) -> str:
    """The name of a point's network: its architecture (configs leave out the course network,
    the default), and the pretext that pretrained it where that is not PRETEXT."""
    architecture = setting(config, "architecture")
    return architecture if pretext == PRETEXT else f"{architecture}_{pretext}"


def architecture_of(network: str) -> str:
    """The architecture of a network named by `network`: "course" of "course_denoising"; a
    name of no known form is its own."""
    for architecture in ARCHITECTURES:
        if network == architecture or network.removeprefix(f"{architecture}_") in PRETEXTS:
            return architecture
    return network


def pretext_of(network: str) -> str:
    """The pretext that pretrained a network named by `network`: "denoising" of
    "course_denoising", PRETEXT of "course"."""
    rest = network.removeprefix(architecture_of(network)).removeprefix("_")
    return rest if rest in PRETEXTS else PRETEXT


@dataclasses.dataclass(frozen=True)
class Case:
    """A transfer case: where the encoder's weights start, and whether they train."""

    pretrained: bool
    train_encoder: bool
    augmented: bool = False  # its training images pass through `augmentation` first

    @property
    def label(self) -> str:
        weights = "pretrained" if self.pretrained else "random"
        how = "trained jointly" if self.train_encoder else "frozen"
        return f"{weights} encoder, {how}" + (" on augmented images" if self.augmented else "")


CASES = {
    1: Case(pretrained=True, train_encoder=True),
    2: Case(pretrained=True, train_encoder=False),
    3: Case(pretrained=False, train_encoder=True),
    4: Case(pretrained=False, train_encoder=False),
    # The augmentation control: a random encoder fine-tuned on images augmented as the
    # contrastive pretext's views are (at its strength in PRETEXTS), so that a gain of
    # contrastive pretraining can be told from one of augmentation alone. The study runs it
    # where contrastive pretraining is among its pretexts.
    5: Case(pretrained=False, train_encoder=True, augmented=True),
}
AUGMENTED_CASE = 5
AUGMENTED_PRETEXTS = ("contrastive",)  # whose fine-tuned runs the answer also compares with it
CLASSIC_CASES = "1,2,3,4"  # `transfer --cases`: the reference study's four
# Random erasing's share of the image, at most, in every augmentation (`pretext.contrastive`)
ERASING_FACTOR = 0.5


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a case trains: its candidate learning rates (Adam, cosine decay to 0 over each
    phase's steps), the ladder of rates a choice at the edge of those goes on to, and what
    trains when: the head alone on the encoder's codes for `head_share` of the epochs (at
    `head_rate`, or the run's rate where None), then every layer at the run's rate."""

    cases: tuple
    rates: tuple
    ladder: tuple
    head_share: tuple  # (numerator, denominator) of the epochs the head trains alone
    description: str
    head_rate: float | None = None

    def phases(self, epochs: int) -> tuple[int, int]:
        """(epochs of the head alone, epochs of every layer) of a run of `epochs`; each phase
        of a two-phase recipe gets at least one."""
        share, whole = self.head_share
        if share in (0, whole):
            return (epochs, 0) if share else (0, epochs)
        head = max(1, epochs * share // whole)
        return head, max(1, epochs - head)


# Two-phase is keras-io's transfer-learning guide: the head alone first, then every layer at a
# low rate (the guide's 1e-5, and higher: these encoders are small).
HEAD_RATE = 3e-3  # the two-phase recipe's first phase: the frozen recipe's default rate
LADDER = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)  # every rate a choice may reach
RECIPES = {
    "joint": Recipe(
        (1, 3, 5), (1e-3, 3e-3), LADDER, (0, 1), "every layer trains from the first step"
    ),
    "two_phase": Recipe(
        (1, 3),
        (1e-4, 1e-3),
        LADDER[: LADDER.index(1e-3) + 1],  # the low rate: at most the head's
        (1, 3),
        f"the head alone on the frozen encoder's codes (a third of the epochs, at {HEAD_RATE:g}), "
        "then every layer at the low rate",
        head_rate=HEAD_RATE,
    ),
    "frozen": Recipe((2, 4), (1e-3, 3e-3), LADDER, (1, 1), "the head alone, the encoder frozen"),
}
