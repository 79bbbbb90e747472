import gc
import os

import keras
import pytest

from kfashion import data

# As `kfashion.core.quiet_keras.load_keras` does for every command (without its changes to the
# environment, which the commands a test starts must make themselves): the framework's objects
# frozen out of the garbage collector's scans. A test process holds many models, and each Holm
# correction (statsmodels) calls gc.collect().
gc.freeze()

# The longest files first: the README's main clone and the JAX backend's programs to a
# process each, then the quick look's clone to the first that frees up, then the others.
LONGEST = ("test_readme.py", "test_jax.py", "test_readme_quick.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        return LONGEST.index(item.path.name) if item.path.name in LONGEST else len(LONGEST)

    items.sort(key=rank)  # stable: each file's tests keep their order


@pytest.fixture(autouse=True)
def seed_everything():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def debian_data_dir():
    """The real files from Debian's dataset-fashion-mnist; CI must have them, others may skip."""
    if not all((data.DEBIAN_DIR / name).is_file() for name, _, _ in data.FILES.values()):
        message = f"real data missing: apt-get install dataset-fashion-mnist ({data.DEBIAN_DIR})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return data.DEBIAN_DIR
