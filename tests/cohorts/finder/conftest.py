"""The beta the finder's tests search for."""

import pytest

from betas.models import BetaState


@pytest.fixture
def beta(make_beta):
    return make_beta(state=BetaState.RUNNING)
