"""Delegations read their replies in their own language.

Told against a real Dovecot, a real SMTP server, and both SQLite and PostgreSQL: a French
statement gets a French acknowledgement, a Spanish one a Spanish acknowledgement, a
French delegation's rejected submission lists its problems in French, a mission
configured for Spanish that sends no statement at all is answered in Spanish, and the
desk's own decision follows the language of the submission.
"""

from __future__ import annotations

from pipeline.demo import samples
from pipeline.desk.actions import decide_submission
from pipeline.replies.outbox import send_pending
from pipeline.replies.templates import load_templates
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from tests.conftest import MISSIONS, SUBMISSIONS, Intake, ny, text_of

ON_TIME = ny(2021, 5, 20, 10, 0)


def submission(mission: str, sender: str, **options: object) -> bytes:
    return samples.submission_email(
        mission_name=mission,
        sender=sender,
        to=SUBMISSIONS,
        **options,  # type: ignore[arg-type]
    )


def with_latin_american_missions(intake: Intake) -> None:
    """Mexico (no language configured) and Argentina, whose replies are in Spanish."""
    intake.reconfigure(
        missions={
            **MISSIONS,
            "MEX": {"senders": ["mexico@un.int"]},
            "ARG": {"senders": ["argentina@un.int"], "language": "es"},
        }
    )


def test_french_and_spanish_statements_are_acknowledged_in_french_and_spanish(
    intake: Intake,
) -> None:
    """GIVEN France sends a statement written in French and Mexico one written in Spanish
    WHEN the worker runs THEN France's acknowledgement is in French and Mexico's in
    Spanish: subject, text, the date of receipt and the meeting's date as each language
    writes them, and the reference in both."""
    with_latin_american_missions(intake)
    intake.deliver(submission("France", "france@un.int", language="fr"), at=ON_TIME)
    intake.deliver(submission("Mexico", "mexico@un.int", language="es"), at=ON_TIME)

    intake.run()

    by_mission = {row.mission: row for row in intake.queue()}
    assert by_mission["FRA"].status == "accepted"
    assert by_mission["MEX"].status == "accepted"
    [french] = intake.replies_to("france@un.int")
    assert french.message["Subject"].startswith("Accusé de réception : déclaration de France")
    assert by_mission["FRA"].reference in french.message["Subject"]
    text = text_of(french)
    assert "Madame, Monsieur," in text
    assert "a été acceptée et figurera dans la compilation" in text
    assert "jeudi 20 mai 2021 à 10 h 00, heure de New York (UTC-04:00)" in text
    assert "PKO-SAFETY, 24 mai 2021" in text
    assert "Lettre d'accompagnement : Cover_letter_France.pdf" in text
    assert "servicedesk@intake.example" in text
    assert "accepted" not in text

    [spanish] = intake.replies_to("mexico@un.int")
    assert spanish.message["Subject"].startswith("Acuse de recibo: declaración de Mexico")
    assert by_mission["MEX"].reference in spanish.message["Subject"]
    text = text_of(spanish)
    assert "Estimados colegas:" in text
    assert "ha sido aceptada" in text
    assert "jueves 20 de mayo de 2021, 10:00, hora de Nueva York (UTC-04:00)" in text
    assert "PKO-SAFETY, 24 de mayo de 2021" in text
    assert "Carta de presentación: Cover_letter_Mexico.pdf" in text


def test_a_french_delegations_rejection_lists_its_problems_in_french(intake: Intake) -> None:
    """GIVEN Côte d'Ivoire sends its statement in French without a cover letter, a day
    before the deadline WHEN the worker runs THEN the rejection is in French, says what is
    missing and how to fix it, and gives the deadline as a French date and time."""
    intake.deliver(
        submission("Côte d'Ivoire", "cotedivoire@un.int", language="fr", cover_letter=None),
        at=ON_TIME,
    )

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons) == ("rejected", ["no_cover_letter"])
    [rejection] = intake.replies_to("cotedivoire@un.int")
    assert rejection.message["Subject"].startswith("Envoi non accepté pour PKO-SAFETY")
    text = text_of(rejection)
    assert "n'a pas pu être accepté comme déclaration écrite" in text
    assert "1. Aucune lettre d'accompagnement n'a été trouvée." in text
    assert "avant la date limite : lundi 24 mai 2021 à 23 h 59, heure de New York" in text
    assert "No cover letter" not in text


def test_a_mission_configured_for_spanish_that_sends_no_statement_is_answered_in_spanish(
    intake: Intake,
) -> None:
    """GIVEN Argentina's replies are configured in Spanish (`language = "es"`) WHEN it sends
    a cover letter but no statement (so no statement language is known) THEN its rejection
    is in Spanish, and asks for the statement as a Word file."""
    with_latin_american_missions(intake)
    intake.deliver(submission("Argentina", "argentina@un.int", statement=False), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons) == ("rejected", ["no_statement"])
    [rejection] = intake.replies_to("argentina@un.int")
    assert rejection.message["Subject"].startswith("No aceptado: su envío para PKO-SAFETY")
    text = text_of(rejection)
    assert "1. No se adjuntó ninguna declaración." in text
    assert "archivo de Microsoft Word (.docx)" in text
    assert "recibido el jueves 20 de mayo de 2021, 10:00, hora de Nueva York" in text


def test_the_desks_decision_is_written_in_the_language_of_the_submission(intake: Intake) -> None:
    """GIVEN Mexico's Spanish statement was accepted WHEN the desk rejects it with a reason
    THEN the desk's reply to Mexico is in Spanish too, with the desk's reason quoted."""
    with_latin_american_missions(intake)
    intake.deliver(submission("Mexico", "mexico@un.int", language="es"), at=ON_TIME)
    intake.run()
    [row] = intake.queue()
    engine = make_engine(intake.settings.database_url)
    try:
        decide_submission(
            engine,
            intake.settings,
            load_templates(intake.settings),
            reference=row.reference,
            status=m.SubmissionStatus.REJECTED,
            reason="La carta no está firmada.",
            actor="desk",
        )
        send_pending(engine, intake.settings)
    finally:
        engine.dispose()

    acknowledgement, desk_reply = intake.replies_to("mexico@un.int")
    assert acknowledgement.message["Subject"].startswith("Acuse de recibo")
    assert desk_reply.message["Subject"].startswith("No aceptado tras examen: su envío")
    text = text_of(desk_reply)
    assert "Tras el examen del servicio de asistencia" in text
    assert "La carta no está firmada." in text
