"""Engine settings from the environment (see ``config/dunning.env.example``).

Only the edges (CLI, dashboard) read settings; the core and the service take values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Embedded default: a SQLite file under ``var/`` of the working directory.
DEFAULT_DATABASE_URL = "sqlite:///var/dunning.sqlite3"
#: Environment variable with the URL that receives each promotion decision as JSON.
WEBHOOK_ENV = "DUNNING_WEBHOOK_URL"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    experiments_dir: str = "experiments"
    webhook_url: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """``DATABASE_URL``, ``DUNNING_EXPERIMENTS_DIR`` and ``DUNNING_WEBHOOK_URL`` (where
        each promotion decision is posted as JSON; unset: no webhook)."""
        return cls(
            database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            experiments_dir=os.environ.get("DUNNING_EXPERIMENTS_DIR") or "experiments",
            webhook_url=os.environ.get(WEBHOOK_ENV) or None,
        )
