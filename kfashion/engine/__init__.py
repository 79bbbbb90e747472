"""How models train: callbacks, the compiled JAX path, KerasTuner's distributed mode."""
