"""LibreOffice in a box: no network, nothing of the machine but programs, bounded memory.

LibreOffice follows links in the documents it opens: an image linked at
`http://10.1.2.3/...` is fetched (an OPTIONS and a GET, from inside the Secretariat's
network, on behalf of whoever mailed the file), a linked `file:///...` is opened. It runs
as the worker's user, who can read the secrets file and every stored mail. So every
LibreOffice run goes through `confine`:

- bubblewrap (`bwrap`, Debian package `bubblewrap`) starts it in new namespaces: no
  network (a loopback of its own only, so the host's 127.0.0.1 is out of reach too), its
  own process tree, no capabilities, killed with its parent; and a file system made of
  what it needs, read-only: `/usr` (programs, libraries, fonts), the font configuration
  and LibreOffice's own files in `/etc`, an empty private `/tmp`, and the paths of the
  call (inputs read-only; the output folder and the profile read-write). The data
  folder, `/etc/intake`, the rest of `/etc`, `/var`, `/opt`, `/home`, `/root` and `/run`
  do not exist in there;
- `prlimit` (util-linux) bounds its address space and the size of any file it writes
  (`memory_mb`, 1024 by default: LibreOffice 7.4 fails to start an ordinary conversion
  below about 384 MB, and reserved 685 MB converting a statement with five large
  photographs, which converts fine within 512 MB);
- it gets a minimal environment: none of the worker's variables (`INTAKE_*` secrets).

bubblewrap needs unprivileged user namespaces for a user other than root (allowed by
default on Debian 11 and later, and on Ubuntu, where bubblewrap is allowed them by an
AppArmor profile). Whether the sandbox works is tried once per process and binary
(`sandbox_status`). Without a working sandbox `confine` refuses (SandboxUnavailable),
unless the operator set `[documents] allow_unsandboxed_conversion = true`: then only the
limits and the clean environment apply, and every run is logged as a warning.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_MEMORY_MB = 1024
_PROBE_TIMEOUT = 30.0
_FALLBACK_BWRAP = "/usr/bin/bwrap"
# Top-level names that are symlinks into /usr on a merged-/usr system, real folders on
# an older one: recreated as the same symlinks, or bound read-only.
_SYSTEM_FOLDERS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What LibreOffice and fontconfig read outside /usr. Nothing else of /etc or /var.
_READ_ONLY_EXTRAS = (
    "/etc/fonts",
    "/etc/libreoffice",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/var/cache/fontconfig",
)
# Inside the sandbox /tmp is a private, empty tmpfs.
_ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",  # noqa: S108 - the sandbox's own /tmp
    "TMPDIR": "/tmp",  # noqa: S108
    "LANG": "C.UTF-8",
}


class SandboxUnavailable(Exception):
    """No working sandbox, and running without one is not allowed. The message says why."""


@dataclass(frozen=True)
class Confinement:
    """How a LibreOffice run is confined (see the module docstring)."""

    memory_mb: int = DEFAULT_MEMORY_MB
    bwrap: str | None = None  # the bubblewrap binary; None: found on PATH
    # Without a working sandbox: refuse (False), or run with the limits only (True).
    allow_unsandboxed: bool = False


STRICT = Confinement()


@dataclass(frozen=True)
class SandboxStatus:
    binary: str | None
    problem: str | None  # None when the sandbox works

    @property
    def works(self) -> bool:
        return self.binary is not None and self.problem is None


def find_bwrap(configured: str | None = None) -> str | None:
    """The bubblewrap binary, or None. A configured one is used or nothing is."""
    if configured:
        return shutil.which(configured)
    found = shutil.which("bwrap")
    if found:
        return found
    if os.path.isfile(_FALLBACK_BWRAP) and os.access(_FALLBACK_BWRAP, os.X_OK):
        return _FALLBACK_BWRAP
    return None


def sandbox_status(configured: str | None = None) -> SandboxStatus:
    """Whether LibreOffice can run sandboxed here: bubblewrap found, and a trial run of
    `true` in the very sandbox LibreOffice gets succeeded (once per process and binary)."""
    binary = find_bwrap(configured)
    if binary is None:
        missing = (
            f"the sandbox program {configured!r} ([documents] bwrap) was not found"
            if configured
            else "bubblewrap (bwrap) is not installed"
        )
        return SandboxStatus(None, missing)
    return SandboxStatus(binary, _probe(binary))


@cache
def _probe(binary: str) -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [*_limits(DEFAULT_MEMORY_MB), *_bwrap_command(binary, ["true"], (), ())],
            env=confined_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{binary} does not run: {error}"
    if result.returncode != 0:
        said = result.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"{binary} does not work here: {said[-1] if said else result.returncode}"
    return None


def confined_environment() -> dict[str, str]:
    """The whole environment a confined program gets: none of the worker's variables."""
    return dict(_ENVIRONMENT)


@cache
def _prlimit() -> str | None:
    found = shutil.which("prlimit")
    if found is None:
        log.warning("prlimit (util-linux) is missing: LibreOffice runs without a memory limit")
    return found


def _limits(memory_mb: int) -> list[str]:
    """prlimit's arguments: address space and file size, soft and hard, for the whole tree."""
    prlimit = _prlimit()
    if prlimit is None:
        return []
    size = memory_mb * 2**20
    return [prlimit, f"--as={size}:{size}", f"--fsize={size}:{size}", "--"]


def program_paths(binary: str) -> list[Path]:
    """What must be visible to run `binary` besides /usr: a LibreOffice installed under
    /opt (The Document Foundation's packages) needs its own installation folder."""
    real = Path(binary).resolve()
    if real.is_relative_to("/usr"):
        return []
    folder = real.parent
    return [folder.parent if folder.name == "program" else folder]


def _bwrap_command(
    binary: str, argv: Sequence[str], readable: Sequence[Path], writable: Sequence[Path]
) -> list[str]:
    command = [
        binary,
        "--unshare-all",  # network, processes, IPC, host name, cgroups, user
        "--die-with-parent",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in _SYSTEM_FOLDERS:
        path = Path(name)
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            command += ["--ro-bind", name, name]
    for extra in _READ_ONLY_EXTRAS:
        command += ["--ro-bind-try", extra, extra]
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108 - private
    # Writable first: an input inside an output folder stays read-only.
    for path in writable:
        command += ["--bind", str(path), str(path)]
    for path in readable:
        command += ["--ro-bind", str(path), str(path)]
    return [*command, "--chdir", "/tmp", "--", *argv]  # noqa: S108 - the private /tmp


def confine(
    argv: Sequence[str],
    *,
    confinement: Confinement = STRICT,
    readable: Sequence[Path] = (),
    writable: Sequence[Path] = (),
) -> list[str]:
    """The command that runs `argv` confined: it sees `readable` (read-only) and
    `writable`, nothing else of the file system but the programs, and no network.
    Run it with `confined_environment()` as its environment.

    Raises SandboxUnavailable when the sandbox does not work here and
    `confinement.allow_unsandboxed` is off.
    """
    limits = _limits(confinement.memory_mb)
    status = sandbox_status(confinement.bwrap)
    if status.works and status.binary is not None:
        return [*limits, *_bwrap_command(status.binary, argv, readable, writable)]
    if not confinement.allow_unsandboxed:
        raise SandboxUnavailable(status.problem or "the sandbox does not work")
    log.warning(
        "LibreOffice runs WITHOUT a sandbox (%s; [documents] allow_unsandboxed_conversion "
        "is on): it can reach the network and read what the worker can read",
        status.problem,
    )
    return [*limits, *argv]
