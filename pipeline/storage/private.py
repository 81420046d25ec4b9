"""Files and folders that only Intake's own user may read.

The database holds the desk's password hashes and every delegation's statements before
they are published; the store holds the original mails. The `intake` command sets the
umask 077 before anything is opened (`pipeline.cli.app.main`), and the systemd units say
`UMask=0077`; these helpers make the same modes explicit where Intake creates its data,
so a library caller or a test with another umask gets them too. Folders and files that
already exist are left as they are: an operator who chose other modes keeps them.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def private_folder(path: Path) -> None:
    """Make `path` and every missing folder above it, each 0700."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_FOLDER)
        except FileExistsError:
            continue  # another worker made it meanwhile
        folder.chmod(PRIVATE_FOLDER)  # mkdir's mode passes through the umask


def private_file(path: Path) -> None:
    """Create `path` empty and 0600 unless it exists. For a SQLite database before its
    first connection: SQLite gives the -wal and -shm files beside it the same mode."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
    finally:
        os.close(descriptor)
