"""Realistic sample submissions (real .docx, real PDF, real RFC 822 bytes) for tests and the demo.

Why this module exists: Intake consumes raw email bytes written by Outlook, Gmail, scanners
and mail servers, not tidy Python objects. Fixtures written by hand drift away from that
reality (LF line endings, a "PDF" that is just ``b"%PDF"``, a .docx that is a text file),
and the pipeline then passes tests it would fail in production. Every sample here is built
the way real tools build them: python-docx writes the Word files, the PDFs are complete
documents with a cross-reference table, and the emails are produced by
:class:`email.message.EmailMessage` with the SMTP policy (CRLF line endings, encoded
headers, base64 attachments).

Everything is deterministic: the same arguments always give the same bytes (no clock, no
random boundaries, no ``hash()``), so tests may compare digests (for example to detect a
statement sent twice) and the demo is reproducible from one run to the next.

The debate used by default is the open debate of 24 May 2021, "United Nations
peacekeeping operations: improving the safety and security of peacekeepers" (meeting code
``PKO-SAFETY``).
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesHeaderParser
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parseaddr
from types import MappingProxyType
from typing import Any, Literal

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

__all__ = [
    "DEFAULT_LETTER_DATE",
    "DEFAULT_SENT_AT",
    "DOCX_CONTENT_TYPE",
    "MEETINGS",
    "PDF_CONTENT_TYPE",
    "PKO_SAFETY",
    "Attachment",
    "CoverFormat",
    "Language",
    "Meeting",
    "auto_reply_email",
    "bounce_email",
    "build_email",
    "cover_letter_docx",
    "cover_letter_pdf",
    "cover_letter_text",
    "filename_slug",
    "sample_statement_text",
    "statement_docx",
    "statement_pdf",
    "statement_title",
    "submission_attachments",
    "submission_email",
]

Language = Literal["en", "fr", "es"]
CoverFormat = Literal["pdf", "docx"]

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_CONTENT_TYPE = "application/pdf"

#: Date written on cover letters unless told otherwise: a few days before the debate,
#: which is when delegations usually send their statements.
DEFAULT_LETTER_DATE = "20 May 2021"
#: ``Date:`` of sample emails unless told otherwise. A fixed instant (New York, EDT), not
#: "now", so that the same call always produces the same bytes.
DEFAULT_SENT_AT = datetime(2021, 5, 20, 16, 42, 7, tzinfo=timezone(timedelta(hours=-4)))

# Fixed timestamp written into the .docx zip entries and core properties, for determinism.
_DOCX_TIMESTAMP = datetime(2021, 5, 20, 9, 30, 0, tzinfo=UTC)
_ZIP_DATE_TIME = (2021, 5, 20, 9, 30, 0)
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Meeting:
    """A Security Council meeting that submissions refer to.

    Kept as data (not hard-coded strings) so that tests can build samples for another
    debate, and so that French and Spanish statements can quote the debate's title in
    their own language as real delegations do.
    """

    code: str
    title: str
    date_text: str
    #: ``(language, title, date_text)`` triples for languages other than English.
    translations: tuple[tuple[str, str, str], ...] = ()

    def title_in(self, language: str) -> str:
        """Title in ``language``, falling back to English like UN documents do."""
        for lang, title, _ in self.translations:
            if lang == language:
                return title
        return self.title

    def date_in(self, language: str) -> str:
        """Meeting date written out in ``language`` (English fallback)."""
        for lang, _, date_text in self.translations:
            if lang == language:
                return date_text
        return self.date_text


PKO_SAFETY = Meeting(
    code="PKO-SAFETY",
    title=(
        "United Nations peacekeeping operations: improving the safety and security of peacekeepers"
    ),
    date_text="24 May 2021",
    translations=(
        (
            "fr",
            "Opérations de maintien de la paix des Nations Unies : "
            "améliorer la sûreté et la sécurité des Casques bleus",
            "24 mai 2021",
        ),
        (
            "es",
            "Operaciones de mantenimiento de la paz de las Naciones Unidas: mejorar la "
            "seguridad y la protección del personal de mantenimiento de la paz",
            "24 de mayo de 2021",
        ),
    ),
)

#: Meetings known to the samples, by meeting code.
MEETINGS: Mapping[str, Meeting] = MappingProxyType({PKO_SAFETY.code: PKO_SAFETY})


@dataclass(frozen=True)
class Attachment:
    """One file attached to a sample email.

    ``disposition="inline"`` (with an optional ``content_id``) imitates the logos and
    signature images that mail clients embed, which the pipeline must not mistake for a
    statement.
    """

    filename: str
    content: bytes
    content_type: str
    disposition: Literal["attachment", "inline"] = "attachment"
    content_id: str | None = None


# --------------------------------------------------------------------------------------
# Deterministic helpers
# --------------------------------------------------------------------------------------


def _seed(*parts: str) -> int:
    """Stable 64-bit seed from strings (``hash()`` is salted per process, sha256 is not)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def _digest(*parts: bytes | str) -> str:
    """Hex digest of heterogeneous parts, used for Message-IDs, boundaries and PDF IDs."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
        h.update(b"\x1f")
    return h.hexdigest()


def _word_count(paragraphs: Sequence[str]) -> int:
    return sum(len(p.split()) for p in paragraphs)


def filename_slug(mission_name: str) -> str:
    """ASCII file-name fragment for a mission ("Côte d'Ivoire" -> "Cote_d_Ivoire").

    Default attachment names stay ASCII so that tests can predict them; callers who want
    the non-ASCII names that delegations do send pass an explicit file name.
    """
    folded = unicodedata.normalize("NFKD", mission_name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "_", folded).strip("_") or "Mission"


_SIGNER_NAMES: tuple[str, ...] = (
    "Maria Lindqvist",
    "José Antonio García Pérez",
    "Aïssata Diallo",
    "Kwame Mensah Owusu",
    "Elena Petrova",
    "Rahul Menon",
    "Nguyễn Thị Lan",
    "Sébastien Moreau",
    "Fatima Al-Rashid",
    "Łukasz Wójcik",
    "Zoltán Kovács",
    "Olumide Adeyemi",
    "Isabel Cristina Rocha",
    "Søren Kristensen",
    "Hiroshi Tanaka",
    "Amani Wanjiru Kamau",
)


def _default_signer(mission_name: str) -> str:
    """A fictional, stable signatory per mission (some names are deliberately non-Latin-1)."""
    return random.Random(_seed("signer", mission_name)).choice(_SIGNER_NAMES)


# --------------------------------------------------------------------------------------
# Statement texts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bank:
    """Phrases of one language: statements are assembled from these, seeded by mission."""

    openings: tuple[str, ...]
    tribute: str
    body: tuple[str, ...]
    closing: str
    title: str
    subtitle: str
    check_against_delivery: str
    original: str
    table: tuple[tuple[str, str, str], ...]
    lang_tag: str


_EN = _Bank(
    openings=(
        "Mr. President, {mission} thanks you for convening this open debate on improving "
        "the safety and security of peacekeepers, and the Under-Secretary-General for "
        "Peace Operations for his briefing.",
        "Mr. President, I wish to thank the presidency for organizing this important open "
        "debate, and the briefers for their insightful presentations.",
        "Mr. President, {mission} welcomes the opportunity to address the Council on an "
        "issue that concerns every troop- and police-contributing country.",
    ),
    tribute=(
        "We pay tribute to the men and women who have lost their lives in the service of "
        "peace, and we extend our condolences to their families and their Governments."
    ),
    body=(
        "Peacekeepers today are deployed in increasingly complex and dangerous "
        "environments, where armed groups deliberately target United Nations personnel.",
        "Improvised explosive devices, indirect fire and ambushes on convoys have become "
        "the main causes of fatalities from malicious acts.",
        "The Action for Peacekeeping initiative and its Declaration of Shared Commitments "
        "remain the right framework to address these threats collectively.",
        "Resolution 2518 (2020) rightly calls on the Secretary-General and Member States to "
        "take all appropriate measures to enhance the safety and security of peacekeepers.",
        "Casualty evacuation must be possible within the critical first hour, which "
        "requires adequate aviation assets, night-flying capability and trained medical "
        "personnel.",
        "Pre-deployment training, including on counter-IED techniques and first aid, is a "
        "shared responsibility of contributing countries and the Secretariat.",
        "Missions need modern situational awareness tools, from unmanned aerial systems to "
        "integrated analysis, so that threats are detected before they materialize.",
        "Stronger engagement with local communities builds trust, improves early warning "
        "and is itself one of the best protections for peacekeepers.",
        "Women peacekeepers strengthen that engagement, and their full, equal and "
        "meaningful participation makes missions more effective and safer.",
        "Those responsible for attacks against peacekeepers must be brought to justice, and "
        "host States should be supported in investigating and prosecuting such crimes.",
        "Mandates must be clear and realistic, and matched with the resources, equipment "
        "and capabilities that missions need to implement them.",
        "The COVID-19 pandemic has added a new dimension to the safety of personnel, and we "
        "welcome the efforts to vaccinate all uniformed and civilian staff in the field.",
        "Camp security, force protection and mobility should be planned together, so that "
        "contingents are not left isolated in remote locations.",
        "We encourage the Secretariat to continue implementing the action plan to improve "
        "the security of peacekeepers and to report regularly on progress.",
        "Host Governments have the primary responsibility for the safety of United Nations "
        "personnel, and their cooperation, including freedom of movement, is essential.",
        "Triangular cooperation between the Security Council, the Secretariat and troop- "
        "and police-contributing countries must be deepened at every stage of a mission.",
        "{mission} stands ready to share its experience in training and capacity-building "
        "with partners, including through the Light Coordination Mechanism.",
        "Misinformation and disinformation against missions endanger peacekeepers, and "
        "strategic communications deserve more attention and resources.",
        "Performance and accountability go hand in hand: well-trained and well-equipped "
        "units are both more effective and better protected.",
        "Medical support standards should be applied consistently across missions, with "
        "field hospitals and blood supplies available where risks are highest.",
        "Data on incidents and fatalities should be collected and analysed systematically, "
        "so that lessons learned translate into changes on the ground.",
        "Regional and subregional organizations can complement United Nations efforts, in "
        "particular by sharing information on armed groups operating across borders.",
    ),
    closing=(
        "In closing, {mission} reaffirms its steadfast commitment to United Nations "
        "peacekeeping and to the safety and security of all those who serve under the blue "
        "flag. I thank you, Mr. President."
    ),
    title="Statement by {mission}",
    subtitle="Security Council open debate on “{title}”, {date}",
    check_against_delivery="Check against delivery",
    original="Original: English",
    table=(
        ("Area", "Commitment", "Status"),
        ("Training", "Counter-IED pre-deployment course", "Delivered"),
        ("Medical", "Level 1 hospital staff", "Deployed"),
        ("Capacity-building", "Mobile training team", "Planned"),
    ),
    lang_tag="en-GB",
)

_FR = _Bank(
    openings=(
        "Monsieur le Président, {mission} vous remercie d'avoir organisé ce débat public "
        "consacré à l'amélioration de la sûreté et de la sécurité des Casques bleus, et "
        "remercie le Secrétaire général adjoint aux opérations de paix pour son exposé.",
        "Monsieur le Président, je tiens à remercier la présidence d'avoir convoqué ce "
        "débat public important, ainsi que les intervenants pour leurs exposés éclairants.",
        "Monsieur le Président, {mission} se félicite de pouvoir s'exprimer devant le "
        "Conseil sur une question qui concerne chaque pays fournisseur de contingents.",
    ),
    tribute=(
        "Nous rendons hommage aux femmes et aux hommes qui ont perdu la vie au service de "
        "la paix et présentons nos sincères condoléances à leurs familles et à leurs "
        "gouvernements."
    ),
    body=(
        "Les Casques bleus sont aujourd'hui déployés dans des environnements de plus en plus "
        "complexes et dangereux, où des groupes armés prennent délibérément pour cible le "
        "personnel des Nations Unies.",
        "Les engins explosifs improvisés, les tirs indirects et les embuscades contre les "
        "convois sont devenus les principales causes de décès liés à des actes de "
        "malveillance.",
        "L'initiative Action pour le maintien de la paix et sa Déclaration d'engagements "
        "communs demeurent le cadre approprié pour faire face collectivement à ces menaces.",
        "La résolution 2518 (2020) demande à juste titre au Secrétaire général et aux États "
        "Membres de prendre toutes les mesures appropriées pour renforcer la sûreté et la "
        "sécurité des Casques bleus.",
        "L'évacuation des blessés doit pouvoir s'effectuer dans la première heure critique, "
        "ce qui exige des moyens aériens adaptés, une capacité de vol de nuit et un "
        "personnel médical formé.",
        "La formation préalable au déploiement, notamment à la lutte contre les engins "
        "explosifs et aux premiers secours, est une responsabilité partagée entre les pays "
        "contributeurs et le Secrétariat.",
        "Les missions ont besoin d'outils modernes de connaissance de la situation, des "
        "drones à l'analyse intégrée, afin de détecter les menaces avant qu'elles ne se "
        "concrétisent.",
        "Un dialogue renforcé avec les communautés locales crée la confiance, améliore "
        "l'alerte précoce et constitue en soi l'une des meilleures protections des Casques "
        "bleus.",
        "Les femmes Casques bleus renforcent ce dialogue, et leur participation pleine, "
        "égale et véritable rend les missions plus efficaces et plus sûres.",
        "Les auteurs d'attaques contre les Casques bleus doivent être traduits en justice, "
        "et les États hôtes doivent être soutenus dans les enquêtes et les poursuites "
        "relatives à ces crimes.",
        "Les mandats doivent être clairs et réalistes, et assortis des ressources, des "
        "équipements et des capacités dont les missions ont besoin pour les exécuter.",
        "La pandémie de COVID-19 a ajouté une nouvelle dimension à la sécurité du "
        "personnel, et nous saluons les efforts visant à vacciner l'ensemble du personnel "
        "en uniforme et civil sur le terrain.",
        "La sécurité des camps, la protection de la force et la mobilité doivent être "
        "planifiées ensemble, afin que les contingents ne soient pas isolés dans des zones "
        "reculées.",
        "Nous encourageons le Secrétariat à poursuivre la mise en œuvre du plan d'action "
        "visant à améliorer la sécurité des Casques bleus et à rendre compte régulièrement "
        "des progrès accomplis.",
        "Les gouvernements hôtes sont les premiers responsables de la sécurité du personnel "
        "des Nations Unies, et leur coopération, y compris la liberté de circulation, est "
        "essentielle.",
        "La coopération triangulaire entre le Conseil de sécurité, le Secrétariat et les "
        "pays fournisseurs de contingents et de personnel de police doit être approfondie à "
        "chaque étape d'une mission.",
        "{mission} se tient prêt à partager son expérience en matière de formation et de "
        "renforcement des capacités, notamment dans le cadre du Mécanisme de coordination "
        "légère.",
        "La mésinformation et la désinformation visant les missions mettent en danger les "
        "Casques bleus, et la communication stratégique mérite davantage d'attention et de "
        "ressources.",
        "Performance et responsabilité vont de pair : des unités bien formées et bien "
        "équipées sont à la fois plus efficaces et mieux protégées.",
        "Les normes de soutien médical doivent être appliquées de manière cohérente dans "
        "toutes les missions, avec des hôpitaux de campagne et des réserves de sang là où "
        "les risques sont les plus élevés.",
        "Les données sur les incidents et les décès doivent être collectées et analysées "
        "systématiquement, afin que les enseignements tirés se traduisent par des "
        "changements sur le terrain.",
        "Les organisations régionales et sous-régionales peuvent compléter l'action des "
        "Nations Unies, notamment en partageant des informations sur les groupes armés "
        "opérant de part et d'autre des frontières.",
    ),
    closing=(
        "Pour conclure, {mission} réaffirme son attachement indéfectible au maintien de la "
        "paix des Nations Unies ainsi qu'à la sûreté et à la sécurité de toutes celles et "
        "de tous ceux qui servent sous le drapeau bleu. Je vous remercie, Monsieur le "
        "Président."
    ),
    title="Déclaration de {mission}",
    subtitle="Débat public du Conseil de sécurité sur le thème « {title} », {date}",
    check_against_delivery="Seul le texte prononcé fait foi",
    original="Original : français",
    table=(
        ("Domaine", "Engagement", "État"),
        ("Formation", "Cours de lutte contre les engins explosifs", "Réalisé"),
        ("Médical", "Personnel d'hôpital de niveau 1", "Déployé"),
        ("Renforcement des capacités", "Équipe mobile de formation", "Prévu"),
    ),
    lang_tag="fr-FR",
)

_ES = _Bank(
    openings=(
        "Señor Presidente: {mission} le agradece la convocación de este debate abierto "
        "sobre la mejora de la seguridad y la protección del personal de mantenimiento de "
        "la paz, así como la exposición del Secretario General Adjunto de Operaciones de "
        "Paz.",
        "Señor Presidente: deseo agradecer a la Presidencia la organización de este "
        "importante debate abierto y a los ponentes sus valiosas exposiciones.",
        "Señor Presidente: {mission} celebra la oportunidad de dirigirse al Consejo sobre "
        "una cuestión que atañe a todos los países que aportan contingentes.",
    ),
    tribute=(
        "Rendimos homenaje a las mujeres y los hombres que han perdido la vida al servicio "
        "de la paz y transmitimos nuestras condolencias a sus familias y a sus Gobiernos."
    ),
    body=(
        "El personal de mantenimiento de la paz se despliega hoy en entornos cada vez más "
        "complejos y peligrosos, donde los grupos armados atacan deliberadamente al "
        "personal de las Naciones Unidas.",
        "Los artefactos explosivos improvisados, el fuego indirecto y las emboscadas contra "
        "convoyes se han convertido en las principales causas de muertes por actos "
        "malintencionados.",
        "La iniciativa Acción para el Mantenimiento de la Paz y su Declaración de "
        "Compromisos Compartidos siguen siendo el marco adecuado para afrontar "
        "colectivamente estas amenazas.",
        "La resolución 2518 (2020) exhorta acertadamente al Secretario General y a los "
        "Estados Miembros a adoptar todas las medidas apropiadas para mejorar la seguridad "
        "del personal de mantenimiento de la paz.",
        "La evacuación de heridos debe ser posible dentro de la primera hora crítica, lo que "
        "exige medios aéreos adecuados, capacidad de vuelo nocturno y personal médico "
        "capacitado.",
        "La capacitación previa al despliegue, incluida la lucha contra los artefactos "
        "explosivos y los primeros auxilios, es una responsabilidad compartida entre los "
        "países contribuyentes y la Secretaría.",
        "Las misiones necesitan herramientas modernas de conocimiento de la situación, desde "
        "sistemas aéreos no tripulados hasta el análisis integrado, para detectar las "
        "amenazas antes de que se materialicen.",
        "Un mayor diálogo con las comunidades locales genera confianza, mejora la alerta "
        "temprana y constituye en sí mismo una de las mejores protecciones para el personal "
        "de paz.",
        "Las mujeres en las operaciones de paz fortalecen ese diálogo, y su participación "
        "plena, igualitaria y significativa hace que las misiones sean más eficaces y más "
        "seguras.",
        "Los responsables de ataques contra el personal de mantenimiento de la paz deben "
        "comparecer ante la justicia, y se debe apoyar a los Estados anfitriones en la "
        "investigación y el enjuiciamiento de esos delitos.",
        "Los mandatos deben ser claros y realistas, y contar con los recursos, el equipo y "
        "las capacidades que las misiones necesitan para cumplirlos.",
        "La pandemia de COVID-19 ha añadido una nueva dimensión a la seguridad del "
        "personal, y acogemos con beneplácito los esfuerzos para vacunar a todo el personal "
        "uniformado y civil sobre el terreno.",
        "La seguridad de los campamentos, la protección de la fuerza y la movilidad deben "
        "planificarse de forma conjunta, para que los contingentes no queden aislados en "
        "zonas remotas.",
        "Alentamos a la Secretaría a que siga aplicando el plan de acción para mejorar la "
        "seguridad del personal de mantenimiento de la paz y a que informe periódicamente "
        "sobre los progresos realizados.",
        "Los Gobiernos anfitriones tienen la responsabilidad primordial de la seguridad del "
        "personal de las Naciones Unidas, y su cooperación, incluida la libertad de "
        "circulación, es esencial.",
        "La cooperación triangular entre el Consejo de Seguridad, la Secretaría y los países "
        "que aportan contingentes y fuerzas de policía debe profundizarse en cada etapa de "
        "una misión.",
        "{mission} está dispuesto a compartir su experiencia en materia de capacitación y "
        "fomento de la capacidad, en particular a través del Mecanismo de Coordinación "
        "Ligera.",
        "La información errónea y la desinformación contra las misiones ponen en peligro al "
        "personal de paz, y las comunicaciones estratégicas merecen más atención y recursos.",
        "El desempeño y la rendición de cuentas van de la mano: las unidades bien "
        "capacitadas y bien equipadas son a la vez más eficaces y están mejor protegidas.",
        "Las normas de apoyo médico deben aplicarse de manera uniforme en todas las "
        "misiones, con hospitales de campaña y reservas de sangre allí donde los riesgos "
        "sean mayores.",
        "Los datos sobre incidentes y víctimas mortales deben recopilarse y analizarse "
        "sistemáticamente, para que las lecciones aprendidas se traduzcan en cambios sobre "
        "el terreno.",
        "Las organizaciones regionales y subregionales pueden complementar la labor de las "
        "Naciones Unidas, en particular compartiendo información sobre los grupos armados "
        "que operan a través de las fronteras.",
    ),
    closing=(
        "Para concluir, {mission} reafirma su firme compromiso con el mantenimiento de la "
        "paz de las Naciones Unidas y con la seguridad de todas las personas que sirven "
        "bajo la bandera azul. Muchas gracias, señor Presidente."
    ),
    title="Declaración de {mission}",
    subtitle="Debate abierto del Consejo de Seguridad sobre «{title}», {date}",
    check_against_delivery="Cotejar con el discurso pronunciado",
    original="Original: español",
    table=(
        ("Ámbito", "Compromiso", "Estado"),
        ("Capacitación", "Curso contra artefactos explosivos", "Impartido"),
        ("Médico", "Personal de hospital de nivel 1", "Desplegado"),
        ("Fomento de la capacidad", "Equipo móvil de capacitación", "Previsto"),
    ),
    lang_tag="es-ES",
)

_BANKS: Mapping[str, _Bank] = MappingProxyType({"en": _EN, "fr": _FR, "es": _ES})


def _bank(language: str) -> _Bank:
    try:
        return _BANKS[language]
    except KeyError:
        raise ValueError(f"unsupported language {language!r}; use 'en', 'fr' or 'es'") from None


def statement_title(mission_name: str, *, language: Language = "en") -> str:
    """Heading a delegation would put on its statement ("Statement by Ghana")."""
    return _bank(language).title.format(mission=mission_name)


def sample_statement_text(
    mission_name: str, words: int = 350, *, language: Language = "en"
) -> list[str]:
    """Plausible statement paragraphs on peacekeeper safety, about ``words`` words long.

    Why: checks such as "statement too long" or language detection need texts that read
    like real statements and whose size is controlled. The text is assembled from a phrase
    bank with a generator seeded by sha256 of the mission name and language, so it is
    identical across runs and processes, yet differs between missions (a test can tell two
    delegations' statements apart). The result lands within about half a sentence of
    ``words``; very small requests are truncated to exactly ``words`` words.
    """
    if words < 1:
        raise ValueError("words must be at least 1")
    bank = _bank(language)
    rng = random.Random(_seed("statement", mission_name, language))
    head = f"{rng.choice(bank.openings)} {bank.tribute}".format(mission=mission_name)
    tail = bank.closing.format(mission=mission_name)
    fixed = _word_count([head, tail])
    if words <= fixed:
        tokens = f"{head} {tail}".split()[:words]
        text = " ".join(tokens).rstrip(",;:")
        return [text if text.endswith((".", "!", "?")) else text + "."]

    budget = words - fixed
    chosen: list[str] = []
    count = 0
    pool: list[str] = []
    while count < budget:
        if not pool:
            pool = list(bank.body)
            rng.shuffle(pool)
        sentence = pool.pop().format(mission=mission_name)
        n = len(sentence.split())
        # Stop rather than overshoot by more than we would undershoot.
        if count + n - budget > budget - count:
            break
        chosen.append(sentence)
        count += n

    body: list[str] = []
    i = 0
    while i < len(chosen):
        size = rng.choice((2, 3, 3, 4))
        body.append(" ".join(chosen[i : i + size]))
        i += size
    return [head, *body, tail]


# --------------------------------------------------------------------------------------
# Word documents
# --------------------------------------------------------------------------------------


def _set_default_language(document: Any, lang_tag: str) -> None:
    """Tag the Normal style with a language, as Word does, so language checks can read it."""
    rpr = document.styles["Normal"].element.get_or_add_rPr()
    for old in rpr.findall(qn("w:lang")):
        rpr.remove(old)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), lang_tag)
    lang.set(qn("w:eastAsia"), lang_tag)
    lang.set(qn("w:bidi"), "ar-SA")
    rpr.append(lang)


def _normalize_zip(blob: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps so that equal documents are equal bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(blob)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def _save_docx(document: Any, *, title: str, author: str, language: str) -> bytes:
    """Fill core properties deterministically and serialize the document to bytes."""
    props = document.core_properties
    props.title = title
    props.author = author
    props.last_modified_by = author
    props.language = language
    props.revision = 1
    props.comments = ""  # python-docx writes "generated by python-docx" otherwise
    props.created = _DOCX_TIMESTAMP
    props.modified = _DOCX_TIMESTAMP
    buf = io.BytesIO()
    document.save(buf)
    return _normalize_zip(buf.getvalue())


def statement_docx(
    title: str,
    paragraphs: Sequence[str],
    *,
    language: Language = "en",
    subtitle: str | None = None,
    with_table: bool = False,
    author: str = "Permanent Mission",
) -> bytes:
    """A real Word statement: heading, a bold/italic "check against delivery" line, body.

    Why: the pipeline extracts text, word counts and language from the .docx itself, so the
    sample must be what Word would produce rather than a renamed text file. The body
    paragraphs appear verbatim as document paragraphs, in order; ``with_table`` adds a
    small table because real statements sometimes carry one and text extraction must not
    choke on it.
    """
    bank = _bank(language)
    document = Document()
    _set_default_language(document, bank.lang_tag)
    document.add_heading(title, level=1)
    if subtitle:
        document.add_paragraph(subtitle, style="Subtitle")

    marker = document.add_paragraph()
    marker.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    bold = marker.add_run(bank.check_against_delivery)
    bold.bold = True
    marker.add_run(" – ")
    italic = marker.add_run(bank.original)
    italic.italic = True

    for text in paragraphs:
        paragraph = document.add_paragraph(text)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        paragraph.paragraph_format.space_after = Pt(8)

    if with_table:
        rows = bank.table
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        table.style = "Table Grid"
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                cell = table.cell(r, c)
                cell.text = value
                if r == 0:
                    for run in cell.paragraphs[0].runs:
                        run.bold = True

    return _save_docx(document, title=title, author=author, language=bank.lang_tag)


def _mission_clause(mission_name: str, signatory: str) -> str:
    """UN style: a Representative is "of X", anybody else "of the Permanent Mission of X"."""
    if "representative" in signatory.lower():
        return f"{signatory} of {mission_name}"
    return f"{signatory} of the Permanent Mission of {mission_name}"


@dataclass(frozen=True)
class _LetterText:
    letterhead: tuple[str, ...]
    reference: str
    place_date: str
    heading: str
    salutation: str
    body: tuple[str, ...]
    closing: str
    signature: str
    addressee: tuple[str, ...]


def _letter_text(
    mission_name: str,
    *,
    signatory: str,
    meeting_title: str,
    date_text: str,
    meeting_date_text: str,
    signer_name: str | None,
) -> _LetterText:
    """The single source of the cover letter's wording, shared by the Word and PDF forms."""
    rng = random.Random(_seed("letter", mission_name))
    signer = signer_name or _default_signer(mission_name)
    return _LetterText(
        letterhead=(
            f"Permanent Mission of {mission_name} to the United Nations",
            f"{rng.randint(100, 899)} {rng.choice(('East', 'Second', 'Third'))} "
            f"{rng.choice(('Avenue', 'Street'))}, New York, NY 10017",
        ),
        reference=f"Ref.: {filename_slug(mission_name)[:3].upper()}/UNSC/{rng.randint(10, 999)}",
        place_date=f"New York, {date_text}",
        heading=(
            f"Letter dated {date_text} from the {_mission_clause(mission_name, signatory)} "
            "to the United Nations addressed to the President of the Security Council"
        ),
        salutation="Excellency,",
        body=(
            f"I have the honour to transmit herewith the statement of {mission_name} for the "
            f"open debate of the Security Council on “{meeting_title}”, to be held on "
            f"{meeting_date_text} (see annex).",
            "I should be grateful if the present letter and its annex could be circulated "
            "as a document of the Security Council.",
        ),
        closing="Please accept, Excellency, the assurances of my highest consideration.",
        signature=f"(Signed) {signer}, {signatory}",
        addressee=(
            "The President of the Security Council",
            "United Nations",
            "New York",
        ),
    )


def cover_letter_text(
    mission_name: str,
    *,
    signatory: str = "Permanent Representative",
    meeting_title: str = PKO_SAFETY.title,
    date_text: str = DEFAULT_LETTER_DATE,
    meeting_date_text: str = PKO_SAFETY.date_text,
    signer_name: str | None = None,
) -> list[str]:
    """The cover letter as plain paragraphs, in reading order.

    Why: tests of cover-letter checks need the expected wording without parsing the
    generated .docx or PDF; this is exactly what both formats contain (the PDF in its
    Latin-1 transliteration).
    """
    t = _letter_text(
        mission_name,
        signatory=signatory,
        meeting_title=meeting_title,
        date_text=date_text,
        meeting_date_text=meeting_date_text,
        signer_name=signer_name,
    )
    return [
        *t.letterhead,
        t.reference,
        t.place_date,
        t.heading,
        t.salutation,
        *t.body,
        t.closing,
        t.signature,
        *t.addressee,
    ]


def cover_letter_docx(
    mission_name: str,
    *,
    signatory: str = "Permanent Representative",
    meeting_title: str = PKO_SAFETY.title,
    date_text: str = DEFAULT_LETTER_DATE,
    meeting_date_text: str = PKO_SAFETY.date_text,
    signer_name: str | None = None,
) -> bytes:
    """A cover letter typed in Word, as some delegations send instead of a signed scan.

    Why: the pipeline must recognize a cover letter by its wording ("Letter dated ...
    addressed to the President of the Security Council", "(Signed) NAME, Permanent
    Representative") whatever the file format. ``signatory`` may be e.g. "Chargé
    d'affaires a.i." to exercise that branch; the signer's name defaults to a fictional
    name stable per mission.
    """
    t = _letter_text(
        mission_name,
        signatory=signatory,
        meeting_title=meeting_title,
        date_text=date_text,
        meeting_date_text=meeting_date_text,
        signer_name=signer_name,
    )
    document = Document()
    _set_default_language(document, "en-GB")
    for i, line in enumerate(t.letterhead):
        p = document.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(line)
        run.bold = i == 0
    document.add_paragraph(t.reference)
    date_p = document.add_paragraph(t.place_date)
    date_p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    heading = document.add_paragraph()
    heading.add_run(t.heading).bold = True
    document.add_paragraph(t.salutation)
    for text in t.body:
        p = document.add_paragraph(text)
        p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    document.add_paragraph(t.closing)
    document.add_paragraph(t.signature)
    for line in t.addressee:
        document.add_paragraph(line)
    return _save_docx(
        document,
        title=t.heading,
        author=f"Permanent Mission of {mission_name}",
        language="en-GB",
    )


# --------------------------------------------------------------------------------------
# PDF (written by hand: one dependency less, and full control over the text layer)
# --------------------------------------------------------------------------------------

_PAGE_WIDTH = 612.0  # US Letter, as printed in New York missions
_PAGE_HEIGHT = 792.0
_MARGIN = 72.0

# Helvetica advance widths (1/1000 em) for ASCII 32..126, from the standard AFM metrics.
_HELVETICA_WIDTHS = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
)  # fmt: skip

_LATIN1_REPLACEMENTS = {
    "‘": "'", "’": "'", "‚": ",", "‛": "'", "“": '"', "”": '"', "„": '"',
    "–": "-", "—": "-", "‐": "-", "‑": "-", "…": "...", "•": "*", "€": "EUR",
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L",
    "đ": "d", "Đ": "D", "ı": "i", "™": "TM",
}  # fmt: skip


def _to_latin1(text: str) -> str:
    """Transliterate to printable Latin-1, the repertoire of the PDF's WinAnsi fonts.

    Why: the standard-14 Helvetica only has WinAnsi glyphs; characters outside it are
    folded (ễ -> e, ł -> l, “ -> ") or dropped, never written as mojibake.
    """

    def printable(ch: str) -> bool:
        return 0x20 <= ord(ch) < 0x7F or 0xA0 <= ord(ch) <= 0xFF

    out: list[str] = []
    for ch in text:
        if ch in _LATIN1_REPLACEMENTS:
            out.append(_LATIN1_REPLACEMENTS[ch])
        elif printable(ch):
            out.append(ch)
        else:
            out.extend(
                part
                for part in unicodedata.normalize("NFKD", ch)
                if printable(part) and not unicodedata.combining(part)
            )
    return "".join(out)


def _pdf_string(text: str) -> bytes:
    """A PDF literal string: parentheses and backslashes escaped, high bytes as octal."""
    out = bytearray(b"(")
    for byte in _to_latin1(text).encode("latin-1"):
        if byte in (0x28, 0x29, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte >= 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b")"
    return bytes(out)


def _text_width(text: str, size: float, bold: bool) -> float:
    units = 0
    for ch in text:
        code = ord(ch)
        units += _HELVETICA_WIDTHS[code - 32] if 32 <= code <= 126 else 556
    return units * size / 1000 * (1.07 if bold else 1.0)


def _wrap(text: str, size: float, bold: bool, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and _text_width(candidate, size, bold) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines or [""]


@dataclass(frozen=True)
class _Block:
    text: str
    size: float = 11.0
    bold: bool = False
    space_before: float = 0.0
    align: Literal["left", "center", "right"] = "left"


@dataclass(frozen=True)
class _Line:
    text: str
    x: float
    y: float
    size: float
    bold: bool


def _layout(blocks: Sequence[_Block]) -> list[list[_Line]]:
    """Wrap blocks into lines and pages (top-down, Letter size, 1-inch margins)."""
    usable = _PAGE_WIDTH - 2 * _MARGIN
    pages: list[list[_Line]] = [[]]
    y = _PAGE_HEIGHT - _MARGIN
    for block in blocks:
        leading = block.size * 1.35
        y -= block.space_before
        for text in _wrap(_to_latin1(block.text), block.size, block.bold, usable):
            if y - leading < _MARGIN:
                pages.append([])
                y = _PAGE_HEIGHT - _MARGIN
            y -= leading
            width = _text_width(text, block.size, block.bold)
            x = _MARGIN
            if block.align == "center":
                x = (_PAGE_WIDTH - width) / 2
            elif block.align == "right":
                x = _PAGE_WIDTH - _MARGIN - width
            pages[-1].append(_Line(text, round(x, 2), round(y, 2), block.size, block.bold))
    return pages


def _fmt(value: float) -> bytes:
    return (b"%.2f" % value).rstrip(b"0").rstrip(b".") or b"0"


def _text_content(lines: Sequence[_Line]) -> bytes:
    """Content stream drawing each line with Helvetica: a genuine, extractable text layer."""
    out = bytearray()
    for line in lines:
        font = b"/F2" if line.bold else b"/F1"
        out += b"BT %s %s Tf %s %s Td %s Tj ET\n" % (
            font,
            _fmt(line.size),
            _fmt(line.x),
            _fmt(line.y),
            _pdf_string(line.text),
        )
    return bytes(out)


def _circle(cx: float, cy: float, r: float) -> bytes:
    """A circle as four Bézier curves (PDF has no circle operator)."""
    k = 0.5523 * r
    points = (
        (cx + r, cy, cx + r, cy + k, cx + k, cy + r, cx, cy + r),
        (cx, cy + r, cx - k, cy + r, cx - r, cy + k, cx - r, cy),
        (cx - r, cy, cx - r, cy - k, cx - k, cy - r, cx, cy - r),
        (cx, cy - r, cx + k, cy - r, cx + r, cy - k, cx + r, cy),
    )
    out = b"%s %s m\n" % (_fmt(points[0][0]), _fmt(points[0][1]))
    for p in points:
        out += b"%s %s %s %s %s %s c\n" % tuple(_fmt(v) for v in p[2:])
    return out + b"S\n"


def _scan_content(lines: Sequence[_Line], seed: int) -> bytes:
    """Vector shapes only, imitating a scanned letter: no font, no text operator.

    Why: cover letters often arrive as image-only scans; the pipeline must notice that no
    text can be extracted (and e.g. queue the letter for OCR or a human) rather than
    read an empty string as "no signature". Words are grey bars on an off-white, slightly
    skewed page, with a handwritten-looking signature and a round mission stamp.
    """
    rng = random.Random(seed)
    angle = math.radians(rng.uniform(-0.6, 0.6))
    cos, sin = math.cos(angle), math.sin(angle)
    out = bytearray(b"0.96 0.96 0.94 rg 0 0 612 792 re f\n")
    out += b"q %s %s %s %s %s %s cm\n" % tuple(
        _fmt(v) for v in (cos, sin, -sin, cos, rng.uniform(-4, 4), rng.uniform(-4, 4))
    )
    for line in lines:
        x = line.x
        space = _text_width(" ", line.size, line.bold)
        shade = 0.08 if line.bold else 0.18
        for word in line.text.split():
            w = _text_width(word, line.size, line.bold)
            grey = max(0.0, min(0.5, shade + rng.uniform(-0.05, 0.05)))
            out += b"%s g %s %s %s %s re f\n" % (
                _fmt(grey),
                _fmt(x),
                _fmt(line.y - line.size * 0.1),
                _fmt(w),
                _fmt(line.size * 0.62),
            )
            x += w + space
        if line.text.startswith("(Signed)"):
            # A pen signature above the signature line, and the mission's stamp beside it.
            sx, sy = line.x + 20, line.y + 16
            out += b"0.05 0.1 0.45 RG 1.2 w 1 J %s %s m\n" % (_fmt(sx), _fmt(sy))
            for _ in range(5):
                dx = rng.uniform(14, 26)
                out += b"%s %s %s %s %s %s c\n" % tuple(
                    _fmt(v)
                    for v in (
                        sx + dx * 0.3,
                        sy + rng.uniform(8, 18),
                        sx + dx * 0.7,
                        sy - rng.uniform(8, 16),
                        sx + dx,
                        sy + rng.uniform(-3, 3),
                    )
                )
                sx += dx
            out += b"S\n0.2 0.25 0.6 RG 1.5 w\n"
            cx, cy = _PAGE_WIDTH - _MARGIN - 60, line.y + 10
            out += _circle(cx, cy, 34) + _circle(cx, cy, 26)
    out += b"Q\n"
    return bytes(out)


def _pdf_date(moment: datetime) -> bytes:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    tz = f"{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"
    return _pdf_string(moment.strftime("D:%Y%m%d%H%M%S") + tz)


def _render_pdf(
    blocks: Sequence[_Block],
    *,
    with_text_layer: bool,
    compress: bool,
    info: Mapping[str, str],
    seed: int,
) -> bytes:
    """Serialize blocks into a complete PDF 1.4 with a byte-exact cross-reference table."""
    pages = _layout(blocks)
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree (filled in below)

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    resources = b"<< >>"
    if with_text_layer:
        regular = add(
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
        )
        bold = add(
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
            b"/Encoding /WinAnsiEncoding >>"
        )
        resources = b"<< /Font << /F1 %d 0 R /F2 %d 0 R >> /ProcSet [/PDF /Text] >>" % (
            regular,
            bold,
        )

    page_ids: list[int] = []
    for number, lines in enumerate(pages):
        content = _text_content(lines) if with_text_layer else _scan_content(lines, seed + number)
        filters = b""
        if compress:
            content = zlib.compress(content, 9)
            filters = b" /Filter /FlateDecode"
        stream = b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(content), filters, content)
        content_id = add(stream)
        page_ids.append(
            add(
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources %s "
                b"/Contents %d 0 R >>"
                % (_fmt(_PAGE_WIDTH), _fmt(_PAGE_HEIGHT), resources, content_id)
            )
        )
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % i for i in page_ids),
        len(page_ids),
    )
    info_body = b"<< " + b" ".join(
        b"/%s %s" % (key.encode("ascii"), _pdf_string(value)) for key, value in info.items()
    )
    info_body += b" /CreationDate %s /ModDate %s >>" % (
        _pdf_date(DEFAULT_SENT_AT),
        _pdf_date(DEFAULT_SENT_AT),
    )
    info_id = add(info_body)

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset  # 20 bytes per entry, as the spec demands
    file_id = _digest(bytes(out))[:32].encode("ascii")
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1,
        info_id,
        file_id,
        file_id,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def cover_letter_pdf(
    mission_name: str,
    *,
    signatory: str = "Permanent Representative",
    meeting_title: str = PKO_SAFETY.title,
    date_text: str = DEFAULT_LETTER_DATE,
    meeting_date_text: str = PKO_SAFETY.date_text,
    signer_name: str | None = None,
    with_text_layer: bool = True,
    compress: bool = False,
) -> bytes:
    """The cover letter as a one-page PDF, with or without a text layer.

    Why: most cover letters arrive as PDFs, many of them scans. With
    ``with_text_layer=True`` the letter's lines are Helvetica text (Latin-1 transliterated)
    that ``pdftotext`` and similar tools extract; with ``False`` the page only draws vector
    shapes, like a scan, so nothing is extractable. ``compress`` Flate-encodes the content
    stream as most producers do; it is off by default so that naive extractors work too.
    """
    t = _letter_text(
        mission_name,
        signatory=signatory,
        meeting_title=meeting_title,
        date_text=date_text,
        meeting_date_text=meeting_date_text,
        signer_name=signer_name,
    )
    blocks = [
        _Block(t.letterhead[0], size=12, bold=True, align="center"),
        _Block(t.letterhead[1], size=9, align="center"),
        _Block(t.reference, size=10, space_before=18),
        _Block(t.place_date, align="right", space_before=4),
        _Block(t.heading, bold=True, space_before=18),
        _Block(t.salutation, space_before=14),
        *(_Block(text, space_before=8) for text in t.body),
        _Block(t.closing, space_before=8),
        _Block(t.signature, space_before=40),
        *(_Block(line, space_before=28 if i == 0 else 0) for i, line in enumerate(t.addressee)),
    ]
    info = (
        {"Title": t.heading, "Author": f"Permanent Mission of {mission_name}",
         "Producer": "Intake demo samples"}
        if with_text_layer
        else {"Creator": "Network scanner", "Producer": "Intake demo samples (scan imitation)"}
    )  # fmt: skip
    return _render_pdf(
        blocks,
        with_text_layer=with_text_layer,
        compress=compress,
        info=info,
        seed=_seed("cover-pdf", mission_name, date_text),
    )


def statement_pdf(
    title: str,
    paragraphs: Sequence[str],
    *,
    language: Language = "en",
    subtitle: str | None = None,
    with_text_layer: bool = True,
    compress: bool = False,
) -> bytes:
    """A statement sent as PDF instead of Word (multi-page when long).

    Why: delegations are asked for a .docx but some send a PDF; the pipeline must notice
    the wrong format while still being able to read the text.
    """
    bank = _bank(language)
    blocks = [_Block(title, size=14, bold=True)]
    if subtitle:
        blocks.append(_Block(subtitle, size=11, space_before=6))
    blocks.append(
        _Block(f"{bank.check_against_delivery} - {bank.original}", size=9, align="right",
               space_before=10)
    )  # fmt: skip
    blocks.extend(_Block(text, space_before=9) for text in paragraphs)
    return _render_pdf(
        blocks,
        with_text_layer=with_text_layer,
        compress=compress,
        info={"Title": title, "Producer": "Intake demo samples", "Language": bank.lang_tag},
        seed=_seed("statement-pdf", title),
    )


# --------------------------------------------------------------------------------------
# Emails
# --------------------------------------------------------------------------------------


def _domain(address: str) -> str:
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "intake.example"


def _address_header(address: str, display_name: str | None) -> str | Address:
    if display_name is None:
        return address
    _, addr = parseaddr(address)
    return Address(display_name=display_name, addr_spec=addr or address)


def _set_boundaries(message: Message, digest: str) -> None:
    """Replace the random MIME boundaries that ``email`` picks with stable ones.

    The "=_" sequence cannot occur in base64 or quoted-printable text, which is why mail
    clients use it in boundaries too.
    """
    for index, part in enumerate(message.walk()):
        # message/delivery-status also has a list payload, but takes no boundary.
        if part.get_content_maintype() == "multipart":
            part.set_boundary(f"----=_Part_{index}_{digest[:24]}")


def _apply_headers(message: Message, headers: Mapping[str, str]) -> None:
    for name, value in headers.items():
        if name in message:
            message.replace_header(name, value)
        else:
            message[name] = value


def build_email(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str = "Please find the attached documents.\n",
    attachments: Sequence[Attachment] = (),
    date: datetime | None = None,
    message_id: str | None = None,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
    sender_name: str | None = None,
    cc: str | None = None,
    html_body: str | None = None,
) -> bytes:
    """Raw RFC 822 bytes of an email, as a mail client would hand them to SMTP.

    Why: the pipeline's input is bytes from IMAP, so samples must go through a real MIME
    generator: CRLF line endings, RFC 2047/2231 encoding of non-ASCII names, base64
    attachments. Defaults are fixed (``DEFAULT_SENT_AT``; a Message-ID and MIME boundaries
    derived from the content) so identical calls give identical bytes, while different
    content gets a different Message-ID. ``extra_headers`` replaces same-named headers.
    ``html_body`` adds a ``multipart/alternative`` HTML version, as Outlook sends.
    """
    sent_at = date or DEFAULT_SENT_AT
    digest = _digest(
        sender,
        to,
        cc or "",
        subject,
        body,
        html_body or "",
        sent_at.isoformat(),
        *(part for a in attachments for part in (a.filename, a.content_type, a.content)),
    )
    message = EmailMessage(policy=SMTP)
    message["From"] = _address_header(sender, sender_name)
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id or f"<{digest[:32]}@{_domain(sender)}>"
    message.set_content(body)
    if html_body is not None:
        message.add_alternative(html_body, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
            disposition=attachment.disposition,
            cid=attachment.content_id,
        )
    for part in message.iter_parts() if message.is_multipart() else ():
        # ``email`` stamps every sub-part it creates with MIME-Version; mail clients don't.
        for sub in part.walk():
            del sub["MIME-Version"]
    _apply_headers(message, extra_headers)
    _set_boundaries(message, digest)
    return message.as_bytes(policy=SMTP)


def auto_reply_email(
    *,
    sender: str,
    to: str,
    original_subject: str,
    in_reply_to: str | None = None,
    body: str | None = None,
    date: datetime | None = None,
    message_id: str | None = None,
    sender_name: str | None = None,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
) -> bytes:
    """An out-of-office reply, as Exchange sends it (``Auto-Submitted: auto-replied``).

    Why: Intake's acknowledgements reach diplomats who are travelling; their automatic
    replies land in the intake mailbox and must be recognized (RFC 3834) rather than
    processed as submissions or answered, which would start a mail loop.
    """
    headers = {
        "Auto-Submitted": "auto-replied",
        "X-Auto-Response-Suppress": "All",
        **({"In-Reply-To": in_reply_to, "References": in_reply_to} if in_reply_to else {}),
        **extra_headers,
    }
    text = body or (
        "Thank you for your message.\n\n"
        "I am out of the office until 31 May 2021 with limited access to email. For urgent "
        "matters, please contact the Political Coordinator of the Mission.\n"
    )
    return build_email(
        sender=sender,
        to=to,
        subject=f"Automatic reply: {original_subject}",
        body=text,
        date=date,
        message_id=message_id,
        extra_headers=headers,
        sender_name=sender_name,
    )


def _header_block(raw: bytes) -> str:
    """The header section of a raw message, unfolded lines kept, CRLF-normalized."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    head = raw if end < 0 else raw[:end]
    text = head.decode("ascii", errors="replace").replace("\r\n", "\n")
    return text + "\n"


def bounce_email(
    *,
    original: bytes,
    failed_recipient: str | None = None,
    reporting_mta: str | None = None,
    action: Literal["failed", "delayed"] = "failed",
    status: str | None = None,
    diagnostic: str | None = None,
    date: datetime | None = None,
    message_id: str | None = None,
    return_content: Literal["headers", "full"] = "headers",
) -> bytes:
    """A delivery status notification (RFC 3464) for ``original``, as Postfix sends it.

    Why: when an acknowledgement to a delegation cannot be delivered, the intake mailbox
    receives a ``multipart/report; report-type=delivery-status`` from ``MAILER-DAEMON``.
    The pipeline must classify it (hard ``failed`` vs. transient ``delayed``) and match it
    to the original through the returned headers, never treat it as a submission. The
    report has the human-readable text, a ``message/delivery-status`` part and either the
    original headers (``text/rfc822-headers``) or the whole original (``message/rfc822``).
    """
    parsed = Message()
    for name, value in _parse_headers(original):
        parsed[name] = value
    original_sender = parseaddr(str(parsed.get("From", "")))[1] or "postmaster@intake.example"
    recipients = [addr for _, addr in getaddresses([str(parsed.get("To", ""))]) if addr]
    recipient = failed_recipient or (recipients[0] if recipients else "unknown@invalid")
    mta = reporting_mta or f"mail.{_domain(original_sender)}"
    remote = f"mx.{recipient.rpartition('@')[2]}"
    sent_at = date or DEFAULT_SENT_AT
    if action == "failed":
        code = status or "5.1.1"
        diag = diagnostic or (
            f"smtp; 550 {code} <{recipient}>: Recipient address rejected: "
            "User unknown in virtual mailbox table"
        )
        subject = "Undelivered Mail Returned to Sender"
        explanation = (
            f"This is the mail system at host {mta}.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients. It's attached below.\n\n"
            "For further assistance, please send mail to postmaster.\n\n"
            "If you do so, please include this problem report. You can\n"
            "delete your own text from the attached returned message.\n\n"
            "                   The mail system\n\n"
            f"<{recipient}>: host {remote} said: {diag.removeprefix('smtp; ')}\n"
        )
    else:
        code = status or "4.4.1"
        diag = diagnostic or f"smtp; 421 {code} Connection timed out"
        subject = "Delayed Mail (still being retried)"
        explanation = (
            f"This is the mail system at host {mta}.\n\n"
            "####################################################################\n"
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
            "####################################################################\n\n"
            "Your message could not be delivered for more than 4 hour(s).\n"
            "It will be retried until it is 5 day(s) old.\n\n"
            f"<{recipient}>: connect to {remote}: Connection timed out\n"
        )

    report = MIMEPart(policy=SMTP)  # no automatic headers: a DSN is assembled by hand
    report["From"] = Address("Mail Delivery System", addr_spec=f"MAILER-DAEMON@{mta}")
    report["To"] = original_sender
    report["Subject"] = subject
    report["Date"] = format_datetime(sent_at)
    digest = _digest(original, recipient, action, code, sent_at.isoformat())
    report["Message-ID"] = message_id or f"<{digest[:24]}.bounce@{mta}>"
    report["Auto-Submitted"] = "auto-replied"
    report["MIME-Version"] = "1.0"
    report["Content-Type"] = "multipart/report; report-type=delivery-status"

    human = MIMEPart(policy=SMTP)
    human.set_content(explanation, charset="us-ascii", cte="7bit")
    human["Content-Description"] = "Notification"

    per_message = Message(policy=SMTP)
    per_message["Reporting-MTA"] = f"dns; {mta}"
    per_message["Original-Envelope-Id"] = digest[:16]
    per_message["Arrival-Date"] = format_datetime(sent_at)
    per_recipient = Message(policy=SMTP)
    per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
    per_recipient["Original-Recipient"] = f"rfc822;{recipient}"
    per_recipient["Action"] = action
    per_recipient["Status"] = code
    per_recipient["Remote-MTA"] = f"dns; {remote}"
    per_recipient["Diagnostic-Code"] = diag
    if action == "delayed":
        per_recipient["Will-Retry-Until"] = format_datetime(sent_at + timedelta(days=5))
    status_part = MIMEPart(policy=SMTP)
    status_part["Content-Description"] = "Delivery report"
    status_part["Content-Type"] = "message/delivery-status"
    status_part.set_payload([per_message, per_recipient])

    returned = MIMEPart(policy=SMTP)
    if return_content == "full":
        returned.set_content(message_from_bytes(original, policy=SMTP))
        returned["Content-Description"] = "Undelivered Message"
    else:
        returned.set_content(
            _header_block(original), subtype="rfc822-headers", charset="us-ascii", cte="7bit"
        )
        returned["Content-Description"] = "Undelivered Message Headers"

    for part in (human, status_part, returned):
        report.attach(part)
    _set_boundaries(report, digest)
    return report.as_bytes(policy=SMTP)


def _parse_headers(raw: bytes) -> list[tuple[str, str]]:
    """Headers of ``raw`` (decoded), without parsing or re-encoding the body."""
    headers = BytesHeaderParser(policy=SMTP).parsebytes(raw)
    return [(name, str(value)) for name, value in headers.items()]


def submission_attachments(
    *,
    mission_name: str,
    meeting_code: str = PKO_SAFETY.code,
    statement: bool = True,
    cover_letter: CoverFormat | None = "pdf",
    statement_as_pdf: bool = False,
    statement_filename: str | None = None,
    cover_filename: str | None = None,
    words: int = 350,
    language: Language = "en",
    signatory: str = "Permanent Representative",
    signer_name: str | None = None,
    cover_with_text_layer: bool = True,
    letter_date_text: str = DEFAULT_LETTER_DATE,
    with_table: bool = False,
) -> list[Attachment]:
    """The attachments :func:`submission_email` would send, for tests that compare bytes.

    An unknown ``meeting_code`` keeps the PKO-SAFETY documents (only the email subject
    carries the code), so "wrong code" tests still get realistic attachments.
    """
    meeting = MEETINGS.get(meeting_code, PKO_SAFETY)
    slug = filename_slug(mission_name)
    attachments: list[Attachment] = []
    if statement:
        title = statement_title(mission_name, language=language)
        subtitle = _bank(language).subtitle.format(
            title=meeting.title_in(language), date=meeting.date_in(language)
        )
        paragraphs = sample_statement_text(mission_name, words, language=language)
        if statement_as_pdf:
            attachments.append(
                Attachment(
                    statement_filename or f"Statement_{slug}.pdf",
                    statement_pdf(title, paragraphs, language=language, subtitle=subtitle),
                    PDF_CONTENT_TYPE,
                )
            )
        else:
            content = statement_docx(
                title,
                paragraphs,
                language=language,
                subtitle=subtitle,
                with_table=with_table,
                author=f"Permanent Mission of {mission_name}",
            )
            attachments.append(
                Attachment(
                    statement_filename or f"Statement_{slug}.docx", content, DOCX_CONTENT_TYPE
                )
            )
    if cover_letter == "pdf":
        attachments.append(
            Attachment(
                cover_filename or f"Cover_letter_{slug}.pdf",
                cover_letter_pdf(
                    mission_name,
                    signatory=signatory,
                    meeting_title=meeting.title,
                    date_text=letter_date_text,
                    meeting_date_text=meeting.date_text,
                    signer_name=signer_name,
                    with_text_layer=cover_with_text_layer,
                ),
                PDF_CONTENT_TYPE,
            )
        )
    elif cover_letter == "docx":
        attachments.append(
            Attachment(
                cover_filename or f"Cover_letter_{slug}.docx",
                cover_letter_docx(
                    mission_name,
                    signatory=signatory,
                    meeting_title=meeting.title,
                    date_text=letter_date_text,
                    meeting_date_text=meeting.date_text,
                    signer_name=signer_name,
                ),
                DOCX_CONTENT_TYPE,
            )
        )
    return attachments


def _default_body(mission_name: str, meeting: Meeting, sender_name: str | None) -> str:
    return (
        "Dear Colleagues,\n\n"
        f"On behalf of the Permanent Mission of {mission_name} to the United Nations, please "
        "find attached the written statement and the cover letter for the Security Council "
        f"open debate on “{meeting.title}” ({meeting.date_text}).\n\n"
        "Kind regards,\n"
        f"{sender_name or 'Political Coordinator'}\n"
        f"Permanent Mission of {mission_name} to the United Nations\n"
    )


def submission_email(
    *,
    mission_name: str,
    sender: str,
    to: str,
    meeting_code: str = PKO_SAFETY.code,
    statement: bool = True,
    cover_letter: CoverFormat | None = "pdf",
    statement_as_pdf: bool = False,
    statement_filename: str | None = None,
    cover_filename: str | None = None,
    words: int = 350,
    language: Language = "en",
    subject: str | None = None,
    body: str | None = None,
    sender_name: str | None = None,
    signatory: str = "Permanent Representative",
    signer_name: str | None = None,
    cover_with_text_layer: bool = True,
    letter_date_text: str = DEFAULT_LETTER_DATE,
    with_table: bool = False,
    html: bool = False,
    extra_attachments: Sequence[Attachment] = (),
    cc: str | None = None,
    date: datetime | None = None,
    message_id: str | None = None,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
) -> bytes:
    """One call for a typical delegation submission: statement + cover letter by email.

    Why: most tests and the demo need "Ghana sends its statement" with one or two
    variations (no cover letter, a scanned cover letter, a PDF statement, French text, a
    misnamed file...). Defaults: subject "PKO-SAFETY: written statement of <mission>",
    attachments "Statement_<Mission>.docx" and "Cover_letter_<Mission>.pdf" (see
    :func:`submission_attachments` for the exact bytes). ``extra_attachments`` are added
    after them, e.g. an inline logo.
    """
    meeting = MEETINGS.get(meeting_code, PKO_SAFETY)
    attachments = submission_attachments(
        mission_name=mission_name,
        meeting_code=meeting_code,
        statement=statement,
        cover_letter=cover_letter,
        statement_as_pdf=statement_as_pdf,
        statement_filename=statement_filename,
        cover_filename=cover_filename,
        words=words,
        language=language,
        signatory=signatory,
        signer_name=signer_name,
        cover_with_text_layer=cover_with_text_layer,
        letter_date_text=letter_date_text,
        with_table=with_table,
    )
    text = body if body is not None else _default_body(mission_name, meeting, sender_name)
    html_body = None
    if html:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in escaped.split("\n\n"))
        html_body = f"<html><body>{paragraphs}</body></html>\n"
    return build_email(
        sender=sender,
        to=to,
        subject=subject or f"{meeting_code}: written statement of {mission_name}",
        body=text,
        attachments=[*attachments, *extra_attachments],
        date=date,
        message_id=message_id,
        extra_headers=extra_headers,
        sender_name=sender_name,
        cc=cc,
        html_body=html_body,
    )
