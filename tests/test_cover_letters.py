"""User stories of the cover-letter check: the desk must know, for every submission,
whether the cover letter is addressed to the President of the Security Council and signed
by the Permanent Representative or the Chargé d'affaires, whatever the official language,
whatever the file (text PDF, Word, scan), and a hostile PDF must never crash the worker.

The English letters are the demo samples (the same bytes the pipeline's other stories
use); the French, Spanish, Russian, Chinese and Arabic letters are written here in the
style of real UN letters, checked as plain text and, when LibreOffice is installed, as
real PDFs whose text layer LibreOffice wrote.
"""

from __future__ import annotations

import email
import io
import logging
import random
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from email import policy

import pytest
from docx import Document
from docx.document import Document as WordDocument
from docx.oxml import OxmlElement
from pypdf import PdfReader, PdfWriter

from pipeline.demo.letters import cover_letter_docx, cover_letter_pdf, cover_letter_text
from pipeline.demo.statements import sample_statement_text, statement_pdf
from pipeline.documents import pdf_reader
from pipeline.documents.errors import UnreadableDocument
from pipeline.documents.letter import LetterCheck, Signatory, check_letter
from pipeline.documents.pdf_reader import PdfText, read_pdf
from pipeline.missions.registry import find_mission
from tests.helpers.corpus import MAIL as CORPUS


def _names(code: str, *short_forms: str) -> list[str]:
    """The mission's names as the pipeline passes them: short forms, then the registry's."""
    mission = find_mission(code)
    assert mission is not None, code
    return [*short_forms, *mission.names.values()]


def _docx_text(blob: bytes) -> str:
    return "\n".join(p.text for p in Document(io.BytesIO(blob)).paragraphs)


# -- English: the demo samples ---------------------------------------------------------


def test_english_pdf_letter_is_addressed_and_signed_by_the_permanent_representative() -> None:
    pdf = read_pdf(cover_letter_pdf("Côte d'Ivoire"))
    assert pdf.pages == 1
    assert pdf.has_text_layer
    # The sample PDF transliterates to Latin-1 (its WinAnsi fonts): "ô" survives as is.
    assert "Côte d'Ivoire" in pdf.text

    check = check_letter(pdf.text, mission_names=_names("CIV"))

    assert check == LetterCheck(
        addressed_to_president=True,
        signatory="permanent_representative",
        language="en",
        mission_name="Côte d'Ivoire",
        verifiable=True,
    )


def test_compressed_pdf_letter_reads_the_same() -> None:
    plain = read_pdf(cover_letter_pdf("Ghana"))
    compressed = read_pdf(cover_letter_pdf("Ghana", compress=True))
    assert compressed == plain


def test_english_word_letter_is_addressed_and_signed_by_the_permanent_representative() -> None:
    text = _docx_text(cover_letter_docx("Côte d'Ivoire"))

    check = check_letter(text, mission_names=_names("CIV"))

    assert check.addressed_to_president
    assert check.signatory == "permanent_representative"
    assert check.language == "en"
    assert check.mission_name == "Côte d'Ivoire"


def test_mission_name_is_returned_as_written_with_its_curly_apostrophe() -> None:
    text = "\n".join(cover_letter_text("Côte d’Ivoire"))

    check = check_letter(text, mission_names=_names("CIV"))

    assert check.mission_name == "Côte d’Ivoire"


@pytest.mark.parametrize("signatory", ["Chargé d'affaires a.i.", "Charge d'affaires"])
def test_charge_d_affaires_letter_is_recognised(signatory: str) -> None:
    pdf = read_pdf(cover_letter_pdf("Ghana", signatory=signatory))
    docx = _docx_text(cover_letter_docx("Ghana", signatory=signatory))

    for text in (pdf.text, docx):
        check = check_letter(text, mission_names=_names("GHA"))
        assert check.addressed_to_president
        assert check.signatory == "charge_d_affaires"
        assert check.mission_name == "Ghana"


def test_scanned_letter_has_no_text_layer_and_cannot_be_verified() -> None:
    scan = read_pdf(cover_letter_pdf("Ghana", with_text_layer=False))

    assert scan.pages == 1
    assert not scan.has_text_layer
    assert check_letter(None) == LetterCheck(False, None, None, None, verifiable=False)
    assert not check_letter(scan.text, mission_names=_names("GHA")).verifiable


@pytest.mark.parametrize("text", ["", "   \n ", "Page 1 of 1", "CamScanner 12"])
def test_text_without_letters_to_check_is_not_verifiable(text: str) -> None:
    assert not check_letter(text).verifiable


# -- The other official languages ------------------------------------------------------

FRENCH = (
    "Mission permanente de la République du Sénégal auprès de l’Organisation des Nations Unies",
    "New York, le 20 mai 2021",
    "Lettre datée du 20 mai 2021, adressée au Président du Conseil de sécurité par le "
    "Représentant permanent du Sénégal auprès de l’Organisation des Nations Unies",
    "Monsieur le Président,",
    "J’ai l’honneur de vous faire tenir ci-joint la déclaration du Sénégal en vue du débat "
    "public du Conseil de sécurité sur le thème « Opérations de maintien de la paix des "
    "Nations Unies : améliorer la sûreté et la sécurité des Casques bleus », qui se tiendra "
    "le 24 mai 2021 (voir annexe).",
    "Je vous serais reconnaissant de bien vouloir faire distribuer le texte de la présente "
    "lettre et de son annexe comme document du Conseil de sécurité.",
    "Veuillez agréer, Monsieur le Président, les assurances de ma très haute considération.",
    "L’Ambassadeur, Représentant permanent",
    "(Signé) Cheikh Niang",
)
SPANISH = (
    "Misión Permanente de México ante las Naciones Unidas",
    "Nueva York, 20 de mayo de 2021",
    "Carta de fecha 20 de mayo de 2021 dirigida al Presidente del Consejo de Seguridad por "
    "el Encargado de Negocios a.i. de la Misión Permanente de México ante las Naciones Unidas",
    "Excelentísimo señor:",
    "Tengo el honor de transmitirle adjunta la declaración de México para el debate abierto "
    "del Consejo de Seguridad sobre el tema “Operaciones de mantenimiento de la paz de las "
    "Naciones Unidas: mejorar la seguridad y la protección del personal de mantenimiento de "
    "la paz”, que se celebrará el 24 de mayo de 2021 (véase el anexo).",
    "Le agradecería que tuviera a bien hacer distribuir la presente carta y su anexo como "
    "documento del Consejo de Seguridad.",
    "Aprovecho la ocasión para reiterarle las seguridades de mi consideración más distinguida.",
    "(Firmado) Juan Sandoval Mendiolea",
    "Encargado de Negocios a.i.",
)
RUSSIAN = (
    "Постоянное представительство Российской Федерации при Организации Объединенных Наций",
    "Нью-Йорк, 20 мая 2021 года",
    "Письмо Постоянного представителя Российской Федерации при Организации Объединенных "
    "Наций от 20 мая 2021 года на имя Председателя Совета Безопасности",
    "Ваше Превосходительство,",
    "Имею честь препроводить настоящим заявление Российской Федерации к открытым прениям "
    "Совета Безопасности на тему «Миротворческие операции Организации Объединенных Наций: "
    "повышение безопасности миротворцев», которые состоятся 24 мая 2021 года "
    "(см. приложение).",
    "Буду признателен Вам за распространение настоящего письма и приложения к нему в "
    "качестве документа Совета Безопасности.",
    "Примите, Ваше Превосходительство, уверения в моем самом высоком уважении.",
    "(Подпись) В. А. Небензя",
    "Постоянный представитель",
)
CHINESE = (
    "中华人民共和国常驻联合国代表团",
    "2021年5月20日，纽约",
    "2021年5月20日中华人民共和国常驻联合国代表给安全理事会主席的信",
    "主席先生：",
    "谨随函转递中国关于将于2021年5月24日举行的安全理事会“联合国维持和平行动："
    "改善维和人员的安全保障”公开辩论的发言（见附件）。",
    "请将本函及其附件作为安全理事会的文件分发为荷。",
    "顺致最崇高的敬意。",
    "中华人民共和国常驻联合国代表",
    "张军（签名）",
)
ARABIC = (
    "البعثة الدائمة لجمهورية مصر العربية لدى الأمم المتحدة",
    "نيويورك، 20 أيار/مايو 2021",
    "رسالة مؤرخة 20 أيار/مايو 2021 موجهة إلى رئيس مجلس الأمن من المندوب الدائم لمصر "
    "لدى الأمم المتحدة",
    "سعادة الرئيس،",
    "أتشرف بأن أحيل إليكم طيه بيان مصر في المناقشة المفتوحة التي سيعقدها مجلس الأمن في "
    "24 أيار/مايو 2021 بشأن ”عمليات الأمم المتحدة لحفظ السلام: تحسين سلامة وأمن حفظة "
    "السلام“ (انظر المرفق).",
    "وأرجو ممتنا تعميم هذه الرسالة ومرفقها بوصفهما وثيقة من وثائق مجلس الأمن.",
    "وتفضلوا بقبول فائق الاحترام.",
    "(توقيع) محمد إدريس",
    "السفير، المندوب الدائم",
)

#: language -> (paragraphs, mission code, expected signatory, mission name as written)
LETTERS: Mapping[str, tuple[tuple[str, ...], str, Signatory, str]] = {
    "fr": (FRENCH, "SEN", "permanent_representative", "Sénégal"),
    "es": (SPANISH, "MEX", "charge_d_affaires", "México"),
    "ru": (RUSSIAN, "RUS", "permanent_representative", "Российской Федерации"),
    "zh": (CHINESE, "CHN", "permanent_representative", "中国"),
    "ar": (ARABIC, "EGY", "permanent_representative", "مصر"),
}


def _expected(language: str) -> LetterCheck:
    _, _, signatory, name = LETTERS[language]
    return LetterCheck(
        addressed_to_president=True,
        signatory=signatory,
        language=language,
        mission_name=name,
        verifiable=True,
    )


@pytest.mark.parametrize("language", LETTERS)
def test_letter_in_each_official_language_is_recognised(language: str) -> None:
    paragraphs, code, _, _ = LETTERS[language]

    check = check_letter("\n".join(paragraphs), mission_names=_names(code))

    assert check == _expected(language)


def _letter_docx(paragraphs: Sequence[str], language: str) -> WordDocument:
    """A Word letter as a delegation types it (right-to-left paragraphs in Arabic)."""
    document = Document()
    for text in paragraphs:
        paragraph = document.add_paragraph()
        run = paragraph.add_run(text)
        if language == "ar":
            paragraph._p.get_or_add_pPr().append(OxmlElement("w:bidi"))
            run._r.get_or_add_rPr().append(OxmlElement("w:rtl"))
    return document


@pytest.fixture(scope="module")
def letter_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The multilingual letters as PDFs written by LibreOffice, in one soffice run."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip(
            "LibreOffice (soffice) is not installed: the PDF variants of the French, "
            "Spanish, Russian, Chinese and Arabic letters need it to write a real text layer"
        )
    work = tmp_path_factory.mktemp("letters")
    sources = []
    for language, (paragraphs, *_) in LETTERS.items():
        path = work / f"letter_{language}.docx"
        _letter_docx(paragraphs, language).save(str(path))
        sources.append(str(path))
    profile = (work / "lo-profile").as_uri()  # never the user's own LibreOffice profile
    result = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(work / "pdf"),
            *sources,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    pdfs = {lang: work / "pdf" / f"letter_{lang}.pdf" for lang in LETTERS}
    missing = [lang for lang, path in pdfs.items() if not path.exists()]
    if result.returncode != 0 or missing:
        pytest.fail(f"soffice failed (missing {missing}): {result.stdout} {result.stderr}")
    return {lang: path.read_bytes() for lang, path in pdfs.items()}


@pytest.mark.parametrize("language", LETTERS)
def test_pdf_letter_in_each_official_language_is_recognised(
    language: str, letter_pdfs: dict[str, bytes]
) -> None:
    _, code, _, _ = LETTERS[language]

    pdf = read_pdf(letter_pdfs[language])

    assert pdf.pages == 1
    assert pdf.has_text_layer
    assert check_letter(pdf.text, mission_names=_names(code)) == _expected(language)


# -- Variants of wording, and what must not match --------------------------------------


@pytest.mark.parametrize(
    ("text", "signatory", "language"),
    [
        ("(Signée) Marie Dupont, Chargée d’affaires a.i.", "charge_d_affaires", "fr"),
        ("Représentante permanente auprès des Nations Unies", "permanent_representative", "fr"),
        ("Le Représen-\ntant permanent du Sénégal", "permanent_representative", "fr"),
        ("(Firmado) Ana Pérez, Representante Permanente", "permanent_representative", "es"),
        ("(Firmado) Ana Pérez, Encargada de Negocios a.i.", "charge_d_affaires", "es"),
        ("Временный поверенный в делах Республики Казахстан", "charge_d_affaires", "ru"),
        ("Постоянная представительница при Организации", "permanent_representative", "ru"),
        ("Постоянный предста-\nвитель Республики Казахстан", "permanent_representative", "ru"),
        ("中华人民共和国常驻联合国副代表兼临时代办 耿爽（签名）", "charge_d_affaires", "zh"),
        ("中华人民共和国常驻联合国代表团临时代办（签名）", "charge_d_affaires", "zh"),
        ("顺致最崇高的敬意。中国常驻\n联合国\n代表 张军（签名）", "permanent_representative", "zh"),
        ("القائم بالأعمال بالنيابة للبعثة الدائمة لمصر", "charge_d_affaires", "ar"),
        ("المندوبة الدائمة لدولة قطر لدى الأمم المتحدة", "permanent_representative", "ar"),
        ("والمندوبُ الدائمُ لمصرَ لدى الأممِ المتحدةِ", "permanent_representative", "ar"),
        ("(Signed) John Smith, Acting Permanent Representative", "charge_d_affaires", "en"),
        ("(Signed) John Smith, Permanent Representative a.i.", "charge_d_affaires", "en"),
        ("(Signé) Jeanne Dupont, Représentante permanente par intérim", "charge_d_affaires", "fr"),
        ("(Firmado) Ana Pérez, Repre\u00adsentante Permanente", "permanent_representative", "es"),
    ],
)
def test_signatory_wording_variants(text: str, signatory: Signatory, language: str) -> None:
    check = check_letter(text)

    assert check.signatory == signatory
    assert check.language == language


@pytest.mark.parametrize(
    "text",
    [
        "Letter addressed to the President of the Security Council",
        "LETTER ADDRESSED TO THE PRESIDENT OF THE\nSECURITY COUNCIL",
        "Letter addressed to the Presi\u00addent of the Security\u00a0Council",
        "Lettre adressée à la Présidente du Conseil de securite",
        "Carta dirigida a la Presidenta del Consejo de Seguridad",
        "Письмо на имя Председателя Совета Безопасности",
        "Председателю Совета Безопасности Организации Объединенных Наций",
        "2021年5月20日中华人民共和国常驻联合国代表给安全理事会主席的信",
        "2021年5月20日中华人民共和国常驻联合国代表给安理会\n主席的信",
        "رسالة موجهة إلى رئيس مجلس الأمن",
        "إلى سعادة رئيسة مجلس الأمن",
        "رسالة موجهة لرئيسِ مجلسِ الأمنِ",
        # Presentation forms, as some PDF producers emit Arabic: NFKC folds them.
        "رسالة موجهة إلى ﺭﺋﻴﺲ ﻣﺠﻠﺲ ﺍﻷﻣﻦ",
    ],
)
def test_address_to_the_president_in_any_language(text: str) -> None:
    assert check_letter(text).addressed_to_president


def test_letter_to_the_secretary_general_is_not_addressed_to_the_president() -> None:
    text = "\n".join(
        (
            "Letter dated 20 May 2021 from the Permanent Representative of Ghana to the "
            "United Nations addressed to the Secretary-General",
            "I have the honour to transmit herewith the statement of Ghana, in accordance "
            "with the note by the President of the Security Council (S/2017/507).",
            "I should be grateful if the present letter could be circulated as a document of "
            "the General Assembly and of the Security Council.",
            "(Signed) Harold Adlai Agyeman, Permanent Representative",
            "His Excellency Mr. António Guterres",
            "Secretary-General of the United Nations",
        )
    )

    check = check_letter(text, mission_names=_names("GHA"))

    assert not check.addressed_to_president
    assert check.signatory == "permanent_representative"
    assert check.mission_name == "Ghana"


@pytest.mark.parametrize(
    "text",
    [
        "Lettre adressée au Secrétaire général, conformément à la note du Président du "
        "Conseil de sécurité (S/2017/507).",
        "Carta dirigida al Secretario General, de conformidad con la nota de la Presidencia "
        "y la nota del Presidente del Consejo de Seguridad (S/2017/507).",
        "Письмо на имя Генерального секретаря в соответствии с запиской Председателя Совета "
        "Безопасности (S/2017/507) и записки Председателя Совета Безопасности.",
        "给秘书长的信。谨随函转递本国代表团的发言，依照安全理事会主席的说明（S/2017/507）。",
        "رسالة موجهة إلى الأمين العام وفقا لمذكرة من رئيس مجلس الأمن (S/2017/507).",
    ],
)
def test_citing_the_presidents_note_is_not_an_address(text: str) -> None:
    assert not check_letter(text).addressed_to_president


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(cover_letter_text("Ghana", signatory="Deputy Permanent Representative")),
        "Lettre adressée au Président du Conseil de sécurité par le Représentant permanent "
        "adjoint du Sénégal.\n(Signé) Jean Dupont, Représentant permanent adjoint",
        "Carta dirigida al Presidente del Consejo de Seguridad.\n(Firmado) Ana Pérez, "
        "Representante Permanente Alterna de México",
        "Письмо на имя Председателя Совета Безопасности.\n(Подпись) Д. А. Полянский, "
        "Заместитель Постоянного представителя",
        "给安全理事会主席的信。顺致最崇高的敬意。中华人民共和国副常驻联合国代表 耿爽（签名）",
        "رسالة موجهة إلى رئيس مجلس الأمن\n(توقيع) نائب المندوب الدائم لمصر",
    ],
)
def test_deputy_permanent_representative_alone_is_no_valid_signatory(text: str) -> None:
    """The guidance asks for the PR or the Chargé d'affaires: a deputy alone is neither."""
    check = check_letter(text)

    assert check.addressed_to_president
    assert check.signatory is None


def test_deputy_signing_as_charge_d_affaires_counts_as_charge_d_affaires() -> None:
    text = "\n".join(
        cover_letter_text(
            "Ghana", signatory="Deputy Permanent Representative, Chargé d'affaires a.i."
        )
    )

    assert check_letter(text).signatory == "charge_d_affaires"


def test_the_title_mentioned_last_is_the_signature() -> None:
    text = (
        "In the absence of the Permanent Representative, I have the honour to transmit the "
        "statement.\n(Signed) Ama Owusu, Chargé d'affaires a.i."
    )

    assert check_letter(text).signatory == "charge_d_affaires"


# -- Mission names ---------------------------------------------------------------------


def test_name_inside_a_longer_name_is_not_the_mission() -> None:
    """Guinea's names must not match Guinea-Bissau's letter, even across a line break."""
    text = "\n".join(cover_letter_text("Guinea-\nBissau"))

    guinea = check_letter(text, mission_names=_names("GIN"))
    bissau = check_letter(text, mission_names=_names("GNB"))

    assert guinea.mission_name == "Guinea-\nBissau"  # captured from the wording instead
    assert bissau.mission_name == "Guinea-\nBissau"


def test_arabic_name_after_a_fused_preposition_is_found() -> None:
    text = "رسالة موجهة إلى رئيس مجلس الأمن من المندوب الدائم للسنغال لدى الأمم المتحدة"

    check = check_letter(text, mission_names=_names("SEN"))

    assert check.mission_name is not None
    assert "سنغال" in check.mission_name


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (
            "Letter dated 20 May 2021 from the Permanent Representative of the Republic of "
            "Korea to the United Nations addressed to the President of the Security Council",
            "Republic of Korea",
        ),
        (
            "Lettre datée du 20 mai 2021, adressée au Président du Conseil de sécurité par "
            "le Représentant permanent de la République de Corée auprès de l’Organisation",
            "République de Corée",
        ),
        (
            "Carta de fecha 20 de mayo de 2021 dirigida al Presidente del Consejo de "
            "Seguridad por el Representante Permanente del Perú ante las Naciones Unidas",
            "Perú",
        ),
        (
            "Постоянное представительство Республики Беларусь при Организации Объединенных Наций",
            "Республики Беларусь",
        ),
        ("2021年5月20日大韩民国常驻联合国代表给安全理事会主席的信", "大韩民国"),
        ("البعثة الدائمة لجمهورية كوريا لدى الأمم المتحدة", "جمهورية كوريا"),
        ("Permanent Mission of Tuvalu\n685 Third Avenue, New York", "Tuvalu"),
    ],
)
def test_mission_name_is_captured_from_the_wording_when_no_name_matches(
    text: str, name: str
) -> None:
    assert check_letter(text, mission_names=["Nowhere"]).mission_name == name


def test_no_mission_name_when_the_letter_names_none() -> None:
    text = "To the President of the Security Council. (Signed) A. Name, Chargé d'affaires a.i."
    assert check_letter(text).mission_name is None


# -- Language --------------------------------------------------------------------------


def test_language_from_script_when_no_phrase_matches() -> None:
    assert check_letter("Настоящим препровождаю текст выступления делегации").language == "ru"
    assert check_letter("هذا نص البيان الذي سيلقيه الوفد في الجلسة العامة").language == "ar"
    assert check_letter("本国代表团在公开辩论中的发言全文请查收" * 2).language == "zh"


def test_shared_phrase_alone_leaves_the_language_unknown() -> None:
    """ "Chargé d'affaires" is both English and French: nothing else tells them apart."""
    assert check_letter("Kwame Mensah Owusu, Chargé d'affaires a.i.").language is None


# -- Hostile and broken PDFs -----------------------------------------------------------


def _encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(cover_letter_pdf("Ghana"))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_with_a_user_password_is_reported_as_password_protected() -> None:
    with pytest.raises(UnreadableDocument, match="password-protected"):
        read_pdf(_encrypted("secret"))


def test_pdf_that_only_restricts_printing_is_read() -> None:
    """An owner password alone (empty user password) must not block the letter."""
    pdf = read_pdf(_encrypted(""))

    assert pdf.has_text_layer
    assert check_letter(pdf.text).signatory == "permanent_representative"


def test_an_aes_encrypted_letter_that_only_restricts_printing_is_read() -> None:
    """Acrobat encrypts with AES even when only printing is restricted (pypdf[crypto])."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(cover_letter_pdf("Ghana"))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)

    pdf = read_pdf(out.getvalue())

    assert pdf.has_text_layer
    assert check_letter(pdf.text).addressed_to_president


def _hostile_inputs() -> dict[str, bytes]:
    letter = cover_letter_pdf("Ghana", compress=True)
    rng = random.Random(20210524)
    return {
        "empty": b"",
        "garbage after %PDF": b"%PDF-1.7\n" + rng.randbytes(4096),
        "only a header": b"%PDF-1.4\n%%EOF\n",
        "truncated": letter[: len(letter) // 2],
        "truncated in the header": letter[:40],
        "a Word file": cover_letter_docx("Ghana"),
        "self-referencing page tree": (
            b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [2 0 R] /Count 1 >>\nendobj\n"
            b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
        ),
    }


@pytest.mark.parametrize("name", list(_hostile_inputs()))
def test_hostile_pdf_is_unreadable_not_a_crash(name: str) -> None:
    content = _hostile_inputs()[name]
    with pytest.raises(UnreadableDocument):
        read_pdf(content)


def test_oversized_pdf_is_refused_unopened() -> None:
    with pytest.raises(UnreadableDocument, match="too large"):
        read_pdf(b"%PDF-1.4\n" + bytes(50 * 2**20))
    with pytest.raises(UnreadableDocument, match="too large"):
        read_pdf(cover_letter_pdf("Ghana"), max_bytes=1000)


def test_damaged_pdfs_raise_nothing_but_unreadable_document() -> None:
    """Random damage to real PDFs: either text comes out or UnreadableDocument, never a
    pypdf exception, a warning or a hang."""
    seeds = [
        cover_letter_pdf("Ghana"),
        cover_letter_pdf("Ghana", compress=True),
        cover_letter_pdf("Ghana", with_text_layer=False),
    ]
    rng = random.Random(7)
    for _ in range(300):
        blob = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 12)):
            at = rng.randrange(len(blob))
            if rng.random() < 0.6:
                blob[at] = rng.randrange(256)
            else:
                del blob[at : at + rng.randint(1, 40)]
        try:
            result = read_pdf(bytes(blob))
        except UnreadableDocument:
            continue
        assert isinstance(result, PdfText)


def test_only_the_first_pages_are_read() -> None:
    statement = statement_pdf("Statement", sample_statement_text("Ghana", 2500))
    everything = read_pdf(statement, max_pages=100)
    assert everything.pages is not None
    assert everything.pages > 2

    first = read_pdf(statement, max_pages=1)

    assert first.pages == everything.pages
    assert 0 < len(first.text) < len(everything.text) / 2


def test_reading_stops_when_the_time_budget_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    statement = statement_pdf("Statement", sample_statement_text("Ghana", 2500))
    monkeypatch.setattr(pdf_reader, "TIME_BUDGET_SECONDS", -1.0)

    result = read_pdf(statement)

    assert result.text == ""
    assert result.pages is not None
    assert result.pages > 2
    assert not result.has_text_layer


def _pdf_with_wrong_startxref() -> bytes:
    letter = cover_letter_pdf("Ghana")
    at = letter.rindex(b"startxref\n") + len(b"startxref\n")
    return letter[:at] + b"99" + letter[at:]


def test_pypdf_log_noise_is_demoted_only_while_read_pdf_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    damaged = _pdf_with_wrong_startxref()

    assert read_pdf(damaged).has_text_layer
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]
    assert any(
        r.name == "pipeline.documents.pdf_reader" and r.levelno == logging.DEBUG
        for r in caplog.records
    )

    caplog.clear()
    PdfReader(io.BytesIO(damaged), strict=False).pages[0].extract_text()
    assert any(r.name.startswith("pypdf") and r.levelno == logging.WARNING for r in caplog.records)


# -- Real mail ---------------------------------------------------------------------------


def _corpus_pdfs() -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for path in sorted(CORPUS.rglob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for part in message.walk():
            if part.get_content_type() != "application/pdf":
                continue
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found.append((f"{path.relative_to(CORPUS)}:{part.get_filename()}", payload))
    return found


def test_every_pdf_in_the_mail_corpus_is_read_or_refused_cleanly() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the mail corpus is not available at {CORPUS}")
    pdfs = _corpus_pdfs()
    if not pdfs:
        pytest.skip(f"no application/pdf attachment in {CORPUS}")
    outcomes: dict[str, str] = {}
    for name, content in pdfs:
        try:
            result = read_pdf(content)
        except UnreadableDocument as error:
            outcomes[name] = f"unreadable: {error}"
        else:
            outcomes[name] = f"{result.pages} page(s), text layer: {result.has_text_layer}"
            check_letter(result.text if result.has_text_layer else None)
    assert len(outcomes) == len(pdfs)
