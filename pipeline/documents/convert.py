"""Legacy statements (.doc, .rtf, .odt) become .docx with LibreOffice, so one reader serves all.

LibreOffice is run as a separate, disposable process (`soffice --headless --convert-to`):
it is the only converter that reads the Word 97 binary format well, and running it out of
process means a hostile or broken file can at worst hang or crash *that* process. Hence:

- every call has a timeout, and on expiry the whole process group is killed: `soffice` is a
  wrapper (oosplash) that starts `soffice.bin`, and killing only the wrapper would orphan
  the real worker;
- each Python process uses its own LibreOffice user profile: two `soffice` instances sharing
  one profile do not run side by side (the second hands its job to the first over a pipe,
  or refuses to start), so a profile is cached per PID and calls from threads of one process
  take turns on it;
- input is written under a fixed, safe name (never the sender's filename) in a private temp
  directory that is removed afterwards;
- LibreOffice exits 0 even when it cannot load a file, so the output itself is checked: it
  must exist and be a zip (`PK`);
- LibreOffice runs confined (`pipeline.documents.sandbox`): without network, seeing only
  the files of the call, with bounded memory and a clean environment; without a working
  sandbox it does not run at all, unless the operator allowed that;
- what goes in is checked first (`refuse_before_converting`): a file over the size cap,
  and a zip (.odt) over the zip limits or with XML declarations in any part, are refused
  unopened. LibreOffice builds its whole document in memory: what the streaming .docx
  reader shrugs off, it chokes on.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipeline.documents.errors import UnreadableDocument, UnsafeDocument
from pipeline.documents.filetype import FileType
from pipeline.documents.ole import word_fib_version
from pipeline.documents.safety import DEFAULT_LIMITS, MIB, ZipLimits, inspect_zip
from pipeline.documents.sandbox import (
    STRICT,
    Confinement,
    SandboxUnavailable,
    confine,
    confined_environment,
    program_paths,
)
from pipeline.documents.types import OLE2_MAGIC, ZIP_MAGIC

log = logging.getLogger(__name__)

DOCX_FILTER = "docx:MS Word 2007 XML"
_FALLBACK_BINARIES = ("/usr/bin/soffice", "/usr/lib/libreoffice/program/soffice")
# Per source type: the input file's extension, the magic its bytes must start with, and the
# LibreOffice import filter to force. Forcing the filter matters: left to its own type
# detection LibreOffice opens anything (random bytes named .doc come out as a .docx of
# "plain text"), so a mislabelled or hostile file could reach an unexpected importer.
_SOURCES: dict[FileType, tuple[str, bytes, str]] = {
    FileType.DOC: (".doc", OLE2_MAGIC, "MS Word 97"),
    FileType.RTF: (".rtf", b"{\\rtf", "Rich Text Format"),
    FileType.ODT: (".odt", ZIP_MAGIC, "writer8"),
    # Word types python-docx refuses (macro-enabled, templates): a .docx copy is readable.
    FileType.DOCM: (".docm", ZIP_MAGIC, "MS Word 2007 XML VBA"),
    FileType.DOTX: (".dotx", ZIP_MAGIC, "MS Word 2007 XML Template"),
}
# Word 6.0 and Word 95 files (nFib below 193) need LibreOffice's older import filter.
_WORD97_NFIB = 193
_WORD95_FILTER = "MS Word 95"
_INPUT_STEM = "input"
_VERSION_TIMEOUT = 30.0
# An ordinary statement converts in 1.5-2.5 s (a fresh profile included) on a 2-core
# machine; 20 s leaves room for a busy machine and a long document, and bounds what a
# hostile one costs.
DEFAULT_TIMEOUT = 20.0


class ConversionFailed(UnreadableDocument):
    """LibreOffice could not turn the file into a .docx; the message is a phrase for a reply."""


class ConversionUnavailable(Exception):
    """No LibreOffice on this machine: an operations problem, not the sender's."""


class NoSandbox(ConversionUnavailable):
    """LibreOffice is there but no sandbox works, and running it without one is not
    allowed (`[documents] allow_unsandboxed_conversion`)."""


@dataclass(frozen=True)
class Conversion:
    """A converted document, with what is needed to record how it was produced."""

    content: bytes  # the .docx
    tool: str  # e.g. "LibreOffice 7.4.7.2"
    seconds: float  # wall time, including any wait for another thread's conversion
    source_type: str  # FileType value of the input: "doc", "rtf", "odt", ...


def find_libreoffice(configured: str | None = None) -> str | None:
    """The soffice binary to use, or None.

    An explicitly configured binary is used or nothing is: silently falling back to another
    installation would hide a configuration mistake.
    """
    if configured:
        return shutil.which(configured)
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    for candidate in _FALLBACK_BINARIES:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@cache
def tool_version(binary: str) -> str:
    """The tool's name and version (e.g. "LibreOffice 7.4.7.2"), read once per binary.

    Recorded with every conversion, so a conversion problem can be traced to a version.
    """
    try:
        result = _run([binary, "--version"], timeout=_VERSION_TIMEOUT, env=confined_environment())
    except (OSError, subprocess.TimeoutExpired):
        return "LibreOffice (unknown version)"
    first_line = result.stdout.decode("utf-8", "replace").strip().splitlines()[:1]
    match = re.match(r"\s*(\S+ [\d.]+)", first_line[0]) if first_line else None
    return match.group(1) if match else "LibreOffice (unknown version)"


# --- one LibreOffice profile per process ----------------------------------------------------


@dataclass
class _Profile:
    pid: int
    path: Path
    lock: threading.Lock


_profiles_lock = threading.Lock()
_profile: _Profile | None = None


def _reset_after_fork() -> None:
    """A forked child must not inherit the parent's profile or a lock held at fork time."""
    global _profile, _profiles_lock
    _profiles_lock = threading.Lock()
    _profile = None


os.register_at_fork(after_in_child=_reset_after_fork)


def _current_profile() -> _Profile:
    global _profile
    with _profiles_lock:
        pid = os.getpid()
        if _profile is None or _profile.pid != pid or not _profile.path.is_dir():
            path = Path(tempfile.mkdtemp(prefix=f"intake-soffice-profile-{pid}-"))
            _profile = _Profile(pid=pid, path=path, lock=threading.Lock())
            atexit.register(_remove_profile, pid, path)
        return _profile


def _discard_profile(profile: _Profile) -> None:
    """After a kill the profile may be half-written: start the next call with a fresh one."""
    global _profile
    with _profiles_lock:
        if _profile is profile:
            _profile = None
    shutil.rmtree(profile.path, ignore_errors=True)


def _remove_profile(pid: int, path: Path) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def libreoffice_profile() -> Path:
    """The LibreOffice user profile directory this process uses (created on first use)."""
    return _current_profile().path


# --- running soffice ---------------------------------------------------------------------


def _run(
    command: Sequence[str], *, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run in a new session; on timeout kill the whole process group before reaping.

    Killing before `wait()` matters: until the leader is reaped its PID (the group id)
    cannot be reused, so `killpg` cannot hit an unrelated process group. (A sandboxed
    LibreOffice stays in the group, and bubblewrap kills it with its parent anyway.)
    """
    process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        # Timeout, KeyboardInterrupt, ...: never leave LibreOffice running.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def soffice_convert(
    inputs: Sequence[Path],
    target: str,
    outdir: Path,
    *,
    binary: str | None = None,
    timeout: float = 60.0,
    infilter: str | None = None,
    confinement: Confinement = STRICT,
) -> None:
    """Convert many files to `target` (e.g. "pdf:writer_pdf_Export") in ONE soffice run.

    One run costs about as much as a run for one file (start-up dominates), so callers with
    many files (test fixtures, batch jobs) should group them by target format. `infilter`
    forces one import filter for all inputs. Outputs land in `outdir` named after the
    inputs; checking them is the caller's job. LibreOffice runs confined: it reads the
    inputs, writes `outdir` and its profile, and sees nothing else (`confinement`).
    Raises ConversionUnavailable without a binary (NoSandbox without a working sandbox,
    when that is not allowed), ConversionFailed on timeout or non-zero exit.
    """
    soffice = find_libreoffice(binary)
    if soffice is None:
        raise ConversionUnavailable("LibreOffice (soffice) is not installed")
    # The real path: the sandbox shows /usr/lib/libreoffice, or the folder of an install
    # under /opt, not necessarily the folder of a link to it.
    soffice = str(Path(soffice).resolve())
    profile = _current_profile()
    # Absolute paths: the sandbox starts in its own /tmp.
    sources = [Path(path).absolute() for path in inputs]
    target_folder = Path(outdir).absolute()
    command = [
        soffice,
        f"-env:UserInstallation={profile.path.as_uri()}",
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--nologo",
        *([f"--infilter={infilter}"] if infilter else []),
        "--convert-to",
        target,
        "--outdir",
        str(target_folder),
        *(str(path) for path in sources),
    ]
    try:
        confined = confine(
            command,
            confinement=confinement,
            readable=[*program_paths(soffice), *sources],
            writable=[target_folder, profile.path],
        )
    except SandboxUnavailable as error:
        log.error(
            "LibreOffice not started: %s. Install bubblewrap (apt-get install bubblewrap), "
            "or set [documents] allow_unsandboxed_conversion = true to run it unconfined",
            error,
        )
        raise NoSandbox(f"no sandbox for LibreOffice: {error}") from None
    # Threads of one process take turns: their shared profile allows one instance at a time.
    with profile.lock:
        try:
            result = _run(confined, timeout=timeout, env=confined_environment())
        except subprocess.TimeoutExpired:
            _discard_profile(profile)
            log.warning("LibreOffice killed after %.1f s converting to %s", timeout, target)
            raise ConversionFailed("the conversion took too long") from None
    if result.returncode != 0:
        log.warning(
            "LibreOffice exited with %s: %s",
            result.returncode,
            result.stderr.decode("utf-8", "replace")[-500:],
        )
        raise ConversionFailed("the file could not be converted")


def _size(limit: int) -> str:
    return f"{limit / MIB:g} MB" if limit >= MIB else f"{limit / 1024:g} KB"


def refuse_before_converting(
    content: bytes, *, limits: ZipLimits = DEFAULT_LIMITS, max_bytes: int | None = None
) -> None:
    """Raise UnsafeDocument (or UnreadableDocument) for a file LibreOffice must not get:
    over `max_bytes` as it came, or a zip (.odt, .docm, .dotx) that `inspect_zip` refuses
    with `limits` (sizes, ratio, members, nested archives, XML declarations in any part).
    """
    if max_bytes is not None and len(content) > max_bytes:
        raise UnsafeDocument(f"it is larger than {_size(max_bytes)}")
    if content.startswith(ZIP_MAGIC):
        inspect_zip(content, limits)


def convert_to_docx(
    content: bytes,
    source_type: FileType,
    *,
    binary: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    workdir: Path | None = None,
    confinement: Confinement = STRICT,
    limits: ZipLimits = DEFAULT_LIMITS,
    max_bytes: int | None = None,
) -> Conversion:
    """Convert a legacy document to .docx bytes.

    `workdir` (default: the system temp dir) holds the private per-call directory, which is
    always removed. `timeout` bounds the LibreOffice run; threads of one process convert
    one at a time (they share its profile), so a call may first wait for another.
    First `refuse_before_converting` with `limits` and `max_bytes`: UnsafeDocument (or
    UnreadableDocument) and LibreOffice never starts.
    Raises ConversionUnavailable if LibreOffice is missing (NoSandbox if it cannot be
    confined), ConversionFailed if it fails, times out or produces no .docx (LibreOffice
    reports unloadable files, such as password-protected ones, only on stderr and still
    exits 0).
    """
    source = _SOURCES.get(source_type)
    if source is None:
        raise ValueError(f"cannot convert {source_type.value!r} to .docx")
    extension, magic, infilter = source
    if not content.startswith(magic):
        raise ConversionFailed("the file is damaged")
    refuse_before_converting(content, limits=limits, max_bytes=max_bytes)
    if source_type is FileType.DOC:
        version = word_fib_version(content)
        if version is not None and version < _WORD97_NFIB:
            infilter = _WORD95_FILTER
    soffice = find_libreoffice(binary)
    if soffice is None:
        raise ConversionUnavailable("LibreOffice (soffice) is not installed")
    tool = tool_version(soffice)
    with tempfile.TemporaryDirectory(
        prefix="intake-convert-", dir=workdir, ignore_cleanup_errors=True
    ) as temp:
        path = Path(temp) / f"{_INPUT_STEM}{extension}"
        outdir = Path(temp) / "out"
        outdir.mkdir()
        path.write_bytes(content)
        started = time.monotonic()
        soffice_convert(
            [path],
            DOCX_FILTER,
            outdir,
            binary=soffice,
            timeout=timeout,
            infilter=infilter,
            confinement=confinement,
        )
        seconds = time.monotonic() - started
        output = outdir / f"{_INPUT_STEM}.docx"
        if not output.is_file():
            raise ConversionFailed("the file could not be opened for conversion")
        converted = output.read_bytes()
    if not converted.startswith(b"PK"):
        raise ConversionFailed("the conversion produced no Word document")
    return Conversion(content=converted, tool=tool, seconds=seconds, source_type=source_type.value)
