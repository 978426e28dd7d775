"""Storage: SQLModel tables, engine and sessions, and aggregations done in SQL."""
