"""The transfer stage as a grid of runs: what a run is, which runs the grid holds, and how
each run's recipe and learning rate are chosen inside its own labels. No framework is imported.

A run is one point: the encoder network ("course", "linear_code"), the encoder's pretraining
seed (for the pretrained cases 1 and 2; a random encoder has none), the case, the label count,
the fine-tuning seed and the initialisation, and the recipe and learning rate chosen for it.
The fine-tuning seed draws the run's labelled images (a "draw"), the same for every case and
pretraining seed, so the two sides of a comparison are paired draw by draw; the initialisation
seeds the head, a random encoder and the batch order (`init_seed`). The design is crossed:
every pretraining seed runs on every draw, and the random cases run each draw from `inits`
initialisations, so the variance of the draws and of the initialisations can be told apart.

A cell is one KerasTuner trial (`kfashion.finetuning.grid_tuner`): a choice cell chooses one
case's recipe and rate for one draw (for every draw at once with all labels), by the rule in
CHOICE_RULE below; a final cell trains its runs with the choice of its draw.
"""

import dataclasses

from kfashion import config
from kfashion.config import CASES, NUM_CLASSES

ALL = "all"
# The fewest labels a run may have: each of a choice's folds holds every class.
FEWEST_LABELS = config.FOLDS * NUM_CLASSES

# How each run's recipe and learning rate are chosen, in the words grid.json records.
CHOICE_RULE = (
    "Every run's recipe and learning rate are chosen before it trains, on its own labels "
    "only, for each network, label count, case and draw of labels: each candidate (a recipe "
    "of the case with one of its starting rates) trains on the draw's N labelled images in "
    f"{config.FOLDS}-fold stratified cross-validation (the same schedule and steps as a final "
    "run, scored on the held-out fold at the last epoch), and scores its mean held-out accuracy; "
    "with all labels, each candidate trains once on the training split and scores its best "
    "epoch on the validation split, one choice for every run. Where a recipe's best rate is "
    "the highest or lowest it tried, the next rate of its ladder beyond it is tried too, until "
    "the best is inside or the ladder ends. The best score wins; a tie goes to the recipe "
    "listed first, then the lower rate, and is recorded. The choice is made with the first "
    "pretraining seed's encoder (or the first initialisation of a random one) and holds for "
    "every pretraining seed and initialisation of that draw: no run sees a label outside its "
    "N, and no test number chooses anything."
)


def labels_text(labels: str) -> str:
    """ "all labels", "1,000 labels" """
    return "all labels" if labels == ALL else f"{int(labels):,} labels"


def encoder_text(encoder_seed: int) -> str:
    """ "random", "pretraining seed 2" """
    return "random" if encoder_seed < 0 else f"pretraining seed {encoder_seed}"


@dataclasses.dataclass(frozen=True)
class Cell:
    """One KerasTuner trial of the grid.

    A choice cell (`search`) chooses case `case`'s recipe and rate on one draw (`seeds` holds
    it; empty with all labels, whose choice holds for every draw) among `recipe`, its
    candidates' recipes joined by commas. A final cell trains its runs (`runs`: each seed of
    `seeds` from `inits` initialisations) with the recipe and rate the choice of its draw
    made: None until then. `encoder_seed` is -1 for a random encoder.
    """

    network: str
    labels: str  # a count, or "all"
    case: int
    recipe: str | None
    encoder_seed: int
    seeds: tuple
    search: bool
    rate: float | None = None
    inits: int = 1

    @property
    def runs(self) -> list[tuple[int, int]]:
        """Its runs: (fine-tuning seed, initialisation), each draw's initialisations together."""
        return [(seed, init) for seed in self.seeds for init in range(self.inits)]

    @property
    def draw(self) -> int | None:
        """The draw whose choice it makes or takes: None with all labels (one for every draw)."""
        return None if self.labels == ALL else self.seeds[0]

    @property
    def recipes(self) -> list[str]:
        """A choice cell's candidate recipes."""
        return self.recipe.split(",")

    @property
    def folds(self) -> int:
        """The runs a choice's candidate makes: one a fold of its draw's labels (config.FOLDS);
        with all labels one, on the training split, scored on the validation split."""
        return 1 if self.labels == ALL else config.FOLDS

    def describe(self) -> str:
        """The cell in words, for a message about it."""
        where = f"{self.network}, {labels_text(self.labels)}, case {self.case}"
        if self.search:
            draw = "" if self.draw is None else f", draw {self.draw}"
            return f"{where}, the choice among {self.recipe}{draw}"
        rate = "" if self.rate is None else f" at lr {self.rate:g}"
        return f"{where}, {self.recipe}{rate}, {encoder_text(self.encoder_seed)}"

    def values(self) -> dict:
        """The cell as KerasTuner hyperparameter values (str, int, float and bool only: no
        recipe is "", no rate 0.0)."""
        out = dataclasses.asdict(self)
        out["seeds"] = ",".join(map(str, self.seeds))
        out["recipe"] = self.recipe or ""
        out["rate"] = self.rate or 0.0
        return out

    @classmethod
    def from_values(cls, values: dict) -> "Cell":
        fields = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in values.items() if k in fields}
        kept["seeds"] = tuple(int(s) for s in str(kept["seeds"]).split(",") if s)
        kept["recipe"] = kept["recipe"] or None
        kept["rate"] = kept["rate"] or None
        return cls(**kept)


def init_seed(seed: int, init: int) -> int:
    """The seed Keras gets for run (`seed`, `init`): the fine-tuning seed itself for the first
    initialisation, apart from every fine-tuning seed for the others."""
    return seed if init == 0 else config.INIT_SEEDS_FROM * init + seed


def run_order(record: dict) -> tuple:
    """A run record's place among its cell's: by fine-tuning seed, then initialisation
    (records made before initialisations were counted have the first)."""
    return record["seed"], record.get("init", 0)


def curve_key(record: dict) -> str:
    """Where grid.json's classic cases keep a run's curves: "case3_seed2", "case3_seed2_init1"."""
    seed, init = run_order(record)
    return f"case{record['case']}_seed{seed}" + (f"_init{init}" if init else "")


def most_labels(train_size: int) -> int:
    """The largest label count a training split of `train_size` images holds: a stratified
    sample leaves each class some images."""
    return train_size - NUM_CLASSES


def parse_counts(text: str, train_size: int, flag: str = "--labels") -> list[str]:
    """ "100,1000,all" -> ["100", "1000", "all"], sorted, each count from FEWEST_LABELS to
    NUM_CLASSES below the train size (`flag`: the option it came from, for the error)."""
    from kfashion.core.errors import UserError

    counts, most = set(), most_labels(train_size)
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == ALL:
            counts.add(ALL)
            continue
        count = int(part) if part.isdigit() else -1
        if not FEWEST_LABELS <= count <= most:
            raise UserError(
                f"{flag} {text!r}: give counts from {FEWEST_LABELS} to {most} "
                f"and/or 'all', e.g. {flag} 100,1000,all"
            )
        counts.add(str(count))
    if not counts:
        raise UserError(f"{flag} {text!r}: give at least one count, e.g. {flag} 100,1000,all")
    return sorted(counts, key=config.label_order)


def label_counts(args, train_size: int) -> tuple[list, list | None, list]:
    """(--labels' counts, --pretext-labels' or None, every count either gives), from a
    transfer command's arguments."""
    counts = parse_counts(args.labels, train_size)
    others = None
    if args.pretext_labels is not None:
        others = parse_counts(args.pretext_labels, train_size, "--pretext-labels")
    return counts, others, sorted({*counts, *(others or [])}, key=config.label_order)


def parse_recipes(text: str) -> list[str]:
    """ "joint,two_phase" -> the recipes of the jointly trained cases (frozen ones have one)."""
    from kfashion.core.errors import UserError

    names = [p.strip() for p in text.split(",") if p.strip()]
    joint = [name for name in config.RECIPES if 1 in config.RECIPES[name].cases]
    if not names or not set(names) <= set(joint):
        raise UserError(f"--recipes {text!r}: give some of {', '.join(joint)}")
    return [name for name in joint if name in names]


def recipes_of(case: int, recipes: list[str]) -> list[str]:
    """The recipes case `case` trains with: those of `recipes` it has (`Recipe.cases`), or,
    with none of them, the first of its own (the frozen cases': "frozen"; the augmented
    one's: "joint", its augmentation being on images, not on the codes a head phase reads)."""
    own = [name for name in config.RECIPES if case in config.RECIPES[name].cases]
    return [name for name in recipes if name in own] or own[:1]


def draws(counts, text: str | None) -> dict:
    """label count -> its fine-tuning seeds 0, 1, ... (draws of labels), from --seeds: one
    number for every count ("3"), or a number per count ("100:15,1000:9,all:8", a count between
    two taking the lower one's); None: config.DRAWS.

    Raises:
        UserError: the text is neither.
    """
    from kfashion.core.errors import UserError

    hint = "give a number of draws, e.g. --seeds 3, or one per label count, e.g. 100:15,all:8"
    table = config.DRAWS
    if text is not None and text.strip().isdigit() and int(text) >= 1:
        return {c: list(range(int(text))) for c in counts}
    if text is not None:
        try:
            pairs = [part.split(":") for part in text.split(",")]
            table = {(k.strip() if k.strip() == ALL else int(k)): int(v) for k, v in pairs}
        except ValueError:
            raise UserError(f"--seeds {text}: {hint}") from None
        if min(table.values()) < 1 or ALL not in table or len(table) < 2:
            raise UserError(f"--seeds {text}: at least 1 each, for a count and all; {hint}")
    return {c: list(range(config.by_count(table, c))) for c in counts}


def plan(networks, counts, cases, recipes, encoder_seeds, seeds, random_inits, pretext_counts=None):
    """Every cell of the grid: the choice cells first, then the final cells, in order.

    Args:
        networks: the encoder networks' names.
        counts: label counts (`parse_counts`).
        cases, recipes: the cases, and the recipes the jointly trained ones choose among.
        encoder_seeds: the pretraining seeds of each network's encoders.
        seeds: label count -> its fine-tuning seeds (label draws, `draws`), every
            pretraining seed's and the random cases' alike.
        random_inits: initialisations of each draw of a random case.
        pretext_counts: the label counts of the networks another pretext than
            reconstruction pretrained, and of the augmentation control that is compared with
            them (None: `counts`); a random encoder runs at every count either gives.
    """
    others = counts if pretext_counts is None else pretext_counts
    every = sorted(set(counts) | set(others), key=config.label_order)

    def runs_at(network: str, case: int) -> list:
        if CASES[case].augmented or (
            CASES[case].pretrained and config.pretext_of(network) != config.PRETEXT
        ):
            return others
        return counts if CASES[case].pretrained else every

    choices, final = [], []
    arms = random_arms(networks)
    for network in networks:
        for labels in every:
            mine = seeds[labels]
            on = [(seed,) for seed in mine] if labels != ALL else [()]  # a choice's draw
            for case in cases:
                pretrained = CASES[case].pretrained
                if not pretrained and arms[network] != network:
                    continue  # compared with an earlier network's random encoders
                if labels not in runs_at(network, case):
                    continue
                first = encoder_seeds[0] if pretrained else -1
                among = ",".join(recipes_of(case, recipes))
                choices += [Cell(network, labels, case, among, first, draw, True) for draw in on]
                inits = 1 if pretrained else random_inits
                for start in encoder_seeds if pretrained else [-1]:
                    final += [
                        Cell(network, labels, case, None, start, draw or tuple(mine), False,
                             inits=inits)
                        for draw in on
                    ]  # fmt: skip
    return choices + final


def random_arms(networks) -> dict:
    """network -> the network whose random cases it is compared with: the first of `networks`
    of its architecture. A random encoder is the same network whatever pretrained the others of
    that architecture, so one random arm serves every pretext's encoder."""
    first = {}
    for network in networks:
        first.setdefault(config.architecture_of(network), network)
    return {network: first[config.architecture_of(network)] for network in networks}


def candidates(recipes: list[str]) -> list[tuple[str, float]]:
    """A choice's starting candidates: (recipe, rate) for each of `recipes` and each of its
    starting rates (`Recipe.rates`), in the order they train."""
    return [(recipe, rate) for recipe in recipes for rate in config.RECIPES[recipe].rates]


def least_runs(cell: Cell) -> int:
    """The runs a cell trains at least: a choice cell's candidates on each fold (more where
    one reaches an edge), a final cell's runs."""
    return cell.folds * len(candidates(cell.recipes)) if cell.search else len(cell.runs)


def next_rate(recipe: str, scores: dict) -> float | None:
    """The next rate of `recipe`'s ladder to try, given `scores` (rate -> mean held-out
    accuracy of those tried): the one beyond the best where the best is the lowest or highest
    tried and beats its neighbour (a tie is no sign of a better rate further on); None where
    it is inside them, or the ladder ends there."""
    ladder, tried = config.RECIPES[recipe].ladder, sorted(scores)
    best = best_candidate({(recipe, rate): score for rate, score in scores.items()})[1]
    index = ladder.index(best)
    if len(tried) < 2:
        return None
    if best == tried[0] and scores[best] > scores[tried[1]] and index > 0:
        beyond = ladder[index - 1]
    elif best == tried[-1] and scores[best] > scores[tried[-2]] and index + 1 < len(ladder):
        beyond = ladder[index + 1]
    else:
        return None
    return None if beyond in scores else beyond


def best_candidate(scores: dict) -> tuple:
    """The (recipe, rate) of `scores` ((recipe, rate) -> score) with the highest score; a tie
    goes to the recipe first in config.RECIPES, then the lower rate."""
    order = list(config.RECIPES)
    return max(scores, key=lambda c: (scores[c], -order.index(c[0]), -c[1]))


def ties(scores: dict) -> list:
    """The candidates that tie with the best (the best among them), if any."""
    best = scores[best_candidate(scores)]
    tied = [list(c) for c in scores if scores[c] == best]
    return tied if len(tied) > 1 else []


def is_main(cell: Cell, network: str, encoder_seed: int) -> bool:
    """Whether a final cell is one of the classic four-case comparison's (grid.json's
    "classic"): the first network on all labels, the first pretraining seed (not the
    augmentation control)."""
    return (
        not cell.search
        and not CASES[cell.case].augmented
        and (cell.network, cell.labels) == (network, ALL)
        and cell.encoder_seed == (encoder_seed if CASES[cell.case].pretrained else -1)
    )
