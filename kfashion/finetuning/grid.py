"""The transfer stage as a grid of runs: what a run is, which runs the grid holds, and how the
recipe search's validation numbers choose each cell's learning rate. No framework is imported.

A run is one point: the encoder network ("course", "linear_code"), the encoder's pretraining
seed (for the pretrained cases 1 and 2; a random encoder has none), the recipe, the case, the
label count and the fine-tuning seed. A cell is a run without its fine-tuning seed; each cell
is one KerasTuner trial, whose executions are its fine-tuning seeds
(`kfashion.finetuning.grid_tuner`).

Each cell's learning rate is chosen on validation first, by the rule in SEARCH_RULE below
(grid.json records its words: a docstring's edit changes no results file).
"""

import dataclasses

from kfashion import config
from kfashion.config import CASES, NUM_CLASSES

ALL = "all"
# The fewest labels a run may have: a search's held-out fifth holds every class.
FEWEST_LABELS = config.HELD_OUT * NUM_CLASSES

# How each cell's learning rate is chosen, in the words grid.json records.
SEARCH_RULE = (
    "Every cell's learning rate is chosen on validation first: for each (network, label "
    "count, case, recipe) every candidate rate of the recipe trains `search_seeds` runs from "
    "the first pretraining seed (fine-tuning seeds of their own, from SEARCH_SEEDS_FROM), "
    "scored on validation only; the rate with the highest mean validation accuracy is the "
    "cell's. A run on all labels validates on the validation split and keeps its best epoch. "
    "A few-label run has no labelled validation set bigger than its training set: a search "
    "run draws N labelled images as a final run does, trains on four fifths of them and "
    "validates on the other fifth (stratified), scoring the last epoch; the final runs train "
    "on all N of theirs and keep the last epoch. So every run on N labels sees N labels, and "
    "no test number chooses anything. "  # (the space: as the reference's grid.json has it)
)


def labels_text(labels: str) -> str:
    """ "all labels", "1,000 labels" """
    return "all labels" if labels == ALL else f"{int(labels):,} labels"


def encoder_text(encoder_seed: int) -> str:
    """ "random", "pretraining seed 2" """
    return "random" if encoder_seed < 0 else f"pretraining seed {encoder_seed}"


@dataclasses.dataclass(frozen=True)
class Cell:
    """A run without its fine-tuning seed: one KerasTuner trial, whose executions are `seeds`.

    `encoder_seed` is -1 for a random encoder. `rate` is None in a final cell until the search
    has chosen it.
    """

    network: str
    labels: str  # a count, or "all"
    case: int
    recipe: str
    encoder_seed: int
    seeds: tuple
    search: bool
    rate: float | None = None

    @property
    def group(self) -> tuple:
        """The cells whose learning rate one search chooses: (network, labels, case, recipe)."""
        return self.network, self.labels, self.case, self.recipe

    def describe(self) -> str:
        """The cell in words, for a message about it."""
        rate = "" if self.rate is None else f" at lr {self.rate:g}"
        search = " (search)" if self.search else ""
        where = f"{self.network}, {labels_text(self.labels)}, case {self.case}"
        return f"{where}, {self.recipe}{rate}{search}, {encoder_text(self.encoder_seed)}"

    def values(self) -> dict:
        """The cell as KerasTuner hyperparameter values (str, int, float and bool only)."""
        out = dataclasses.asdict(self)
        out["seeds"] = ",".join(map(str, self.seeds))
        return out

    @classmethod
    def from_values(cls, values: dict) -> "Cell":
        fields = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in values.items() if k in fields}
        kept["seeds"] = tuple(int(s) for s in str(kept["seeds"]).split(","))
        return cls(**kept)


def most_labels(train_size: int) -> int:
    """The largest label count a training split of `train_size` images holds: a stratified
    sample leaves each class some images."""
    return train_size - NUM_CLASSES


def parse_counts(text: str, train_size: int) -> list[str]:
    """ "100,1000,all" -> ["100", "1000", "all"], sorted, each count from FEWEST_LABELS to
    NUM_CLASSES below the train size."""
    from kfashion.core.errors import UserError

    counts = set()
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == ALL:
            counts.add(ALL)
            continue
        count = int(part) if part.isdigit() else -1
        most = most_labels(train_size)
        if not FEWEST_LABELS <= count <= most:
            raise UserError(
                f"--labels {text!r}: give counts from {FEWEST_LABELS} to {most} "
                "and/or 'all', e.g. --labels 100,1000,all"
            )
        counts.add(str(count))
    if not counts:
        raise UserError(f"--labels {text!r}: give at least one count, e.g. --labels 100,1000,all")
    return sorted(counts, key=lambda c: (c == ALL, int(c) if c != ALL else 0))


def parse_recipes(text: str) -> list[str]:
    """ "joint,two_phase" -> the recipes of the jointly trained cases (frozen ones have one)."""
    from kfashion.core.errors import UserError

    names = [p.strip() for p in text.split(",") if p.strip()]
    joint = [name for name in config.RECIPES if config.RECIPES[name].cases == (1, 3)]
    if not names or not set(names) <= set(joint):
        raise UserError(f"--recipes {text!r}: give some of {', '.join(joint)}")
    return [name for name in joint if name in names]


def recipes_of(case: int, recipes: list[str]) -> list[str]:
    """The recipes case `case` trains with: the frozen cases' own, or those asked for."""
    return ["frozen"] if not CASES[case].train_encoder else recipes


def plan(networks, counts, cases, recipes, encoder_seeds, seeds, nested_seeds, search_seeds):
    """Every cell of the grid: the search cells first, then the final cells, in order.

    Args:
        networks: the encoder networks' names.
        counts: label counts (`parse_counts`).
        cases, recipes: the cases, and the recipes of the jointly trained ones.
        encoder_seeds: the pretraining seeds of each network's encoders.
        seeds: fine-tuning seeds of the random cases and of the first pretraining seed.
        nested_seeds: fine-tuning seeds of every other pretraining seed.
        search_seeds: how many runs each candidate rate has in the search (seeds from
            config.SEARCH_SEEDS_FROM).
    """
    searched = tuple(range(config.SEARCH_SEEDS_FROM, config.SEARCH_SEEDS_FROM + search_seeds))
    search, final = [], []
    for network in networks:
        for labels in counts:
            for case in cases:
                pretrained = CASES[case].pretrained
                for recipe in recipes_of(case, recipes):
                    first = encoder_seeds[0] if pretrained else -1
                    if len(config.RECIPES[recipe].rates) > 1:
                        search += [
                            Cell(network, labels, case, recipe, first, searched, True, r)
                            for r in config.RECIPES[recipe].rates
                        ]
                    for encoder_seed in encoder_seeds if pretrained else [-1]:
                        mine = tuple(seeds if encoder_seed == first else nested_seeds)
                        final.append(Cell(network, labels, case, recipe, encoder_seed, mine, False))
    return search + final


def group_of(record: dict) -> tuple:
    """A run record's search group: (network, labels, case, recipe), as `Cell.group`."""
    return record["network"], record["labels"], record["case"], record["recipe"]


def group_key(group: tuple) -> str:
    """A search group (network, labels, case, recipe) as one string: "course|100|1|joint"."""
    return "|".join(map(str, group))


def choose_rate(group: tuple, scored: dict) -> float | None:
    """The learning rate of a group's final cells: its recipe's only rate, or the candidate
    with the highest validation score (`scored`: rate -> mean validation accuracy of its
    search runs); None until every candidate is scored."""
    rates = config.RECIPES[group[3]].rates
    if len(rates) == 1:
        return rates[0]
    if any(scored.get(rate) is None for rate in rates):
        return None
    return max(rates, key=lambda rate: scored[rate])  # ties: the first, the lower rate


def is_main(cell: Cell, network: str, recipes: list[str], encoder_seed: int) -> bool:
    """Whether a final cell is one of the classic four-case comparison's (transfer.json): the
    first network on all labels, the first recipe, the first pretraining seed."""
    return (
        not cell.search
        and (cell.network, cell.labels) == (network, ALL)
        and cell.recipe == recipes_of(cell.case, recipes)[0]
        and cell.encoder_seed == (encoder_seed if CASES[cell.case].pretrained else -1)
    )
