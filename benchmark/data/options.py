"""How a dataset is loaded, beyond its name and data root: the options its loader may read.

Each loader reads the fields that apply to it and ignores the rest. ``workers`` and
``model_dir`` say how and from where data is read, never what it is, so they are not part of
a run's config (like the data root); the others change the data and are.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """``workers``: loader processes for datasets read from disk (0 = in the training process).
    ``model_dir``: a local tokenizer (and model) directory, for text datasets.
    ``max_length``: tokens per sentence after truncation, for text datasets.
    ``classes`` / ``per_class``: use only the first ``classes`` classes (sorted by name) and
    the first ``per_class`` train images of each (sorted by file name); None = all."""

    workers: int = 0
    model_dir: str | None = None
    max_length: int = 128
    classes: int | None = None
    per_class: int | None = None

    LOCATION_ONLY = ("workers", "model_dir")  # how and where, not what: not in the run's config

    def to_dict(self) -> dict[str, Any]:
        """The fields that decide the data (what a run's config records)."""
        d = dataclasses.asdict(self)
        return {k: v for k, v in d.items() if k not in self.LOCATION_ONLY}
