"""The development app secret: with no WABOT_APP_SECRET, webhooks are still signed and checked,
with a random secret kept in a file that `wabot chat` reads too."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Mapping


def dev_secret_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "wabot" / "dev-app-secret"


def load_or_create(path: Path) -> str:
    """The secret in `path`, creating the file (mode 0600) with a new random one if it is missing."""
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret


def read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
