"""Alembic migrations of the service's schema (run by `wan-i2v db upgrade` and on `serve`)."""
