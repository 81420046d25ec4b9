"""Storage: tables, database engines, the content-addressed file store."""
