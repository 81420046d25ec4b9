"""Documents that speak for another mission than the sender's, told as the stories of the
delegations and the desk, on real servers (Dovecot, SMTP, SQLite and PostgreSQL).

A desk officer sees at a glance that France's mail carries Germany's cover letter; so
must Intake. The matching itself is told in-process in
tests/test_documents_name_the_mission.py.
"""

from __future__ import annotations

import re

from pipeline.demo import samples
from pipeline.demo.mail import build_email
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from pipeline.web.accounts import add_user
from pipeline.web.app import create_app
from tests.conftest import MISSIONS, SUBMISSIONS, Intake, ny, text_of
from tests.helpers.commands import intake_command
from tests.helpers.web import PASSWORD, USER, Dashboard, serve

ON_TIME = ny(2021, 5, 20, 10, 0)


def papers(sender: str, *, statement_of: str, letter_of: str, **options: object) -> bytes:
    """A mail from `sender` with one mission's statement and a (maybe other) mission's
    cover letter, as the demo builds each."""
    statement = samples.submission_attachments(
        mission_name=statement_of,
        cover_letter=None,
        **options,  # type: ignore[arg-type]
    )
    letter = samples.submission_attachments(
        mission_name=letter_of,
        statement=False,
        **options,  # type: ignore[arg-type]
    )
    return build_email(
        sender=sender,
        to=SUBMISSIONS,
        subject="PKO-SAFETY: written statement",
        attachments=[*statement, *letter],
    )


def reason_params(intake: Intake) -> dict[str, object]:
    [reason] = intake.rows(m.DecisionReason)
    assert reason.code == "documents_other_mission"
    return {k: reason.params[k] for k in ("letter", "statement", "sender_mission")}


def test_frances_statement_with_germanys_cover_letter_is_held_and_france_told_why(
    intake: Intake,
) -> None:
    """GIVEN France's registered address WHEN it sends France's statement with Germany's
    cover letter THEN the submission is held for the desk, which sees what each document
    names, and France is told that the letter is Germany's and what to do."""
    intake.deliver(papers("france@un.int", statement_of="France", letter_of="Germany"), at=ON_TIME)

    report = intake.run()

    assert report.filed == {"held": 1}
    [row] = intake.queue()
    assert (row.status, row.mission, row.reasons) == ("held", "FRA", ["documents_other_mission"])
    assert reason_params(intake) == {
        "letter": "Germany",
        "statement": None,
        "sender_mission": "France",
    }
    [submission] = intake.rows(m.Submission)
    assert submission.statement_mission_name == "France"
    assert len(intake.folder("Intake/Held")) == 1
    [notice] = intake.delivered()
    assert notice.rcpt_tos == ("france@un.int",)
    assert "under review" in notice.message["Subject"]
    text = " ".join(text_of(notice).split())
    assert "The cover letter is from Germany, but this address is registered for France" in text
    assert "send the statement and the cover letter of France again" in text


def test_germanys_address_sending_frances_papers_is_held(intake: Intake) -> None:
    """GIVEN Germany's registered address WHEN it sends France's statement and France's
    cover letter THEN it is not filed as Germany's: it is held, and Germany is told that
    both documents are France's."""
    intake.reconfigure(missions={**MISSIONS, "DEU": {"senders": ["germany@un.int"]}})
    intake.deliver(papers("germany@un.int", statement_of="France", letter_of="France"), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.mission, row.reasons) == ("held", "DEU", ["documents_other_mission"])
    assert reason_params(intake) == {
        "letter": "France",
        "statement": "France",
        "sender_mission": "Germany",
    }
    [notice] = intake.delivered()
    text = " ".join(text_of(notice).split())
    assert (
        "The cover letter is from France and the statement is by France, but this address "
        "is registered for Germany"
    ) in text


def test_frances_own_papers_are_accepted_and_the_desk_sees_whom_they_name(
    intake: Intake,
) -> None:
    """GIVEN France's address WHEN it sends France's statement with France's scanned cover
    letter THEN it is accepted as before (the scan noted), and the desk sees, on the
    command line and on the submission page, that the statement is France's and that the
    scan names no mission."""
    intake.deliver(
        samples.submission_email(
            mission_name="France",
            sender="france@un.int",
            to=SUBMISSIONS,
            cover_with_text_layer=False,
        ),
        at=ON_TIME,
    )

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons) == ("accepted", ["cover_letter_unverified"])
    [acknowledgement] = intake.delivered()
    assert "Germany" not in text_of(acknowledgement)
    shown = intake_command(
        "submissions", "show", row.reference, config=intake.write_config()
    ).stdout
    assert "mission France" in shown
    assert "mission not named" in shown
    assert _page_rows(intake, row.reference) == {
        "Statement by": "France",
        "Letter from": "mission not named",
    }


def _page_rows(intake: Intake, reference: str) -> dict[str, str]:
    """The "Statement by" and "Letter from" rows of the dashboard's submission page."""
    engine = make_engine(intake.settings.database_url)
    add_user(engine, USER, PASSWORD)
    try:
        with serve(create_app(intake.settings, engine=engine)) as url:
            board = Dashboard(url=url, intake=intake, engine=engine)
            with board.login() as client:
                page = client.get(f"/submissions/{reference}").text
    finally:
        engine.dispose()
    rows = re.findall(r"<tr><th>(Statement by|Letter from)</th><td>(.*?)</td></tr>", page)
    return {label: re.sub(r"<[^>]+>", "", value) for label, value in rows}
