"""Fixtures of the betas tests: the settings the reminders are sent with."""

from dataclasses import replace

import pytest


@pytest.fixture
def settings(app):
    """Return the app's settings with the given changes (an SMTP URL, a zone)."""

    def make(**changes):
        return replace(app.config["SHIPCALL"], base_url="https://shipcall.example.com", **changes)

    return make
