"""The store under test: ``store_url`` and ``store`` come from the root conftest (a
SQLite file, and PostgreSQL with a database of its own)."""
