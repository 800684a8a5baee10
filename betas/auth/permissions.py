"""Who may change what: PMs frame betas and change their own, admins change any."""

from __future__ import annotations

from betas.errors import Forbidden
from betas.models import Beta, Role, User

# The roles that frame betas and may own them.
EDITORS = (Role.PM, Role.ADMIN)


def can_frame(user: User) -> bool:
    """Tell whether the user may create betas."""
    return user.role in EDITORS


def can_edit(user: User, beta: Beta) -> bool:
    """Tell whether the user may change this beta: its owner (a PM), or any admin."""
    return user.role == Role.ADMIN or (user.role == Role.PM and beta.owner_id == user.id)


def require_edit(user: User, beta: Beta) -> None:
    """Raise Forbidden unless the user may change the beta."""
    if not can_edit(user, beta):
        raise Forbidden("Only the beta's owner or an admin can change it.")
