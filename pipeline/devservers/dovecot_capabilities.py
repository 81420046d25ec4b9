"""Removing capabilities from what a throwaway Dovecot advertises (``capabilities_without``).

``imap_capability`` can only *replace* Dovecot's list, and the default list depends on
the Dovecot version and configuration, so it is read from the installed Dovecot,
filtered, and checked again with the new setting. Dovecot only changes the
advertisement: it still executes a removed command if a client sends it anyway.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from pipeline.devservers.dovecot_config import INSTALL_HINT, Identity
from pipeline.devservers.dovecot_processes import find_binary
from pipeline.devservers.ports import DevServerError

_CAPABILITY_LINE = re.compile(rb"^\* CAPABILITY (.*?)\r?$", re.MULTILINE)


def restricted_capabilities(
    binary: str,
    ident: Identity,
    without: tuple[str, ...],
    *,
    config_path: Path,
    run_dir: Path,
    configure: Callable[[str], None],
    timeout: float,
) -> str:
    """Dovecot's post-login capability list minus `without`.

    `configure(line)` writes the configuration at `config_path` with that
    ``imap_capability`` (the caller writes its final configuration afterwards). The
    list is read from a pre-authenticated ``imap`` process, filtered, and then checked
    again with the new setting because Dovecot appends some capabilities on its own.
    """
    default = _probe_capabilities(binary, ident, config_path, run_dir, timeout)
    kept = [c for c in default if c.upper() not in without]
    line = " ".join(kept)
    configure(line)
    final = _probe_capabilities(binary, ident, config_path, run_dir, timeout)
    still = sorted({c.upper() for c in final} & set(without))
    if still:
        raise DevServerError(
            f"Dovecot still advertises {still} after setting imap_capability; "
            "it adds these on its own and they cannot be removed this way"
        )
    return line


def _probe_capabilities(
    binary: str, ident: Identity, config_path: Path, run_dir: Path, timeout: float
) -> list[str]:
    """Run Dovecot's ``imap`` binary pre-authenticated and read CAPABILITY.

    The binary is started directly from ``libexec_dir`` with our config:
    ``doveadm exec imap`` looks equivalent but (in 2.3.19) ignores the
    ``imap_capability`` of the ``-c`` config, which would make the check
    after filtering meaningless.
    """
    imap = _imap_binary(binary, config_path, timeout)
    home = run_dir / "capability-probe"
    home.mkdir(mode=0o700, exist_ok=True)
    if ident.as_root:
        os.chown(home, ident.mail_uid, ident.mail_gid)
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "USER": "capability-probe",
        "HOME": str(home),
    }
    command = [
        imap, "-c", str(config_path),
        "-o", f"mail_uid={ident.mail_uid}", "-o", f"mail_gid={ident.mail_gid}",
    ]  # fmt: skip
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command,
            input=b"p1 CAPABILITY\r\np2 LOGOUT\r\n",
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DevServerError(f"capability probe timed out: {command}") from exc
    finally:
        shutil.rmtree(home, ignore_errors=True)
    match = _CAPABILITY_LINE.search(result.stdout)
    if match is None:
        raise DevServerError(
            f"could not read Dovecot's capabilities (exit {result.returncode}): "
            f"{result.stdout!r} {result.stderr!r}"
        )
    return match.group(1).decode("ascii").split()


def _imap_binary(binary: str, config_path: Path, timeout: float) -> str:
    """Path of Dovecot's ``imap`` executable (``libexec_dir`` from doveconf)."""
    doveconf = find_binary("doveconf", near=binary)
    if doveconf is None:
        raise DevServerError(f"doveconf is not installed: {INSTALL_HINT}")
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [doveconf, "-c", str(config_path), "-h", "libexec_dir"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    imap = Path(result.stdout.strip() or "/usr/lib/dovecot") / "imap"
    if result.returncode != 0 or not os.access(imap, os.X_OK):
        raise DevServerError(f"cannot find Dovecot's imap binary ({imap}): {result.stderr.strip()}")
    return str(imap)
