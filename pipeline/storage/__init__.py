"""Storage: tables, database engines, the content-addressed file store.

The schema is every table of this package: `models`, and the processing attempts (crash
counting) in `attempts`, imported here so that whoever imports any storage module has
them all in `SQLModel.metadata` (creating the schema, migrations).
"""

from pipeline.storage import attempts as _attempts  # noqa: F401
