"""Alembic environment for kallithead.

kallithead runs migrations itself (see kallithead.db.migrate): it passes an
open connection in ``config.attributes["connection"]``. The URL form is kept
for alembic's own command line, used when writing a new migration.
"""

from alembic import context

from kallithead.db.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def run_with(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run_with(connection)
else:
    from kallithead.db.pool import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        run_with(conn)
