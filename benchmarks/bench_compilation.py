"""How long the compilation of a large debate takes.

    .venv/bin/python benchmarks/bench_compilation.py [--statements 200] [--runs 3] [--keep DIR]

Builds --statements realistic statements with python-docx: a heading and about 500 words
(six languages; Arabic right to left, Chinese about 800 characters), every third with a
table, every fourth with a bulleted list, every fifth with a footnote. Files them as
accepted submissions of one meeting directly in a fresh SQLite database and file store
(no mail: this measures the compilation, not the pipeline), one per mission -- the 196
registry missions, then observer organisations -- and times `compile_meeting` over all of
them, the median of --runs runs. The compilation has the Council's form: masthead,
running headers and n/N footers, a symbol and a job number, theme colours dropped.

Target: at most 15 s for 200 statements on the 2-core development machine. Always exits
0: this is a measurement, CI does not run it.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import docx
from docx.oxml import parse_xml
from sqlmodel import Session, select

from pipeline.compilation import CompilationTemplates, compile_meeting, default_root
from pipeline.compilation.wordml import after
from pipeline.configuration import parse_settings
from pipeline.missions.registry import MissionKind
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from pipeline.storage.db import session_scope
from pipeline.storage.prepare import prepare

sys.path.insert(0, str(Path(__file__).parent))
from bench_documents import SENTENCES, TITLES  # the same statement texts

TARGET_SECONDS = 15.0
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
LANGUAGES = ("en", "fr", "es", "ru", "zh", "ar")
MEETING = "PKO-SAFETY"
CREATED = datetime(2021, 5, 28, 14, 0, tzinfo=UTC)
# Observers beyond the registry's States and the EU, for debates with more than 196.
ORGANISATIONS = [
    ("AU", "African Union"),
    ("LAS", "League of Arab States"),
    ("OIC", "Organisation of Islamic Cooperation"),
    ("OIF", "International Organization of la Francophonie"),
    ("ICRC", "International Committee of the Red Cross"),
]
FOOTNOTES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:footnotes xmlns:w="{W}">'
    '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
    '</w:footnote><w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r>'
    "<w:continuationSeparator/></w:r></w:p></w:footnote>"
    '<w:footnote w:id="1"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> '
    "See Security Council resolution 2518 (2020).</w:t></w:r></w:p></w:footnote>"
    "</w:footnotes>"
)


def add_footnotes(content: bytes) -> bytes:
    """python-docx has no footnotes API: add the part, its relationship and its type."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/_rels/document.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdFootnotes1" Type="http://schemas.openxmlformats.org/'
                    b'officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/>'
                    b"</Relationships>",
                )
            elif info.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/word/footnotes.xml" ContentType="application/vnd.'
                    b'openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>',
                )
            target.writestr(info.filename, data)
        target.writestr("word/footnotes.xml", FOOTNOTES)
    return out.getvalue()


def build_statement(number: int, language: str, mission: str) -> bytes:
    """About 500 words in `language`, with a table, a list or a footnote by `number`."""
    sentences = SENTENCES[language]
    document = docx.Document()
    document.add_heading(TITLES[language], 1)
    separator = "" if language == "zh" else " "
    paragraphs = []
    for index in range(10):
        chosen = [sentences[(number + index * 3 + k) % len(sentences)] for k in range(2)]
        paragraphs.append(document.add_paragraph(separator.join(chosen)))
    paragraphs[0].add_run(f" ({mission})").bold = True
    if number % 5 == 0:
        paragraphs[3]._p.append(
            parse_xml(f'<w:r xmlns:w="{W}"><w:footnoteReference w:id="1"/></w:r>')
        )
    if number % 4 == 0:
        for sentence in sentences[:3]:
            paragraphs.append(document.add_paragraph(sentence, style="List Bullet"))
    if number % 3 == 0:
        table = document.add_table(rows=3, cols=3)
        table.style = "Table Grid"
        for row, values in enumerate(
            [("Mission", "2024", "2025"), ("MINUSCA", "7", "9"), ("UNIFIL", "3", str(number))]
        ):
            for column, value in enumerate(values):
                table.cell(row, column).text = value
    if language == "ar":
        for paragraph in paragraphs:
            paragraph._p.get_or_add_pPr().insert_element_before(
                parse_xml(f'<w:bidi xmlns:w="{W}"/>'), *after("w:bidi")
            )
    buffer = io.BytesIO()
    document.save(buffer)
    content = buffer.getvalue()
    return add_footnotes(content) if number % 5 == 0 else content


def file_statements(data_dir: Path, count: int) -> tuple[str, BlobStore]:
    """A fresh database and file store with `count` accepted statements for MEETING."""
    settings = parse_settings(
        {
            "paths": {"data_dir": str(data_dir)},
            "meetings": [
                {
                    "code": MEETING,
                    "title": "United Nations peacekeeping operations: improving the safety "
                    "and security of peacekeepers",
                    "date": "2021-05-24",
                    "president": "Zhang Jun",
                    "presidency": "CHN",
                    "format": "videoconference",
                    "procedure": "S/2020/372",
                    "briefers": [
                        "Jean-Pierre Lacroix, Under-Secretary-General for Peace Operations"
                    ],
                }
            ],
        },
        environ={},
    )
    engine = prepare(settings)
    blobs = BlobStore(settings.storage_path)
    with session_scope(engine) as session:
        meeting = session.exec(select(m.Meeting).where(m.Meeting.code == MEETING)).one()
        missions = list(session.exec(select(m.Mission).order_by(m.Mission.code)))
        for code, name in ORGANISATIONS[: max(0, count - len(missions))]:
            mission = m.Mission(code=code, name=name, kind=MissionKind.ORGANIZATION, names={})
            session.add(mission)
            missions.append(mission)
        session.flush()
        if count > len(missions):
            raise SystemExit(f"at most {len(missions)} statements (one per mission)")
        for number, mission in enumerate(missions[:count], start=1):
            language = LANGUAGES[number % len(LANGUAGES)]
            content = build_statement(number, language, mission.name)
            record = m.MessageRecord(
                mailbox="bench",
                uidvalidity=1,
                uid=number,
                raw_sha256=f"{number:064x}",
                size=len(content),
                received_at=CREATED,
                outcome=m.MessageOutcome.ACCEPTED,
                target_folder="Intake/Accepted",
            )
            session.add(record)
            session.flush()
            assert record.id is not None
            submission = m.Submission(
                reference=f"{MEETING}-{number:04d}",
                meeting_id=meeting.id,
                mission_id=mission.id,
                message_record_id=record.id,
                received_at=CREATED,
                status=m.SubmissionStatus.ACCEPTED,
                statement_language=language,
            )
            session.add(submission)
            session.flush()
            assert submission.id is not None
            session.add(
                m.Document(
                    submission_id=submission.id,
                    role=m.DocumentRole.STATEMENT,
                    filename="Statement.docx",
                    safe_name="Statement.docx",
                    sha256=blobs.put(content),
                    size=len(content),
                    detected_type="docx",
                )
            )
    engine.dispose()
    return settings.database_url, blobs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the database, files and output here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-compilation-") as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        url, blobs = file_statements(work / "data", args.statements)
        print(f"filed {args.statements} statements in {time.perf_counter() - started:.1f} s")

        from pipeline.storage.db import make_engine

        engine = make_engine(url)
        templates = CompilationTemplates.load(default_root())
        seconds = []
        for run in range(1, args.runs + 1):
            out = work / f"compilation-{run}.docx"
            with Session(engine) as session:
                begun = time.perf_counter()
                result = compile_meeting(
                    session,
                    blobs,
                    MEETING,
                    templates=templates,
                    out=out,
                    created=CREATED,
                    symbol="S/2021/999",
                    job_number="21-07431 (E)",
                )
                seconds.append(time.perf_counter() - begun)
            print(
                f"run {run}: {seconds[-1]:.2f} s, {result.statements} annexes "
                f"(last {result.annexes[-1].numeral}), {out.stat().st_size / 1e6:.1f} MB"
            )
        engine.dispose()
        same = len({(work / f"compilation-{r}.docx").read_bytes() for r in range(1, args.runs + 1)})
        median = statistics.median(seconds)
        verdict = "met" if median <= TARGET_SECONDS else "MISSED"
        print(
            f"median {median:.2f} s for {args.statements} statements "
            f"({median / args.statements * 1000:.0f} ms each); target <= {TARGET_SECONDS:.0f} s: "
            f"{verdict}; identical output across runs: {'yes' if same == 1 else 'NO'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
