"""What beta customers said: the log, codified, and the spreadsheet that mirrors it.

Importing the package registers the outbox's session event (`outbox`), which queues every
create or change of a feedback item for its beta's sheet in the same transaction.
"""

from feedback import outbox  # noqa: F401  (registers the session event)
