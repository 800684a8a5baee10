"""Fixtures for usage events: a token that may send them, and sending a batch."""

import pytest

from tests.usage.sending import EVENTS, WRITE


@pytest.fixture
def headers(bearer):
    """Return Authorization headers of a token with only the events:write scope."""
    return bearer(scopes=WRITE)


@pytest.fixture
def send(client, headers):
    """POST a batch of events with the events token; return the response."""

    def post(*events, **kwargs):
        return client.post(EVENTS, json={"events": list(events)}, headers=headers, **kwargs)

    return post
