"""Intake's data is its own (issue 12, point 6b).

The database holds the desk's password hashes and every delegation's statements before
they are published; the store holds the original mails. Other users of the machine must
read none of it: files are created 0600 and folders 0700, whatever the umask of whoever
starts Intake.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from pipeline.demo import samples
from pipeline.storage.blobs import BlobStore
from pipeline.storage.db import init_schema, make_engine
from tests.conftest import SUBMISSIONS, Intake, ny
from tests.helpers.runs import resume, start_run, wait_until_frozen

ON_TIME = ny(2021, 5, 20, 10, 0)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_its_wal_and_the_stored_files_are_for_intake_alone(intake: Intake) -> None:
    """GIVEN an operator whose umask is 022 WHEN `intake run-once` files a message (frozen
    just after the commit, its SQLite connections open) THEN intake.db, intake.db-wal,
    intake.db-shm, the drain lock and every stored file are 0600, and every folder
    Intake made is 0700."""
    data = intake.tmp_path / "data"
    database = data / "intake.db"
    sqlite = intake.settings.database_url.startswith("sqlite")
    changes: dict[str, Any] = {"database": {"url": f"sqlite:///{database}"}} if sqlite else {}
    config = intake.write_config(**changes)
    intake.deliver(
        samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS),
        at=ON_TIME,
    )
    previous = os.umask(0o022)
    try:
        run = start_run(config, "stop:after_commit")
    finally:
        os.umask(previous)
    try:
        wait_until_frozen(run)
        folders = [data, *(p for p in data.rglob("*") if p.is_dir())]
        files = [p for p in data.rglob("*") if p.is_file()]
        names = {p.name for p in files}
        if sqlite:
            assert {"intake.db", "intake.db-wal", "intake.db-shm"} <= names
            assert any(name.endswith(".lock") for name in names)
        stored = [p for p in files if p.parent.parent.parent == data / "files"]
        assert len(stored) >= 3  # the mail, the statement, the cover letter
        assert {str(p.relative_to(data)): oct(mode(p)) for p in folders} == {
            str(p.relative_to(data)): oct(0o700) for p in folders
        }
        assert {str(p.relative_to(data)): oct(mode(p)) for p in files} == {
            str(p.relative_to(data)): oct(0o600) for p in files
        }
    finally:
        out, err = resume(run)
    assert run.returncode == 0, err
    assert "1 waiting" in out


def test_the_storage_code_makes_them_private_whatever_the_umask(tmp_path: Path) -> None:
    """The same modes from the code that makes the files, for callers that are not the
    `intake` command (a library user, a test): a database and a stored file, with the
    umask 022, in folders that do not exist yet."""
    previous = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'data' / 'intake.db'}")
        try:
            init_schema(engine)
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
                wal = [p.name for p in (tmp_path / "new" / "data").iterdir()]
                modes = {p.name: mode(p) for p in (tmp_path / "new" / "data").iterdir()}
        finally:
            engine.dispose()
        store = BlobStore(tmp_path / "store" / "files")
        digest = store.put(b"a delegation's statement")
    finally:
        os.umask(previous)

    assert {"intake.db", "intake.db-wal", "intake.db-shm"} <= set(wal)
    assert {name: oct(value) for name, value in modes.items()} == {
        name: oct(0o600) for name in modes
    }
    assert mode(tmp_path / "new") == mode(tmp_path / "new" / "data") == 0o700
    stored = store.path_for(digest)
    assert mode(stored) == 0o600
    for folder in (stored.parent, stored.parent.parent, tmp_path / "store" / "files"):
        assert mode(folder) == 0o700, folder
    assert mode(tmp_path / "store") == 0o700
