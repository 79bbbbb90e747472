"""The transfer grid: its cells, its KerasTuner parts, each case's training, its results."""
