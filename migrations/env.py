"""Alembic environment: every package's models, one history, batch mode for SQLite."""

from alembic import context

import betas.models  # noqa: F401 - registers the tables
import cohorts.models  # noqa: F401 - registers the tables
import feedback.models  # noqa: F401 - registers the tables
import usage.models  # noqa: F401 - registers the tables
from betas.db import Base, create_db_engine, include_in_schema_compare

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Write the SQL for the migrations without a database."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate the database: the connection a test passes in, or the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_db_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _migrate(connection)
    engine.dispose()


def _migrate(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=include_in_schema_compare,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
