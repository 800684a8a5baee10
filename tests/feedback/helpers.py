"""What the feedback tests share: the scopes of a feedback token, the default types."""

from betas.config import DEFAULT_FEEDBACK_TYPES

READ_WRITE = ("feedback:read", "feedback:write")
TYPES = DEFAULT_FEEDBACK_TYPES
