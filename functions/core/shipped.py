"""Where the configuration shipped with the code lives.

`config/`, `ladders/` and `templates/` sit beside `functions/`, in the repository and in the
Lambda asset alike, so one path derived from this file serves both.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED_ROOT = Path(__file__).resolve().parents[2]
