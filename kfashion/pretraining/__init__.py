"""The sweep's KerasTuner parts and what a finished sweep exports."""
