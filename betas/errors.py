"""Domain errors: raised by services, shown by the HTML pages and mapped to JSON by the API."""

from __future__ import annotations


class DomainError(Exception):
    """A request that the rules refuse; `code` names the rule for the API."""

    code = "refused"
    status = 409

    def __init__(self, message: str, details: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(DomainError):
    """The named object does not exist."""

    code = "not_found"
    status = 404


class Forbidden(DomainError):
    """The user's role does not allow this."""

    code = "forbidden"
    status = 403


class Invalid(DomainError):
    """A value breaks a rule that the form or schema could not check alone."""

    code = "validation_failed"
    status = 422


class Conflict(DomainError):
    """The change clashes with what exists (a taken key, a fixed field)."""

    code = "conflict"


class LaunchRefused(DomainError):
    """The beta is not framed well enough to take customers; details list what is missing."""

    code = "launch_refused"


class ExtensionRefused(DomainError):
    """The deadline cannot be extended (limit reached, or the beta is not running)."""

    code = "extension_refused"


class BetaNotRunning(DomainError):
    """Accounts join only a running beta."""

    code = "beta_not_running"


class BetaOverdue(DomainError):
    """An overdue beta cannot grow until it is decided or extended."""

    code = "beta_overdue"


class BlockersOpen(DomainError):
    """A ship is refused while a blocker is open, unless each is waived with a reason.

    The details name each item left unwaived: the open blockers, and the metrics never measured.
    """

    code = "blockers_open"


class NotMeasured(DomainError):
    """A ship is refused while a metric has never been measured, unless each is waived."""

    code = "not_measured"
