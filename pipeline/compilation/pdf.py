"""The compilation as a PDF, made by LibreOffice next to the .docx.

LibreOffice writes into a private folder beside the target and the result is renamed
into place: a failed or killed conversion never leaves a half-written PDF, nor lets an
older PDF of the same name pass for the new one. It runs confined like every LibreOffice
run (`pipeline.documents.sandbox`): the compilation is made of what delegations sent.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pipeline.documents.convert import ConversionFailed, soffice_convert
from pipeline.documents.sandbox import STRICT, Confinement

__all__ = ["PDF_FILTER", "export_pdf"]

PDF_FILTER = "pdf:writer_pdf_Export"
# A 200-statement compilation takes LibreOffice about a minute on a 2-core machine.
DEFAULT_TIMEOUT = 600.0


def export_pdf(
    docx_path: Path,
    *,
    binary: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    confinement: Confinement = STRICT,
) -> Path:
    """Write `docx_path` with a .pdf suffix beside it; returns the PDF's path.

    Raises ConversionUnavailable when LibreOffice is not installed (NoSandbox when it
    cannot be confined), ConversionFailed when it fails, times out or writes no PDF.
    """
    target = docx_path.with_suffix(".pdf")
    with tempfile.TemporaryDirectory(
        prefix=".intake-pdf-", dir=docx_path.parent, ignore_cleanup_errors=True
    ) as temporary:
        soffice_convert(
            [docx_path],
            PDF_FILTER,
            Path(temporary),
            binary=binary,
            timeout=timeout,
            confinement=confinement,
        )
        produced = Path(temporary) / target.name
        if not produced.is_file() or _head(produced) != b"%PDF-":
            raise ConversionFailed("LibreOffice wrote no PDF")
        os.replace(produced, target)
    return target


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(5)
