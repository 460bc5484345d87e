"""Reading the patrol package's YAML files (site, teams, policy) with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from patrol.errors import PatrolError


def read_yaml(path: Path, what: str) -> Any:
    """The parsed content of `path`; a missing or malformed file is a PatrolError naming it and `what` it
    is."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PatrolError(f"{path}: {what} file not found") from None
    except yaml.YAMLError as exc:
        raise PatrolError(f"{path}: not valid YAML: {exc}") from None
