"""The report's sections, figures and model cards."""
