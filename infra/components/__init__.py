"""One construct per capability of the Rung stack (named `components`, not `constructs`, so that
running `python infra/app.py` never shadows the `constructs` library)."""
