"""Writing a file so that a reader never sees half of it and a failed write loses nothing: a temporary file in the
same folder, then a rename over the destination (atomic on one file system). And where the user's folders are."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes | str, mode: int | None = None) -> Path:
    """``data`` (text is written as UTF-8) at ``path``, with permissions ``mode`` when given; raises ``OSError``
    with nothing left behind when it cannot."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def xdg_dir(variable: str, default: str, env=os.environ) -> Path:
    """A freedesktop.org base directory: ``$VARIABLE`` when it is an absolute path (the spec ignores relative
    ones), else ``$HOME/DEFAULT`` (e.g. ``XDG_CACHE_HOME``, ``.cache``)."""
    value = env.get(variable, "")
    return Path(value) if value and os.path.isabs(value) else Path(env.get("HOME") or Path.home()) / default
