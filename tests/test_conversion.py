"""Legacy statements become .docx, and OLE2 files say what they are.

User stories: a delegation sends its statement as .doc, .rtf or .odt (in any of the six
languages) and the pipeline reads the same heading and paragraphs it would from a .docx;
a stuck or broken LibreOffice never hangs a run or leaves processes behind; a
password-protected or macro-carrying Word file is recognised before anything opens it.

The documents are real: made by LibreOffice (see `tests/helpers/office_files.py`), and the corpus
files come from Apache POI's test data (`../shared/corpus/`, see its README).
"""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest

from pipeline.documents.convert import (
    Conversion,
    ConversionFailed,
    ConversionUnavailable,
    convert_to_docx,
    find_libreoffice,
    libreoffice_profile,
)
from pipeline.documents.errors import UnreadableDocument
from pipeline.documents.filetype import FileType
from pipeline.documents.ole import OleInfo, inspect_ole, word_fib_version
from pipeline.documents.types import OLE2_MAGIC, detect_type
from tests.helpers.corpus import CORPUS
from tests.helpers.office_files import LANGUAGES, LETTER_TEXT, STATEMENT_TEXT

NO_SOFFICE = "LibreOffice is not installed: apt-get install libreoffice-writer-nogui"
OLE_KINDS = (FileType.DOC, FileType.ENCRYPTED, FileType.OLE_OTHER)
LEGACY = {"doc": FileType.DOC, "rtf": FileType.RTF, "odt": FileType.ODT}


WORD_CORPUS = CORPUS / "word"
POI = WORD_CORPUS / "poi"


@pytest.fixture(scope="session")
def poi() -> Path:
    if not POI.is_dir():
        pytest.skip(f"the shared test corpus is not at {POI}")
    return POI


def docx_paragraphs(content: bytes) -> list[str]:
    return [p.text.strip() for p in docx.Document(io.BytesIO(content)).paragraphs]


def soffice_processes(profile: Path) -> list[str]:
    """LibreOffice processes using `profile`: only ours, whatever else runs on the machine."""
    if shutil.which("pgrep") is None:
        pytest.skip("pgrep is not installed (procps)")
    result = subprocess.run(
        ["pgrep", "-a", "-f", str(profile)], capture_output=True, text=True, check=False
    )
    return result.stdout.splitlines()


# --- the test documents themselves ------------------------------------------------------------


def test_office_files_are_what_their_names_say(office_files: dict[tuple[str, str], Path]) -> None:
    expected = {
        "docx": FileType.DOCX,
        "doc": FileType.DOC,
        "docm": FileType.DOCM,
        "rtf": FileType.RTF,
        "odt": FileType.ODT,
        "pdf": FileType.PDF,
        "letter_docx": FileType.DOCX,
        "letter_pdf": FileType.PDF,
        "pdf_scan": FileType.PDF,
    }
    assert len(office_files) == len(LANGUAGES) * 8 + 1
    for (_, kind), path in office_files.items():
        assert detect_type(path.read_bytes()) is expected[kind], path


def test_letters_are_addressed_to_the_president_and_signed(
    office_files: dict[tuple[str, str], Path],
) -> None:
    markers = {
        "en": ("President of the Security Council", "Permanent Representative"),
        "fr": ("Monsieur le Président du Conseil de sécurité", "Le Représentant permanent"),
        "es": ("Presidente del Consejo de Seguridad", "Representante Permanente"),
        "ru": ("Председателю Совета Безопасности", "Постоянный представитель"),
        "zh": ("安全理事会主席", "常驻联合国代表"),
        "ar": ("رئيس مجلس الأمن", "المندوب الدائم"),
    }
    for lang, (addressee, signatory) in markers.items():
        text = "\n".join(docx_paragraphs(office_files[(lang, "letter_docx")].read_bytes()))
        assert text.startswith(LETTER_TEXT[lang][0])
        assert addressee in text
        assert signatory in text.splitlines()[-1]


# --- user story: a legacy statement is read like a .docx -----------------------------------


@pytest.mark.parametrize("fmt", sorted(LEGACY))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_legacy_statement_converts_to_docx_with_its_text(
    office_files: dict[tuple[str, str], Path], lang: str, fmt: str
) -> None:
    conversion = convert_to_docx(office_files[(lang, fmt)].read_bytes(), LEGACY[fmt])

    assert detect_type(conversion.content) is FileType.DOCX
    paragraphs = [p for p in docx_paragraphs(conversion.content) if p]
    title, body = STATEMENT_TEXT[lang]
    assert paragraphs == [title, *body]


def test_conversion_records_the_tool_and_the_time(
    office_files: dict[tuple[str, str], Path], soffice: str
) -> None:
    version = subprocess.run([soffice, "--version"], capture_output=True, text=True, check=True)

    conversion = convert_to_docx(office_files[("fr", "doc")].read_bytes(), FileType.DOC)

    assert isinstance(conversion, Conversion)
    assert re.fullmatch(r"LibreOffice \d+(\.\d+)+", conversion.tool)
    assert version.stdout.startswith(conversion.tool)
    assert 0 < conversion.seconds < 60
    assert conversion.source_type == "doc"


def test_conversion_leaves_no_temporary_files(
    office_files: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    convert_to_docx(office_files[("ru", "rtf")].read_bytes(), FileType.RTF, workdir=tmp_path)
    with pytest.raises(ConversionFailed):
        convert_to_docx(OLE2_MAGIC + b"\0" * 600, FileType.DOC, workdir=tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_word_95_and_macro_enabled_files_convert_too(poi: Path, soffice: str) -> None:
    """Word 6/95 need LibreOffice's older filter; .docm/.dotx are refused by python-docx."""
    word95 = (poi / "Word6.doc").read_bytes()
    assert word_fib_version(word95) == 101
    text = docx_paragraphs(convert_to_docx(word95, FileType.DOC).content)
    assert "The quick brown fox jumps over the lazy dog" in text
    for name, kind in (("SimpleMacro.docm", FileType.DOCM), ("test.dotx", FileType.DOTX)):
        content = (poi / name).read_bytes()
        assert detect_type(content) is kind
        assert detect_type(convert_to_docx(content, kind).content) is FileType.DOCX


# --- user story: a broken file or a stuck LibreOffice fails cleanly -------------------------


def test_garbage_named_doc_is_refused(soffice: str) -> None:
    garbage = random.Random(7).randbytes(8192)
    with pytest.raises(ConversionFailed, match="damaged"):
        convert_to_docx(garbage, FileType.DOC)
    # OLE2 magic, then garbage: LibreOffice itself has to refuse it (it exits 0 regardless).
    with pytest.raises(ConversionFailed) as failed:
        convert_to_docx(OLE2_MAGIC + garbage, FileType.DOC)
    assert isinstance(failed.value, UnreadableDocument)


def test_password_protected_doc_fails_instead_of_waiting_for_a_password(
    poi: Path, soffice: str
) -> None:
    content = (poi / "password_tika_binaryrc4.doc").read_bytes()
    started = time.monotonic()
    with pytest.raises(ConversionFailed):
        convert_to_docx(content, FileType.DOC, timeout=30)
    assert time.monotonic() - started < 30


def test_timeout_kills_soffice_and_fails(
    office_files: dict[tuple[str, str], Path],
) -> None:
    profile = libreoffice_profile()

    with pytest.raises(ConversionFailed, match="too long"):
        convert_to_docx(office_files[("en", "doc")].read_bytes(), FileType.DOC, timeout=0.01)

    assert soffice_processes(profile) == []


@pytest.mark.slow
def test_timeout_kills_a_running_soffice_bin(
    office_files: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    """Killed mid-work (soffice.bin busy on a huge RTF): nothing survives, the next call works."""
    paragraphs = "".join(
        f"\\pard Paragraph {n} of a very long statement on peacekeepers.\\par\n"
        for n in range(80_000)
    )
    huge = f"{{\\rtf1\\ansi\\deff0{{\\fonttbl{{\\f0 Arial;}}}}\n{paragraphs}}}".encode()
    profile = libreoffice_profile()
    errors: list[BaseException] = []

    def convert() -> None:
        try:
            convert_to_docx(huge, FileType.RTF, timeout=3.0, workdir=tmp_path)
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=convert)
    worker.start()
    seen: list[str] = []
    deadline = time.monotonic() + 3.0
    while worker.is_alive() and time.monotonic() < deadline and not seen:
        seen = [line for line in soffice_processes(profile) if "soffice.bin" in line]
        time.sleep(0.05)
    worker.join(30)

    assert seen, "soffice.bin never ran: the test proves nothing"
    assert len(errors) == 1
    assert isinstance(errors[0], ConversionFailed)
    assert soffice_processes(profile) == []
    assert list(tmp_path.iterdir()) == []
    # A kill can leave the profile half-written: the next conversion must still work.
    conversion = convert_to_docx(office_files[("es", "odt")].read_bytes(), FileType.ODT)
    assert STATEMENT_TEXT["es"][0] in docx_paragraphs(conversion.content)


def test_missing_libreoffice_is_an_operations_problem(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-soffice")
    assert find_libreoffice(missing) is None
    with pytest.raises(ConversionUnavailable):
        convert_to_docx(b"{\\rtf1 hello}", FileType.RTF, binary=missing)
    with pytest.raises(ValueError, match="pdf"):
        convert_to_docx(b"%PDF-1.4", FileType.PDF)


def test_find_libreoffice_prefers_the_configured_binary(soffice: str) -> None:
    assert find_libreoffice(soffice) == soffice
    assert find_libreoffice("soffice") == shutil.which("soffice")


# --- user story: several workers convert at once ------------------------------------------


def test_two_threads_convert_at_once(office_files: dict[tuple[str, str], Path]) -> None:
    jobs = [(("zh", "doc"), FileType.DOC), (("ar", "odt"), FileType.ODT)]
    results: dict[str, Conversion] = {}
    errors: list[BaseException] = []

    def convert(key: tuple[str, str], kind: FileType) -> None:
        try:
            results[key[0]] = convert_to_docx(office_files[key].read_bytes(), kind)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=convert, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    for lang in ("zh", "ar"):
        assert STATEMENT_TEXT[lang][0] in docx_paragraphs(results[lang].content)


_CHILD = """
import json, sys
from pathlib import Path
from pipeline.documents.convert import convert_to_docx, libreoffice_profile
from pipeline.documents.types import FileType
conversion = convert_to_docx(Path(sys.argv[1]).read_bytes(), FileType(sys.argv[2]))
print(json.dumps({"profile": str(libreoffice_profile()), "size": len(conversion.content)}))
"""


def test_two_processes_convert_at_once_with_their_own_profiles(
    office_files: dict[tuple[str, str], Path],
) -> None:
    root = Path(__file__).resolve().parents[1]
    jobs = [(office_files[("ru", "doc")], "doc"), (office_files[("fr", "rtf")], "rtf")]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), kind],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path, kind in jobs
    ]
    outputs = [child.communicate(timeout=120) for child in children]

    assert [child.returncode for child in children] == [0, 0], outputs
    reports = [json.loads(stdout) for stdout, _ in outputs]
    assert all(report["size"] > 0 for report in reports)
    profiles = {report["profile"] for report in reports}
    assert len(profiles) == 2
    assert str(libreoffice_profile()) not in profiles
    assert not any(Path(profile).exists() for profile in profiles), "profiles left behind"


# --- user story: OLE2 files say what they are ---------------------------------------------


def test_libreoffice_doc_is_plain_legacy_word(office_files: dict[tuple[str, str], Path]) -> None:
    for lang in LANGUAGES:
        info = inspect_ole(office_files[(lang, "doc")].read_bytes())
        assert info == OleInfo(kind=FileType.DOC, encrypted=False, has_macros=False)


def test_password_protected_corpus_files_are_encrypted(poi: Path) -> None:
    """Names with password/protected/encrypt: OLE2 ones need a password; zip ones do not.

    `protected_sample.docx` and `documentProtection_*.docx` are ordinary .docx files with
    an editing restriction in settings.xml: readable without a password.
    """
    names = [
        p for p in sorted(poi.iterdir()) if re.search(r"password|protect|encrypt", p.name, re.I)
    ]
    kinds: dict[str, FileType] = {}
    for path in names:
        content = path.read_bytes()
        kinds[path.name] = detect_type(content)
        if content.startswith(OLE2_MAGIC):
            assert inspect_ole(content).encrypted, path.name
        else:
            assert kinds[path.name] is FileType.DOCX, path.name

    assert kinds["bug53475-password-is-pass.docx"] is FileType.ENCRYPTED
    assert inspect_ole((poi / "bug53475-password-is-pass.docx").read_bytes()) == OleInfo(
        kind=FileType.ENCRYPTED, encrypted=True, has_macros=False
    )
    with zipfile.ZipFile(poi / "protected_sample.docx") as archive:
        assert b'w:edit="readOnly" w:enforcement="1"' in archive.read("word/settings.xml")
    rc4 = inspect_ole((poi / "password_tika_binaryrc4.doc").read_bytes())
    assert (rc4.kind, rc4.encrypted) == (FileType.DOC, True)


def test_macros_are_found_in_legacy_word(poi: Path) -> None:
    assert inspect_ole((poi / "Bug50936_3.doc").read_bytes()).has_macros
    assert not inspect_ole((poi / "simple.doc").read_bytes()).has_macros
    ole_with_macros = {p.name for p in poi.iterdir() if _has_macros(p.read_bytes())}
    assert {
        "Bug50936_3.doc",
        "au.edu.utas.www___data_assets_word_doc_0003_154335_International-Travel-Approval-Request-Form.doc",
    } <= ole_with_macros
    # Macro-enabled OOXML is a zip, told apart by its content type, not by OLE inspection.
    assert detect_type((poi / "SimpleMacro.docm").read_bytes()) is FileType.DOCM
    # ... and a file named .docm can be a Word 97 .doc (without macros) all along.
    hello = poi / "cpansearch.perl.org_src_tobyink_acme-rundoc-0.001_word-lib_hello_world.docm"
    assert detect_type(hello.read_bytes()) is FileType.DOC


def _inspect_or_none(content: bytes) -> OleInfo | None:
    if not content.startswith(OLE2_MAGIC):
        return None
    try:
        return inspect_ole(content)
    except UnreadableDocument:
        return None


def _has_macros(content: bytes) -> bool:
    info = _inspect_or_none(content)
    return info is not None and info.has_macros


# --- user story: no Word file crashes type detection -----------------------------------------


def _corpus_files() -> Iterator[Path]:
    yield from (p for p in sorted(WORD_CORPUS.rglob("*")) if p.is_file())


def test_detect_type_never_raises_on_the_corpus(poi: Path) -> None:
    seen = 0
    for path in _corpus_files():
        content = path.read_bytes()
        kind = detect_type(content)
        assert isinstance(kind, FileType)
        seen += 1
        if content.startswith(OLE2_MAGIC):
            # Damaged OLE2 (truncated here) never raises; with no readable directory it is
            # reported as legacy Word (a half file may still show its directory).
            assert detect_type(content[: len(content) // 2]) in OLE_KINDS
            assert detect_type(content[:600]) is FileType.DOC
            info = _inspect_or_none(content)
            assert info is None or info.kind in OLE_KINDS
    assert seen > 150


def test_damaged_ole_raises_unreadable_document() -> None:
    with pytest.raises(UnreadableDocument, match="damaged"):
        inspect_ole(OLE2_MAGIC + b"\xff" * 1000)
    assert detect_type(OLE2_MAGIC + b"\xff" * 1000) is FileType.DOC
