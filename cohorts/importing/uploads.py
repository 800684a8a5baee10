"""Keep uploaded files between the preview and the import.

Files sit in a private folder of the app's instance, under random names, readable by their owner
only, and are removed after a day.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from betas.errors import NotFound

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class UploadGone(NotFound):
    """The uploaded file is not kept any more (imported, or older than a day)."""


class Uploads:
    """Uploaded files in a private folder: random names, owner-only, removed after a day."""

    def __init__(self, folder: Path, max_age: timedelta = timedelta(days=1)):
        self.folder = folder
        self.max_age = max_age

    @classmethod
    def in_instance(cls, instance_path: str | Path) -> Uploads:
        """Return the uploads kept in the app's instance folder."""
        return cls(Path(instance_path) / "imports")

    def save(self, stream: BinaryIO) -> str:
        """Keep a copy of the stream; return the random id that names it."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self.sweep()
        upload_id = secrets.token_hex(16)
        descriptor = os.open(self._path(upload_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        return upload_id

    def open(self, upload_id: str) -> BinaryIO:
        """Open a kept file for reading; refuse an id that names no kept file."""
        try:
            return self._path(upload_id).open("rb")
        except (FileNotFoundError, ValueError):
            raise UploadGone(
                "The uploaded file is not kept any more (files are kept for a day): "
                "upload it again."
            ) from None

    def remove(self, upload_id: str) -> None:
        """Forget a kept file."""
        self._path(upload_id).unlink(missing_ok=True)

    def sweep(self, now: float | None = None) -> None:
        """Remove kept files older than `max_age`."""
        limit = (now or time.time()) - self.max_age.total_seconds()
        for path in self.folder.glob("*"):
            if _UPLOAD_ID.fullmatch(path.name) and path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)

    def _path(self, upload_id: str) -> Path:
        # The id comes back from a form: accept only what save() makes, never a path.
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise ValueError("not an upload id")
        return self.folder / upload_id
