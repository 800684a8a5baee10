"""The Alembic history: it builds exactly the models' schema, and every step can be undone."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import betas.models  # noqa: F401 - registers the tables
import cohorts.models  # noqa: F401 - registers the tables
import feedback.models  # noqa: F401 - registers the tables
import usage.models  # noqa: F401 - registers the tables
from betas.db import Base, alembic_config, create_db_engine, include_in_schema_compare


def current_heads(url: str) -> tuple[str, ...]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrading_an_empty_database_to_head_gives_exactly_the_models_schema(
    scratch_database_url,
):
    command.upgrade(alembic_config(scratch_database_url), "head")

    engine = create_db_engine(scratch_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "include_object": include_in_schema_compare},
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
    mapped = {
        n
        for n in table_names(scratch_database_url)
        if include_in_schema_compare(None, n, "table", True, None)
    }
    assert mapped == set(Base.metadata.tables) | {"alembic_version"}


def test_every_revision_goes_down_and_up_again_and_base_leaves_no_tables(scratch_database_url):
    config = alembic_config(scratch_database_url)
    revisions = list(reversed(list(ScriptDirectory.from_config(config).walk_revisions())))
    assert revisions, "the history has no revisions"

    for script in revisions:
        command.upgrade(config, script.revision)
        assert current_heads(scratch_database_url) == (script.revision,)
        below = script.down_revision or "base"
        command.downgrade(config, below)
        assert current_heads(scratch_database_url) == (() if below == "base" else (below,))
        command.upgrade(config, script.revision)
        assert current_heads(scratch_database_url) == (script.revision,), script.revision

    command.downgrade(config, "base")
    assert current_heads(scratch_database_url) == ()
    assert table_names(scratch_database_url) == {"alembic_version"}
