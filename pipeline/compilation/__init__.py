"""The compilation of a debate's written statements (see docs/compilation.md).

`compile_meeting` writes the President's letter and one annex per accepted statement to
a .docx; `export_pdf` turns it into a PDF with LibreOffice; `CompilationTemplates` holds
the words, one folder per language (shipped in `pipeline/resources/compilation/`).
"""

from pipeline.compilation.build import Annex, CompilationResult, compile_meeting, roman_numeral
from pipeline.compilation.errors import (
    CompilationError,
    CompilationTemplateError,
    NoAcceptedStatements,
    OutputFolderMissing,
    StatementFileMissing,
    StatementUnusable,
    UnknownMeeting,
)
from pipeline.compilation.pdf import export_pdf
from pipeline.compilation.templates import CompilationTemplates, default_root, texts_roots

__all__ = [
    "Annex",
    "CompilationError",
    "CompilationResult",
    "CompilationTemplateError",
    "CompilationTemplates",
    "NoAcceptedStatements",
    "OutputFolderMissing",
    "StatementFileMissing",
    "StatementUnusable",
    "UnknownMeeting",
    "compile_meeting",
    "default_root",
    "export_pdf",
    "roman_numeral",
    "texts_roots",
]
