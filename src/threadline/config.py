"""Settings read from the environment (``THREADLINE_*``).

Nothing here opens a connection; callers turn settings into a store with
:func:`threadline.store.open_store`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from threadline.errors import InvalidInput

DEFAULT_DB = "threadline.db"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value else default


@dataclass(frozen=True)
class Settings:
    """Runtime settings; build with :meth:`from_env` so tests can pass their own."""

    db: str = DEFAULT_DB
    batch_size: int = 5000

    @classmethod
    def from_env(cls, *, db: str | None = None) -> Settings:
        """Settings from ``THREADLINE_DB`` and friends; an explicit ``db`` wins over the env."""
        raw_batch = _env("THREADLINE_BATCH_SIZE", "5000")
        if not raw_batch.isdigit() or int(raw_batch) < 1:
            raise InvalidInput(
                f"THREADLINE_BATCH_SIZE must be a positive integer, got {raw_batch!r}"
            )
        return cls(db=db or _env("THREADLINE_DB", DEFAULT_DB), batch_size=int(raw_batch))
