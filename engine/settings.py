"""Engine settings from the environment (see ``config/dunning.env.example``).

Only the edges (CLI, dashboard) read settings; the core and the service take values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Embedded default: a SQLite file under ``var/`` of the working directory.
DEFAULT_DATABASE_URL = "sqlite:///var/dunning.sqlite3"
#: Environment variable with the URL that receives each promotion decision as JSON.
WEBHOOK_ENV = "DUNNING_WEBHOOK_URL"
#: Environment variable naming a folder router model files may also be read from (besides
#: the experiment file's own folder).
MODELS_DIR_ENV = "DUNNING_MODELS_DIR"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    experiments_dir: str = "experiments"
    webhook_url: str | None = None
    models_dir: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """``DATABASE_URL``, ``DUNNING_EXPERIMENTS_DIR``, ``DUNNING_WEBHOOK_URL`` (where
        each promotion decision is posted as JSON; unset: no webhook) and
        ``DUNNING_MODELS_DIR`` (router models outside the experiments' folders)."""
        return cls(
            database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            experiments_dir=os.environ.get("DUNNING_EXPERIMENTS_DIR") or "experiments",
            webhook_url=os.environ.get(WEBHOOK_ENV) or None,
            models_dir=os.environ.get(MODELS_DIR_ENV) or None,
        )

    @property
    def model_dirs(self) -> tuple[Path, ...]:
        """Folders router model files may be read from besides the experiment's own."""
        return (Path(self.models_dir),) if self.models_dir else ()
