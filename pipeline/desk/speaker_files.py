"""Reading a list of speakers as the secretariat circulates it: a CSV or an Excel workbook,
one mission per row, named by its ISO alpha-3 code or its name in any of the six UN
languages ("FRA", "France", "Francia", "Франция", "法国", "فرنسا").

The bytes decide what the file is, never its name: a workbook is a zip (`PK`), a legacy
`.xls` an OLE file, anything else is read as CSV text. A row matches when one of its cells
names a mission; a first row that names none is a heading. Parsing is pure (no database),
so the import (`desk/speakers.py`) can refuse a file before touching anything.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

from pipeline.desk.errors import ActionError
from pipeline.missions.registry import find_mission, load_registry

__all__ = ["SpeakerRows", "match_rows", "mission_by_name", "read_rows"]

MAX_ROWS = 1000
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Words of a heading row, in the six languages (compared as `_key` makes them).
_HEADINGS = frozenset(
    {
        "#", "no", "no.", "n°", "nº", "n.", "№", "number", "numero", "order", "ordre", "orden",
        "rang", "порядок", "номер", "序号", "编号", "الرقم", "الترتيب", "code", "iso", "iso3",
        "iso code", "name", "mission",
        "missions", "delegation", "delegations", "speaker", "speakers", "country", "state",
        "member state", "entity", "pays", "etat", "orateur", "orateurs", "pais", "estado",
        "delegacion", "orador", "oradores", "страна", "делегация", "государство", "代表团",
        "国家", "发言者", "الوفد", "البلد", "الدولة",
    }
)  # fmt: skip
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "ʼ": "'", "–": "-", "—": "-"})


def _key(text: str) -> str:
    """A name as the index compares it: no accents or Arabic vowel marks, no case, one
    space, typographic apostrophes straight, no leading English article."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = " ".join(bare.casefold().split())
    return words.removeprefix("the ")


@cache
def _name_index() -> Mapping[str, str]:
    """Every name of every mission, in the six languages (and without what follows a
    parenthesis: "Saint-Siège (état de la cité du Vatican)" is also "Saint-Siège"), to
    its code."""
    index: dict[str, str] = {}
    for info in load_registry().values():
        names = {info.name, info.name_with_article, *info.names.values()}
        for name in names:
            for variant in (name, name.split("(", 1)[0]):
                key = _key(variant)
                if key:
                    index.setdefault(key, info.code)
    return index


def mission_by_name(text: str) -> str | None:
    """The code of the mission a cell names (its code, or a name in a UN language)."""
    text = text.strip()
    if not text:
        return None
    info = find_mission(text) if len(text) == 3 else None
    if info is not None:
        return info.code
    return _name_index().get(_key(text))


def _csv_rows(content: bytes) -> list[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ActionError(
            "the file is neither an Excel workbook (.xlsx) nor CSV text in UTF-8: save it "
            "again as .xlsx or as 'CSV UTF-8'"
        ) from None
    # Excel writes ";" where the decimal comma is used, "," elsewhere; tabs when pasted.
    sample = text[:4096]
    delimiter = max(",;\t", key=sample.count) if any(d in sample for d in ",;\t") else ","
    return [list(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _xlsx_rows(content: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # only when a workbook comes: it is a large import

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ActionError(
            "the file is not a readable Excel workbook: open it in Excel and save it again "
            "as .xlsx, or as CSV"
        ) from None
    try:
        sheet = workbook.worksheets[0]
        rows: list[list[str]] = []
        for values in sheet.iter_rows(values_only=True):
            rows.append(["" if value is None else str(value) for value in values])
            if len(rows) > MAX_ROWS:
                break
        return rows
    finally:
        workbook.close()


def read_rows(content: bytes) -> list[list[str]]:
    """The rows of the file's first sheet (or of the CSV), cells as text."""
    if content.startswith(_OLE):
        raise ActionError(
            "the file is a legacy Excel workbook (.xls): save it as .xlsx or as CSV and import that"
        )
    rows = _xlsx_rows(content) if content.startswith(_ZIP) else _csv_rows(content)
    if len(rows) > MAX_ROWS:
        raise ActionError(
            f"the file has more than {MAX_ROWS} rows: a list of speakers names one mission per row"
        )
    return rows


@dataclass(frozen=True)
class SpeakerRows:
    """What a file says: the missions in order, and the rows that named none."""

    codes: list[str] = field(default_factory=list)
    # (row number in the file, from 1; the row's text) for rows that name no mission.
    unknown: list[tuple[int, str]] = field(default_factory=list)
    # (row number, code) of a mission named again further down: kept once.
    repeated: list[tuple[int, str]] = field(default_factory=list)


def _row_code(cells: Iterable[str]) -> str | None:
    for cell in cells:
        code = mission_by_name(cell)
        if code is not None:
            return code
    return None


def match_rows(rows: list[list[str]]) -> SpeakerRows:
    """Match each row with a mission; blank rows are skipped, and so is a first row of
    headings ("No.", "Mission", "Délégation", ...)."""
    result = SpeakerRows()
    seen: set[str] = set()
    first = True
    for number, row in enumerate(rows, start=1):
        cells = [" ".join(cell.split()) for cell in row if cell.strip()]
        if not cells:
            continue
        heading = first and all(_key(cell) in _HEADINGS for cell in cells)
        first = False
        code = _row_code(cells)
        if code is None:
            if not heading:
                result.unknown.append((number, ", ".join(cells)))
        elif code in seen:
            result.repeated.append((number, code))
        else:
            seen.add(code)
            result.codes.append(code)
    return result
