"""Alembic environment: run by `Database.migrate()` (bot/db.py) on the connection it passes in."""
from alembic import context

from bot.db import Base, import_models

import_models()
context.configure(connection=context.config.attributes["connection"], target_metadata=Base.metadata,
                  render_as_batch=True)  # SQLite alters tables by copying them; batch mode does that
with context.begin_transaction():
    context.run_migrations()
