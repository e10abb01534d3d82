"""Support for FaceGate's tests and benchmarks: where the shared test data is, and the presentation-attack
renderer. Not part of the app and not in its wheel (pyproject.toml ships only the `facegate` package)."""
