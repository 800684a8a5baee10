"""Uploads: kept private under random names, forgotten after a day."""

from __future__ import annotations

import io
import os
import stat
import time

import pytest

from cohorts import importing


def test_uploads_are_private_random_and_forgotten_after_a_day(tmp_path):
    uploads = importing.Uploads(tmp_path / "imports")
    upload_id = uploads.save(io.BytesIO(b"id\nacme\n"))
    path = tmp_path / "imports" / upload_id
    assert len(upload_id) == 32 and upload_id != uploads.save(io.BytesIO(b""))
    assert stat.S_IMODE(os.stat(tmp_path / "imports").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with uploads.open(upload_id) as stream:
        assert stream.read() == b"id\nacme\n"
    with pytest.raises(importing.UploadGone):
        uploads.open("../../etc/passwd")
    uploads.sweep(now=time.time() + 3600)
    assert path.exists()
    uploads.sweep(now=time.time() + 25 * 3600)
    assert not path.exists()
    with pytest.raises(importing.UploadGone):
        uploads.open(upload_id)
