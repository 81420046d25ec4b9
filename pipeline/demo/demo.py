"""`intake demo`: the whole flow on one machine, with nothing to configure.

Starts a throwaway Dovecot and a capturing SMTP server, seeds the mailbox with sample
submissions from several delegations (some fine, some not, an out-of-office and a
bounce), runs Intake once and prints the desk's queue and every reply a delegation
receives. A second run shows that nothing is filed or sent twice.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.rule import Rule
from sqlmodel import Session

from pipeline.configuration import parse_settings
from pipeline.console import safe_console, submissions_table
from pipeline.demo.automatic import auto_reply_email, bounce_email
from pipeline.demo.letters import cover_letter_pdf
from pipeline.demo.mail import Attachment, build_email
from pipeline.demo.samples import submission_email
from pipeline.demo.statements import sample_statement_text, statement_docx, statement_title
from pipeline.devservers.dovecot import ThrowawayDovecot
from pipeline.devservers.ports import DevServerError
from pipeline.devservers.smtp import CapturingSMTPServer
from pipeline.documents.convert import find_libreoffice, soffice_convert
from pipeline.documents.errors import DocumentError
from pipeline.documents.sandbox import Confinement
from pipeline.errors import IntakeError
from pipeline.settings.models import Settings
from pipeline.settings.toml_writer import to_toml
from pipeline.storage.db import make_engine
from pipeline.storage.queries import list_submissions
from pipeline.worker.run import run_once

NEW_YORK = ZoneInfo("America/New_York")
SUBMISSIONS = "submissions@intake.example"
USER, PASSWORD = "submissions", "demo-password"


class DemoError(IntakeError):
    """The demo cannot run here; the message says what to install or change."""


@dataclass(frozen=True)
class Seed:
    story: str
    raw: bytes
    received: datetime


def _ny(day: int, hour: int, minute: int) -> datetime:
    return datetime(2021, 5, day, hour, minute, tzinfo=NEW_YORK)


def seeds() -> list[Seed]:
    """Sample mail for the 24 May 2021 open debate, in order of arrival."""

    def statement(mission: str, sender: str, **options: object) -> bytes:
        return submission_email(
            mission_name=mission,
            sender=sender,
            to=SUBMISSIONS,
            **options,  # type: ignore[arg-type]
        )

    france_first = statement("France", "france@un.int", words=320, language="fr")
    return [
        Seed(
            "France sends its statement in French, with a PDF cover letter",
            france_first,
            _ny(20, 10, 12),
        ),
        Seed(
            "Côte d'Ivoire sends a statement with a Word cover letter",
            statement("Côte d'Ivoire", "cotedivoire@un.int", cover_letter="docx", language="fr"),
            _ny(21, 9, 40),
        ),
        Seed(
            "Ghana sends its statement as a PDF instead of Word",
            statement("Ghana", "ghana@un.int", statement_as_pdf=True),
            _ny(21, 15, 5),
        ),
        Seed(
            "Japan forgets the cover letter",
            statement("Japan", "japan@un.int", cover_letter=None),
            _ny(22, 11, 30),
        ),
        Seed(
            "Someone writes from an address no mission registered (no server vouches for it:"
            " filed, not answered)",
            statement("Atlantis", "attache@atlantis.example"),
            _ny(22, 12, 0),
        ),
        Seed(
            "The European Union sends its statement",
            statement("European Union", "delegation-un@eeas.europa.eu", words=480),
            _ny(23, 8, 15),
        ),
        Seed(
            "France sends a revised statement (it replaces the first)",
            statement(
                "France",
                "france@un.int",
                words=410,
                language="fr",
                subject="PKO-SAFETY: version révisée de la déclaration de la France",
            ),
            _ny(23, 18, 45),
        ),
        Seed(
            "Uruguay's cover letter is a scan without text: accepted, flagged for checking",
            statement("Uruguay", "uruguay@un.int", language="es", cover_with_text_layer=False),
            _ny(24, 9, 5),
        ),
        *_legacy_seed(),
        Seed(
            "The Holy See sends its statement",
            statement("Holy See", "holysee@un.int", cover_letter="docx"),
            _ny(24, 16, 20),
        ),
        Seed(
            "Brazil sends its statement one minute after midnight, New York time",
            statement("Brazil", "brazil@un.int"),
            _ny(25, 0, 1),
        ),
        Seed(
            "An out-of-office reply arrives",
            auto_reply_email(
                sender="france@un.int",
                to=SUBMISSIONS,
                original_subject="Accepted: France statement",
            ),
            _ny(21, 10, 0),
        ),
        Seed(
            "A bounce arrives for mail someone else sent in our name",
            bounce_email(original=france_first),
            _ny(22, 7, 0),
        ),
    ]


def _legacy_seed() -> list[Seed]:
    """Spain sends a Word 97-2003 .doc: shown only where LibreOffice can make and convert it."""
    if find_libreoffice() is None:
        return []
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "Declaracion_Espana.docx"
        paragraphs = sample_statement_text("Spain", 380, language="es")
        source.write_bytes(
            statement_docx(statement_title("Spain", language="es"), paragraphs, language="es")
        )
        try:
            # Our own sample: made in the sandbox where it works, else without.
            soffice_convert(
                [source],
                "doc:MS Word 97",
                Path(folder),
                confinement=Confinement(allow_unsandboxed=True),
            )
        except DocumentError:
            return []
        legacy = (Path(folder) / "Declaracion_Espana.doc").read_bytes()
    raw = build_email(
        sender="spain@un.int",
        to=SUBMISSIONS,
        subject="PKO-SAFETY: declaración de España",
        attachments=[
            Attachment("Declaracion_Espana.doc", legacy, "application/msword"),
            Attachment("Carta.pdf", cover_letter_pdf("Spain"), "application/pdf"),
        ],
    )
    return [
        Seed(
            "Spain sends a legacy Word 97-2003 .doc: converted to .docx, accepted",
            raw,
            _ny(23, 11, 0),
        )
    ]


def demo_settings(base: Path, dovecot: ThrowawayDovecot, smtp: CapturingSMTPServer) -> Settings:
    return parse_settings(demo_config(base, dovecot, smtp), environ={})


def demo_config(base: Path, dovecot: ThrowawayDovecot, smtp: CapturingSMTPServer) -> dict[str, Any]:
    return {
        "paths": {"data_dir": str(base / "data")},
        "mailbox": {
            "host": dovecot.host,
            "port": dovecot.port,
            "security": "none",
            "username": USER,
            "password": PASSWORD,
        },
        "smtp": {"host": smtp.host, "port": smtp.port, "security": "none", "sender": SUBMISSIONS},
        "contacts": {
            "service_desk": "the service desk, servicedesk@intake.example, +1 212 555 0100",
            "secretariat": "the Security Council Affairs Division, +1 212 555 0199",
        },
        "meetings": [
            {
                "code": "PKO-SAFETY",
                "title": (
                    "United Nations peacekeeping operations: improving the safety and "
                    "security of peacekeepers"
                ),
                "date": "2021-05-24",
                "president": "Zhang Jun",
                "presidency": "CHN",
            }
        ],
        "missions": {
            "FRA": {"senders": ["france@un.int"]},
            "CIV": {"senders": ["cotedivoire@un.int"]},
            "GHA": {"senders": ["ghana@un.int"]},
            "JPN": {"senders": ["japan@un.int"]},
            "BRA": {"senders": ["brazil@un.int"]},
            "VAT": {"senders": ["holysee@un.int"]},
            "EUU": {"senders": ["@eeas.europa.eu"]},
            "ESP": {"senders": ["spain@un.int"]},
            "URY": {"senders": ["uruguay@un.int"]},
        },
    }


def run_demo(console: Console, *, keep: Path | None = None) -> None:
    if console.width < 120 and not console.is_terminal:
        # Piped or captured output: rich would assume 80 columns and crush the queue table.
        console = safe_console(width=120, highlight=False)
    base = keep.absolute() if keep is not None else Path(tempfile.mkdtemp(prefix="intake-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)  # Dovecot's processes run as another user and must reach the maildir
    try:
        _run(console, base)
    except DevServerError as error:
        raise DemoError(str(error)) from None
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
        else:
            console.print(
                f"\nThe demo's database and files are kept in {base}/data, with a configuration"
                f" for looking at them: intake --config {base}/intake.toml queue"
                " (or submissions list, compile, web; the demo's mail servers are gone)."
            )


def _run(console: Console, base: Path) -> None:
    with (
        ThrowawayDovecot(base / "dovecot") as dovecot,
        CapturingSMTPServer() as smtp,
    ):
        dovecot.add_user(USER, PASSWORD)
        config = demo_config(base, dovecot, smtp)
        settings = parse_settings(config, environ={})
        (base / "intake.toml").write_text(to_toml(config), encoding="utf-8")
        console.print(Rule("Intake demo: written statements for the 24 May 2021 open debate"))
        console.print(
            f"A throwaway mailbox {USER}@127.0.0.1:{dovecot.port} (Dovecot) receives "
            f"these messages; replies go to a test SMTP server on port {smtp.port}.\n"
        )
        entries = sorted(seeds(), key=lambda s: s.received)
        for seed in entries:
            dovecot.append(USER, PASSWORD, seed.raw, internaldate=seed.received)
            console.print(f"  {seed.received:%a %d %b %H:%M} New York  {escape(seed.story)}")

        console.print(Rule("intake run-once"))
        report = run_once(settings)
        console.print(f"intake: {report.summary()}")
        smtp.wait_for(report.replies.sent, timeout=10)

        engine = make_engine(settings.database_url)
        with Session(engine) as session:
            rows = list_submissions(session)
        engine.dispose()
        console.print()
        console.print(
            submissions_table(rows, title="The service desk's queue: intake submissions list"),
            soft_wrap=False,
        )

        console.print(Rule(f"The {len(smtp.messages)} replies the delegations received"))
        for number, captured in enumerate(smtp.messages, start=1):
            message = captured.message
            console.print(Rule(f"reply {number}", style="dim", align="left"))
            console.print(
                f"To: {message['To']}\nSubject: {str(message['Subject']).strip()}\n"
                f"In-Reply-To: {message['In-Reply-To']}\n\n{str(message.get_content()).rstrip()}\n",
                markup=False,
                highlight=False,
            )

        console.print(Rule("What happened to the mailbox"))
        with dovecot.imap_client(USER, PASSWORD) as client:
            for flags, _delimiter, folder in client.list_folders():
                if b"\\Noselect" in flags or b"\\NoSelect" in flags:
                    continue
                count = client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"]
                console.print(f"  {folder:<20} {count} message(s)")

        console.print(Rule("intake run-once, again"))
        again = run_once(settings)
        console.print(f"intake: {again.summary()}")
        console.print(
            "Nothing is filed or answered twice. Try the real commands on your own mailbox: "
            "`intake texts export DIR` writes a documented example configuration "
            "(intake.example.toml; see README.md)."
        )
