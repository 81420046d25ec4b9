"""Whom the documents speak for, told in-process: the names a text holds, the author a
statement's title and a cover letter name, and what a desk officer would say of a
submission whose documents name another mission than the sender's.

The stories on real servers are in tests/test_documents_mission_stories.py.
"""

from __future__ import annotations

import pytest

from pipeline.demo import samples
from pipeline.demo.letters import cover_letter_text
from pipeline.demo.mail import build_email
from pipeline.demo.statements import sample_statement_text, statement_title
from pipeline.documents.letter_text import normalise
from pipeline.documents.mission_mentions import mentions
from pipeline.documents.speaks_for import letter_missions, statement_missions
from tests.helpers.judging import SUBMISSIONS, example_settings, judge, submission


def named(text: str) -> list[str]:
    return [mention.code for mention in mentions(normalise(text).text)]


# -- the names a text holds: the longest wins, words stand alone, accents and case fold --


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Niger and Nigeria", ["NER", "NGA"]),
        ("the Nigerian and the Nigerien delegations", ["NGA", "NER"]),
        ("Guinea, Guinea-Bissau, Equatorial Guinea", ["GIN", "GNB", "GNQ"]),
        ("Papua New Guinea", ["PNG"]),
        ("the Republic of Guinea-\nBissau", ["GNB"]),
        ("Guinée-Bissau, Guinée équatoriale, Papouasie-Nouvelle-Guinée", ["GNB", "GNQ", "PNG"]),
        ("Dominica, the Dominican Republic", ["DMA", "DOM"]),
        ("República Dominicana", ["DOM"]),
        ("the Congo and the Democratic Republic of the Congo", ["COG", "COD"]),
        ("République du Congo, République démocratique du Congo", ["COG", "COD"]),
        ("Sudan and South Sudan", ["SDN", "SSD"]),
        ("Soudan du Sud, Soudan", ["SSD", "SDN"]),
        ("the Netherlands (Kingdom of the)", ["NLD"]),
        ("the Kingdom of the Netherlands", ["NLD"]),
        ("Türkiye, Turkey, TURKIYE, Turquie", ["TUR", "TUR", "TUR", "TUR"]),
        ("Côte d'Ivoire", ["CIV"]),
        ("Côte d’Ivoire", ["CIV"]),
        ("COTE D'IVOIRE", ["CIV"]),
        ("Bolivia (Plurinational State of), the Plurinational State of Bolivia", ["BOL", "BOL"]),
        ("la République islamique d'Iran", ["IRN"]),
        ("the United Kingdom of Great Britain and Northern Ireland", ["GBR"]),
        ("the United Kingdom", ["GBR"]),
        ("the French, German and Mexican delegations", ["FRA", "DEU", "MEX"]),
        ("la délégation chinoise, la delegación mexicana", ["CHN", "MEX"]),
        ("Российской Федерации, Франции", ["RUS", "FRA"]),
        ("几内亚比绍、赤道几内亚、几内亚、南苏丹、苏丹", ["GNB", "GNQ", "GIN", "SSD", "SDN"]),
        ("السودان وجنوب السودان ولفرنسا", ["SDN", "SSD", "FRA"]),
        ("Francesca, Nigerians, Germanic, Chinaware", []),
        ("Dominican", []),  # Dominica's and the Dominican Republic's adjective alike
    ],
)
def test_a_text_names_each_mission_once_and_never_a_shorter_one_inside_a_longer(
    text: str, codes: list[str]
) -> None:
    """GIVEN a text naming missions that share words WHEN it is read THEN each name counts
    for its own mission: Niger is not in Nigeria, Guinea not in Guinea-Bissau."""
    assert named(text) == codes


# -- who a statement is by: its title and the lines before the speech begins -------------


@pytest.mark.parametrize(
    ("title", "codes"),
    [
        ("Statement by France", ["FRA"]),
        ("Statement by the Permanent Mission of France", ["FRA"]),
        ("Statement by the French delegation", ["FRA"]),
        (
            "Statement by H.E. Ambassador Nicolas de Rivière, Permanent Representative of "
            "France to the United Nations",
            ["FRA"],
        ),
        ("Déclaration de la France", ["FRA"]),
        ("Intervention de la délégation allemande", ["DEU"]),
        ("Intervención de México", ["MEX"]),
        ("Declaración de la delegación mexicana", ["MEX"]),
        ("Выступление Постоянного представителя Российской Федерации", ["RUS"]),
        ("中国常驻联合国代表张军大使在安理会公开辩论会上的发言", ["CHN"]),
        ("كلمة جمهورية مصر العربية", ["EGY"]),
        ("Statement by Niger", ["NER"]),
        ("Statement by Equatorial Guinea", ["GNQ"]),
        ("Statement by the Dominican Republic", ["DOM"]),
        ("Statement by South Sudan", ["SSD"]),
        ("Statement by the Kingdom of the Netherlands", ["NLD"]),
        ("Statement by Türkiye", ["TUR"]),
        ("Statement by Côte d’Ivoire", ["CIV"]),
        ("Statement by Estonia on behalf of the European Union", ["EST"]),
        ("Security Council open debate on peacekeeping", []),
        ("Statement at the open debate on the situation in Afghanistan", []),
        ("Déclaration sur la situation au Mali", []),
    ],
)
def test_a_statement_is_by_the_mission_its_title_names(title: str, codes: list[str]) -> None:
    """GIVEN a statement's title in one of the six languages WHEN it is read THEN the
    author is the mission it introduces ("Statement by", "Déclaration de", "发言"...)."""
    assert list(statement_missions(title, title)) == codes


def test_the_missions_a_speech_thanks_are_not_its_author() -> None:
    """GIVEN a statement without an author in its title, that thanks the presidency in its
    first sentence WHEN it is read THEN it names no author: the speech is not read."""
    text = "Open debate on peacekeeping\nMr. President, I thank Estonia for this debate."

    assert statement_missions("Open debate on peacekeeping", text) == ()


def test_the_sample_documents_name_their_own_mission() -> None:
    """GIVEN the demo's statements (three languages) and cover letters WHEN read THEN each
    names the mission it was made for, and only that one."""
    for mission, code in [("France", "FRA"), ("Côte d'Ivoire", "CIV"), ("Holy See", "VAT")]:
        assert letter_missions("\n".join(cover_letter_text(mission))) == (code,)
        for language in ("en", "fr", "es"):
            title = statement_title(mission, language=language)
            paragraphs = sample_statement_text(mission, language=language)
            assert statement_missions(title, "\n".join([title, *paragraphs])) == (code,)


def test_a_letter_is_from_the_mission_of_its_letterhead_and_signature() -> None:
    """GIVEN Germany's cover letter, addressed to the President by name and mission WHEN it
    is read THEN it is from Germany, with the presidency's mission beside it."""
    text = "\n".join(
        [
            *cover_letter_text("Germany"),
            "H.E. Mr. Sven Jürgenson, Permanent Representative of Estonia",
        ]
    )

    assert letter_missions(text) == ("DEU", "EST")
    assert letter_missions(None) == ()


# -- what the check makes of it -----------------------------------------------------------


def mixed(sender: str, *, statement_of: str, letter_of: str, **options: object) -> bytes:
    """A submission from `sender` with one mission's statement and another's letter."""
    statement = samples.submission_attachments(
        mission_name=statement_of,
        cover_letter=None,
        **options,  # type: ignore[arg-type]
    )
    letter = samples.submission_attachments(mission_name=letter_of, statement=False)
    return build_email(
        sender=sender,
        to=SUBMISSIONS,
        subject=f"PKO-SAFETY: written statement of {statement_of}",
        attachments=[*statement, *letter],
    )


def test_germanys_letter_from_frances_address_is_held_with_what_each_document_names() -> None:
    """GIVEN France's address WHEN it sends France's statement with Germany's cover letter
    THEN the desk holds it, with what was found where, and France is told which document
    names which mission."""
    judged = judge(mixed("france@un.int", statement_of="France", letter_of="Germany"))

    assert judged.outcome == "held"
    assert judged.actions == {"documents_other_mission": "hold"}
    [reason] = judged.decision.reasons
    assert {k: reason.params[k] for k in ("letter", "statement", "sender_mission")} == {
        "letter": "Germany",
        "statement": None,
        "sender_mission": "France",
    }
    assert judged.reply_kind == "held"
    assert "The cover letter is from Germany, but this address is registered for France" in (
        judged.reply_text
    )


def test_the_french_reply_names_the_missions_in_french() -> None:
    """GIVEN France's address sending a French statement of France with Germany's letter
    WHEN it is held THEN the notice is in French and names Allemagne, not Germany."""
    raw = mixed("france@un.int", statement_of="France", letter_of="Germany", language="fr")

    judged = judge(raw)

    assert judged.codes == ["documents_other_mission"]
    assert "La lettre d'accompagnement est au nom de : Allemagne" in judged.reply_text
    assert "enregistrée pour : France" in judged.reply_text


def test_a_decision_table_may_reject_documents_of_another_mission() -> None:
    """GIVEN `[decision] documents_other_mission = "reject"` WHEN France's address sends
    Germany's letter THEN it is rejected, the delegation told why."""
    settings = example_settings(decision={"documents_other_mission": "reject"})

    judged = judge(
        mixed("france@un.int", statement_of="France", letter_of="Germany"), settings=settings
    )

    assert (judged.outcome, judged.reply_kind) == ("rejected", "rejection")
    assert "The cover letter is from Germany" in judged.reply_text


def test_documents_that_name_no_mission_are_no_mismatch() -> None:
    """GIVEN France's statement and a scanned cover letter (no text) WHEN judged THEN
    nothing is said of the mission: only the scan is noted, as before."""
    judged = judge(submission("France", cover_with_text_layer=False))

    assert "documents_other_mission" not in judged.codes
    assert judged.facts.letter_missions == ()
    assert judged.facts.statement_missions == ("FRA",)


def test_frances_own_papers_are_accepted_as_before() -> None:
    """GIVEN France's address WHEN it sends France's statement and letter THEN accepted."""
    judged = judge(submission("France"))

    assert (judged.outcome, judged.codes) == ("accepted", [])
