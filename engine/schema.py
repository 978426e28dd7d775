"""The JSON Schema of the experiment language, for editors and other tools.

Generated from the pydantic models, so it cannot drift from what the loader accepts; the copy in
``docs/experiment.schema.json`` is checked against it by the tests. Cross-field rules (one
champion, weights that sum to one, ...) cannot be expressed in JSON Schema: ``dunning validate``
remains the authority, the schema gives completion and inline type errors while typing.
"""

from __future__ import annotations

import json
from typing import Any

from engine.config import Experiment

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_TITLE = "Dunning experiment"
#: Where the shipped experiments find the schema, relative to the experiments/ folder.
SCHEMA_RELATIVE_PATH = "../docs/experiment.schema.json"
#: The comment that turns on completion and inline errors in editors using yaml-language-server
#: (VS Code's YAML extension, Neovim, Helix, ...).
EDITOR_COMMENT = f"# yaml-language-server: $schema={SCHEMA_RELATIVE_PATH}"


def experiment_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one experiment file."""
    schema = Experiment.model_json_schema(mode="validation")
    return {
        "$schema": SCHEMA_DIALECT,
        "title": SCHEMA_TITLE,
        "description": (
            "One champion/challenger experiment of the dunning engine. Validate with "
            "`dunning validate FILE`, which also checks the cross-field rules."
        ),
        **{k: v for k, v in schema.items() if k not in {"title", "description"}},
    }


def schema_text() -> str:
    """The schema as stable, pretty-printed JSON text (ends with a newline)."""
    return json.dumps(experiment_json_schema(), indent=2, sort_keys=True) + "\n"
