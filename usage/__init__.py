"""Usage events: what the product says its accounts did, stored once, rolled up by day, measured.

The package owns the events the product sends (`POST /api/v1/events`, `usage import-events`),
their kinds (action, object, place), and the per-account, per-kind, per-day rollup that success
metrics are computed from, kept in step as events arrive and rebuilt on demand (`usage rebuild`).

- `models`: EventKind, UsageEvent, UsageDay;
- `events`: checking a batch of events, ingesting it once (idempotent by the sender's ids), and
  importing a JSON Lines file of them;
- `rollup`: adding new events to the per-day rollup (each day split where its account joined a
  beta), and rebuilding it from the raw events;
- `join_days`: splitting an account's day when a membership gets its join time (a session
  event, registered here, when the package is imported);
- `rules`: which event kinds a metric's rule matches, and does a membership meet it;
- `values`: metric values per cohort per day against their targets, from the rollup;
- `charts`: a metric's chart as SVG; `instrumentation`: the event kinds the members sent;
- `api`, `cli`, `views`: the doors (the events and values API, the commands, the Metrics and
  Instrumentation pages).
"""

from usage import join_days  # noqa: F401  (registers the session event)
