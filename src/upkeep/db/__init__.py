"""The store: SQLAlchemy engine, table definitions and schema migrations."""
