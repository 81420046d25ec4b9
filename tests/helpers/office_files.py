"""Real office files for tests, made by LibreOffice from python-docx sources.

Hand-made byte strings only prove that the code handles hand-made byte strings. These are
what delegations actually send: a statement on the safety and security of peacekeepers in
each of the six UN languages (Arabic right-to-left, Chinese without spaces), saved by a real
word processor as .docx, .doc, .docm, .rtf, .odt and PDF, plus a cover letter per language
and a scanned (image-only) PDF.

LibreOffice start-up dominates its cost (about 1 s a run), so each target format is ONE
soffice run over all the sources; `make_office_files` takes about 6 s on a 2-core machine
and skips the work when `directory` already holds a complete set.

docm: LibreOffice 7.4's "MS Word 2007 XML VBA" filter keeps the macro-enabled main content
type even for a document with no macros (it writes no `word/vbaProject.bin`). Should another
version fall back to the plain .docx content type, `_ensure_macro_enabled` builds the .docm
by hand: the macro-enabled content type plus a `word/vbaProject.bin` part and relationship
(a placeholder, not a working VBA project: the pipeline must refuse .docm by its type, never
by running or parsing macros).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import docx
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from pypdf import PdfReader

from pipeline.documents.convert import soffice_convert
from pipeline.documents.sandbox import Confinement

LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es")
FORMATS = ("docx", "doc", "docm", "rtf", "odt", "pdf")
# One soffice run per target format; the filter names are LibreOffice's.
_FILTERS = {
    "doc": "doc:MS Word 97",
    "docm": "docm:MS Word 2007 XML VBA",
    "rtf": "rtf:Rich Text Format",
    "odt": "odt:writer8",
    "pdf": "pdf:writer_pdf_Export",
}
_SOFFICE_TIMEOUT = 180.0
_LOCALES = {
    "ar": "ar-SA",
    "zh": "zh-CN",
    "en": "en-US",
    "fr": "fr-FR",
    "ru": "ru-RU",
    "es": "es-ES",
}
# Installed fonts with the needed glyphs, so PDFs render real text rather than boxes.
_FONTS = {"zh": "WenQuanYi Micro Hei"}
_DEFAULT_FONT = "DejaVu Sans"
_RTL = frozenset({"ar"})
_MACRO_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
_DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_SCAN_DPI = 100
# Elements that follow w:bidi in a paragraph's properties (ECMA-376 sequence order).
_PPR_AFTER_BIDI = (
    "w:adjustRightInd",
    "w:snapToGrid",
    "w:spacing",
    "w:ind",
    "w:contextualSpacing",
    "w:mirrorIndents",
    "w:suppressOverlap",
    "w:jc",
    "w:textDirection",
    "w:textAlignment",
    "w:textboxTightWrap",
    "w:outlineLvl",
    "w:divId",
    "w:cnfStyle",
    "w:rPr",
    "w:sectPr",
    "w:pPrChange",
)

# (title, paragraphs) of the statement, per language.
STATEMENT_TEXT: dict[str, tuple[str, list[str]]] = {
    "en": (
        "Statement on the safety and security of peacekeepers",
        [
            "Mr. President, I thank you for convening this open debate on the safety and "
            "security of peacekeepers, and I thank the Under-Secretary-General for Peace "
            "Operations for his briefing.",
            "Peacekeepers serve in some of the most dangerous places on earth. Over the past "
            "decade, hundreds of women and men in blue helmets have lost their lives to "
            "malicious acts, improvised explosive devices and attacks on convoys and camps. "
            "Each of these deaths is a loss for their families, for their countries and for "
            "the communities they were sent to protect.",
            "My delegation believes that the safety of peacekeepers begins with clear and "
            "achievable mandates. The Council must match its ambitions with the resources, "
            "training and equipment that missions need, including medical evacuation within "
            "the first hour after an injury, better intelligence and early warning, and strong "
            "protection against explosive threats.",
            "We also call for accountability. Attacks against peacekeepers may constitute war "
            "crimes. Host States have a responsibility to investigate these crimes and to "
            "bring those responsible to justice, and the United Nations should support them "
            "in doing so.",
            "Finally, we must counter the disinformation that increasingly targets missions "
            "and puts personnel at risk. Strategic communication and engagement with local "
            "communities are part of force protection.",
            "My country remains committed to United Nations peacekeeping and will continue to "
            "contribute troops, police and training. Thank you.",
        ],
    ),
    "fr": (
        "Déclaration sur la sûreté et la sécurité des soldats de la paix",
        [
            "Monsieur le Président, je vous remercie d'avoir organisé ce débat public sur la "
            "sûreté et la sécurité des soldats de la paix, et je remercie le Secrétaire "
            "général adjoint aux opérations de paix de son exposé.",
            "Les soldats de la paix servent dans certains des endroits les plus dangereux du "
            "monde. Au cours de la dernière décennie, des centaines de femmes et d'hommes "
            "portant le casque bleu ont perdu la vie à la suite d'actes malveillants, d'engins "
            "explosifs improvisés et d'attaques contre des convois et des camps. Chacun de ces "
            "décès est une perte pour leur famille, pour leur pays et pour les populations "
            "qu'ils étaient venus protéger.",
            "Ma délégation estime que la sécurité des soldats de la paix commence par des "
            "mandats clairs et réalisables. Le Conseil doit mettre ses ambitions en adéquation "
            "avec les ressources, la formation et l'équipement dont les missions ont besoin, "
            "notamment l'évacuation sanitaire dans l'heure qui suit une blessure, un meilleur "
            "renseignement et une alerte rapide, ainsi qu'une protection solide contre les "
            "menaces explosives.",
            "Nous appelons également à l'établissement des responsabilités. Les attaques "
            "contre les soldats de la paix peuvent constituer des crimes de guerre. Il incombe "
            "aux États hôtes d'enquêter sur ces crimes et de traduire les responsables en "
            "justice, et l'Organisation des Nations Unies doit les appuyer dans cette tâche.",
            "Enfin, nous devons contrer la désinformation qui vise de plus en plus les "
            "missions et met le personnel en danger. La communication stratégique et le "
            "dialogue avec les populations locales font partie intégrante de la protection de "
            "la force.",
            "Mon pays demeure attaché au maintien de la paix des Nations Unies et continuera "
            "de fournir des contingents, des policiers et des formations. Je vous remercie.",
        ],
    ),
    "es": (
        "Declaración sobre la seguridad y la protección del personal de mantenimiento de la paz",
        [
            "Señor Presidente: Le agradezco que haya convocado este debate abierto sobre la "
            "seguridad y la protección del personal de mantenimiento de la paz, y agradezco "
            "al Secretario General Adjunto de Operaciones de Paz su exposición informativa.",
            "El personal de mantenimiento de la paz presta servicio en algunos de los lugares "
            "más peligrosos del mundo. Durante el último decenio, cientos de mujeres y hombres "
            "con cascos azules han perdido la vida a causa de actos malintencionados, "
            "artefactos explosivos improvisados y ataques contra convoyes y campamentos. Cada "
            "una de estas muertes es una pérdida para sus familias, para sus países y para las "
            "comunidades a las que fueron a proteger.",
            "Mi delegación considera que la seguridad del personal de mantenimiento de la paz "
            "comienza con mandatos claros y realizables. El Consejo debe ajustar sus "
            "ambiciones a los recursos, la capacitación y el equipo que necesitan las "
            "misiones, incluida la evacuación médica en la primera hora después de una lesión, "
            "una mejor información y alerta temprana, y una protección sólida frente a las "
            "amenazas explosivas.",
            "También pedimos rendición de cuentas. Los ataques contra el personal de "
            "mantenimiento de la paz pueden constituir crímenes de guerra. Los Estados "
            "anfitriones tienen la responsabilidad de investigar esos crímenes y de llevar "
            "ante la justicia a los responsables, y las Naciones Unidas deben apoyarlos en esa "
            "labor.",
            "Por último, debemos contrarrestar la desinformación que cada vez con más "
            "frecuencia se dirige contra las misiones y pone en peligro al personal. La "
            "comunicación estratégica y el diálogo con las comunidades locales forman parte de "
            "la protección de la fuerza.",
            "Mi país sigue comprometido con el mantenimiento de la paz de las Naciones Unidas "
            "y seguirá aportando contingentes, agentes de policía y capacitación. Muchas "
            "gracias.",
        ],
    ),
    "ru": (
        "Заявление о безопасности и защите миротворцев",
        [
            "Г-н Председатель, благодарю Вас за созыв этих открытых прений по вопросу о "
            "безопасности и защите миротворцев, а также благодарю заместителя Генерального "
            "секретаря по операциям в пользу мира за его брифинг.",
            "Миротворцы несут службу в некоторых из самых опасных мест на планете. За "
            "последнее десятилетие сотни женщин и мужчин в голубых касках погибли в "
            "результате злонамеренных действий, подрывов на самодельных взрывных устройствах "
            "и нападений на конвои и лагеря. Каждая из этих смертей — утрата для их семей, для "
            "их стран и для тех общин, которые они были направлены защищать.",
            "Моя делегация считает, что безопасность миротворцев начинается с четких и "
            "выполнимых мандатов. Совет должен соизмерять свои амбиции с ресурсами, "
            "подготовкой и снаряжением, которые необходимы миссиям, включая медицинскую "
            "эвакуацию в течение первого часа после ранения, более качественную "
            "разведывательную информацию и раннее предупреждение, а также надежную защиту от "
            "взрывоопасных угроз.",
            "Мы также призываем к привлечению к ответственности. Нападения на миротворцев "
            "могут представлять собой военные преступления. Принимающие государства несут "
            "ответственность за расследование этих преступлений и привлечение виновных к "
            "суду, и Организация Объединенных Наций должна оказывать им в этом поддержку.",
            "Наконец, мы должны противодействовать дезинформации, которая все чаще направлена "
            "против миссий и подвергает персонал опасности. Стратегическая коммуникация и "
            "взаимодействие с местным населением являются частью защиты сил.",
            "Моя страна по-прежнему привержена миротворческой деятельности Организации "
            "Объединенных Наций и будет и впредь предоставлять воинские контингенты, "
            "полицейских и возможности для подготовки. Благодарю Вас.",
        ],
    ),
    "zh": (
        "关于维和人员安全保障问题的发言",
        [
            "主席先生，感谢你召开这次关于维和人员安全保障问题的公开辩论会，也感谢主管和平行动"
            "副秘书长所作的通报。",
            "维和人员在世界上一些最危险的地方执行任务。过去十年间，数以百计的蓝盔男女因恶意"
            "行为、简易爆炸装置以及针对车队和营地的袭击而献出了生命。每一位牺牲者的离去，都是"
            "其家人、其祖国以及他们奉命保护的社区的损失。",
            "我国代表团认为，维和人员的安全始于明确且可实现的任务授权。安理会必须使其目标与"
            "特派团所需的资源、培训和装备相匹配，包括在受伤后一小时内实施医疗后送，加强情报和"
            "预警能力，以及有效防范爆炸威胁。",
            "我们还呼吁追究责任。针对维和人员的袭击可能构成战争罪。东道国有责任调查这些罪行，"
            "将肇事者绳之以法，联合国应为此提供支持。",
            "最后，我们必须应对日益针对特派团、使人员面临危险的虚假信息。战略沟通以及与当地"
            "社区的接触是部队保护工作的组成部分。",
            "我国将继续致力于联合国维和事业，并将继续派遣部队和警察、提供培训。谢谢主席先生。",
        ],
    ),
    "ar": (
        "بيان بشأن سلامة وأمن حفظة السلام",
        [
            "السيد الرئيس، أشكركم على عقد هذه المناقشة المفتوحة بشأن سلامة وأمن حفظة السلام، "
            "وأشكر وكيل الأمين العام لعمليات السلام على إحاطته.",
            "يخدم حفظة السلام في بعض أخطر الأماكن في العالم. وخلال العقد الماضي، فقد المئات "
            "من النساء والرجال ذوي الخوذ الزرقاء أرواحهم نتيجة أعمال عدائية وأجهزة متفجرة "
            "يدوية الصنع وهجمات على القوافل والمعسكرات. وكل وفاة من هذه الوفيات خسارة لأسرهم "
            "ولبلدانهم وللمجتمعات التي أُرسلوا لحمايتها.",
            "ويرى وفد بلدي أن سلامة حفظة السلام تبدأ بولايات واضحة وقابلة للتحقيق. ويجب على "
            "المجلس أن يوفّق بين طموحاته والموارد والتدريب والمعدات التي تحتاجها البعثات، بما "
            "في ذلك الإجلاء الطبي خلال الساعة الأولى بعد الإصابة، وتحسين المعلومات والإنذار "
            "المبكر، وتوفير حماية قوية من التهديدات المتفجرة.",
            "وندعو كذلك إلى المساءلة. فقد تشكل الهجمات على حفظة السلام جرائم حرب. وتقع على "
            "عاتق الدول المضيفة مسؤولية التحقيق في هذه الجرائم وتقديم المسؤولين عنها إلى "
            "العدالة، وينبغي للأمم المتحدة أن تدعمها في ذلك.",
            "وأخيرا، يجب علينا أن نتصدى للمعلومات المضللة التي تستهدف البعثات بشكل متزايد "
            "وتعرّض الأفراد للخطر. فالاتصال الاستراتيجي والتواصل مع المجتمعات المحلية جزء من "
            "حماية القوة.",
            "ويظل بلدي ملتزما بعمليات الأمم المتحدة لحفظ السلام، وسيواصل المساهمة بالقوات "
            "وأفراد الشرطة والتدريب. وشكرا.",
        ],
    ),
}

# (title, paragraphs) of the cover letter, per language: addressed to the President of the
# Security Council, signed by the Permanent Representative.
LETTER_TEXT: dict[str, tuple[str, list[str]]] = {
    "en": (
        "Letter from the Permanent Representative to the United Nations addressed to the "
        "President of the Security Council",
        [
            "Mr. President,",
            "I have the honour to transmit herewith the written statement of my delegation for "
            "the open debate of the Security Council on the safety and security of "
            "peacekeepers.",
            "I should be grateful if you would have the present letter and its annex "
            "circulated as a document of the Security Council.",
            "Please accept, Mr. President, the assurances of my highest consideration.",
            "(Signed) Permanent Representative",
        ],
    ),
    "fr": (
        "Lettre adressée au Président du Conseil de sécurité par le Représentant permanent "
        "auprès de l'Organisation des Nations Unies",
        [
            "Monsieur le Président du Conseil de sécurité,",
            "J'ai l'honneur de vous faire tenir ci-joint la déclaration écrite de ma délégation "
            "pour le débat public du Conseil de sécurité sur la sûreté et la sécurité des "
            "soldats de la paix.",
            "Je vous serais reconnaissant de bien vouloir faire distribuer le texte de la "
            "présente lettre et de son annexe comme document du Conseil de sécurité.",
            "Veuillez agréer, Monsieur le Président, les assurances de ma très haute "
            "considération.",
            "(Signé) Le Représentant permanent",
        ],
    ),
    "es": (
        "Carta dirigida al Presidente del Consejo de Seguridad por el Representante "
        "Permanente ante las Naciones Unidas",
        [
            "Señor Presidente del Consejo de Seguridad:",
            "Tengo el honor de transmitirle adjunta la declaración escrita de mi delegación "
            "para el debate abierto del Consejo de Seguridad sobre la seguridad y la "
            "protección del personal de mantenimiento de la paz.",
            "Le agradecería que tuviera a bien hacer distribuir la presente carta y su anexo "
            "como documento del Consejo de Seguridad.",
            "Aprovecho la ocasión para reiterarle las seguridades de mi más alta consideración.",
            "(Firmado) Representante Permanente",
        ],
    ),
    "ru": (
        "Письмо Постоянного представителя при Организации Объединенных Наций на имя "
        "Председателя Совета Безопасности",
        [
            "Председателю Совета Безопасности",
            "Г-н Председатель,",
            "Имею честь настоящим препроводить письменное заявление моей делегации для "
            "открытых прений Совета Безопасности по вопросу о безопасности и защите "
            "миротворцев.",
            "Буду признателен за распространение настоящего письма и приложения к нему в "
            "качестве документа Совета Безопасности.",
            "Примите, г-н Председатель, уверения в моем самом высоком уважении.",
            "(Подпись) Постоянный представитель",
        ],
    ),
    "zh": (
        "常驻联合国代表给安全理事会主席的信",
        [
            "安全理事会主席：",
            "谨随函转递我国代表团为安全理事会关于维和人员安全保障问题的公开辩论会提交的书面发言。",
            "请将本函及其附件作为安全理事会的文件分发为荷。",
            "顺致最崇高的敬意。",
            "常驻联合国代表（签名）",
        ],
    ),
    "ar": (
        "رسالة موجهة إلى رئيس مجلس الأمن من المندوب الدائم لدى الأمم المتحدة",
        [
            "السيد رئيس مجلس الأمن،",
            "يشرفني أن أحيل إليكم طيه البيان الخطي لوفد بلدي من أجل المناقشة المفتوحة لمجلس "
            "الأمن بشأن سلامة وأمن حفظة السلام.",
            "وأرجو ممتنا تعميم هذه الرسالة ومرفقها بوصفهما وثيقة من وثائق مجلس الأمن.",
            "وتفضلوا بقبول فائق الاحترام.",
            "(توقيع) المندوب الدائم",
        ],
    ),
}

OfficeFiles = dict[tuple[str, str], Path]


def make_office_files(directory: Path) -> OfficeFiles:
    """Build (or reuse, if complete) every file under `directory`.

    Keys: (language, format) for the six languages and FORMATS, (language, "letter_docx"),
    (language, "letter_pdf") and ("en", "pdf_scan"). Needs LibreOffice (raises
    ConversionUnavailable without it) and checks its own results, so a broken LibreOffice
    fails here with a clear message instead of as confusing test failures.
    """
    files = _expected_paths(directory)
    if all(path.is_file() and path.stat().st_size > 0 for path in files.values()):
        return files

    statements = [files[(lang, "docx")] for lang in LANGUAGES]
    letters = [files[(lang, "letter_docx")] for lang in LANGUAGES]
    statements[0].parent.mkdir(parents=True, exist_ok=True)
    for lang in LANGUAGES:
        _write_docx(files[(lang, "docx")], lang, *STATEMENT_TEXT[lang])
        _write_docx(files[(lang, "letter_docx")], lang, *LETTER_TEXT[lang])

    for fmt, target in _FILTERS.items():
        sources = statements + letters if fmt == "pdf" else statements
        outdir = directory / fmt
        outdir.mkdir(parents=True, exist_ok=True)
        # Documents these tests wrote: converted in the sandbox where it works, else without.
        soffice_convert(
            sources,
            target,
            outdir,
            timeout=_SOFFICE_TIMEOUT,
            confinement=Confinement(allow_unsandboxed=True),
        )

    for lang in LANGUAGES:
        _ensure_macro_enabled(files[(lang, "docm")])

    _write_scan(files[("en", "pdf")], files[("en", "pdf_scan")])

    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise RuntimeError(f"LibreOffice did not produce: {', '.join(missing)}")
    _check_pdfs(files)
    return files


def _expected_paths(directory: Path) -> OfficeFiles:
    files: OfficeFiles = {}
    for lang in LANGUAGES:
        for fmt in FORMATS:
            files[(lang, fmt)] = directory / fmt / f"statement-{lang}.{fmt}"
        files[(lang, "letter_docx")] = directory / "docx" / f"letter-{lang}.docx"
        files[(lang, "letter_pdf")] = directory / "pdf" / f"letter-{lang}.pdf"
    files[("en", "pdf_scan")] = directory / "scan" / "statement-en-scan.pdf"
    return files


# --- .docx sources ---------------------------------------------------------------------------


def _write_docx(path: Path, lang: str, title: str, paragraphs: list[str]) -> None:
    """A plain statement as a delegation would type it: a heading, then body paragraphs."""
    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.language = _LOCALES[lang]
    _format_paragraph(document.add_heading(title, level=1), lang)
    for text in paragraphs:
        _format_paragraph(document.add_paragraph(text), lang)
    document.save(str(path))


def _format_paragraph(paragraph: Any, lang: str) -> None:
    """Fonts and language on every run; right-to-left paragraph and runs for Arabic.

    Explicit fonts that have the glyphs keep the PDFs' text real (no missing-glyph boxes);
    the language tags are what Word itself would write for a document typed in it.
    """
    if lang in _RTL:
        bidi = OxmlElement("w:bidi")
        paragraph._p.get_or_add_pPr().insert_element_before(bidi, *_PPR_AFTER_BIDI)
    font = _FONTS.get(lang, _DEFAULT_FONT)
    for run in paragraph.runs:
        rpr = run._r.get_or_add_rPr()
        fonts = rpr.get_or_add_rFonts()
        for attribute in ("ascii", "hAnsi", "eastAsia", "cs"):
            fonts.set(qn(f"w:{attribute}"), font)
        for attribute in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
            fonts.attrib.pop(qn(f"w:{attribute}"), None)
        if lang in _RTL:
            rpr.get_or_add_rtl()
        language = OxmlElement("w:lang")
        language.set(qn("w:val"), _LOCALES[lang])
        language.set(qn("w:eastAsia"), _LOCALES["zh"] if lang == "zh" else _LOCALES[lang])
        language.set(qn("w:bidi"), _LOCALES["ar"])
        rpr.append(language)


# --- .docm -----------------------------------------------------------------------------------


def _ensure_macro_enabled(path: Path) -> None:
    """Make sure `path` declares the macro-enabled main content type (see module docstring)."""
    with zipfile.ZipFile(path) as archive:
        content_types = archive.read("[Content_Types].xml").decode("utf-8")
        if _MACRO_MAIN.lower() in content_types.lower():
            return
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    content_types = content_types.replace(_DOCX_MAIN, _MACRO_MAIN)
    content_types = content_types.replace(
        "</Types>",
        '<Override PartName="/word/vbaProject.bin" '
        'ContentType="application/vnd.ms-office.vbaProject"/></Types>',
    )
    parts["[Content_Types].xml"] = content_types.encode("utf-8")
    rels_name = "word/_rels/document.xml.rels"
    rels = parts[rels_name].decode("utf-8")
    rels = rels.replace(
        "</Relationships>",
        '<Relationship Id="rIdVbaProject" '
        'Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
        'Target="vbaProject.bin"/></Relationships>',
    )
    parts[rels_name] = rels.encode("utf-8")
    parts["word/vbaProject.bin"] = b"placeholder: not a VBA project"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", parts.pop("[Content_Types].xml"))
        for name, data in parts.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())


# --- PDFs ------------------------------------------------------------------------------------


def _write_scan(text_pdf: Path, target: Path) -> None:
    """An image-only PDF, like a signed statement put through a scanner.

    The page image is the English PDF rendered by pdftoppm (poppler-utils) when available,
    else a drawn page of grey "text lines"; either way it is wrapped in a minimal hand-written
    PDF with one image XObject, so the file has no text layer at all.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm:
        with tempfile.TemporaryDirectory() as temp:
            prefix = Path(temp) / "page"
            subprocess.run(
                [
                    pdftoppm,
                    "-gray",
                    "-r",
                    str(_SCAN_DPI),
                    "-f",
                    "1",
                    "-l",
                    "1",
                    "-singlefile",
                    str(text_pdf),
                    str(prefix),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            width, height, pixels = _read_pgm(prefix.with_suffix(".pgm").read_bytes())
    else:
        width, height, pixels = _drawn_page()
    target.write_bytes(_image_pdf(width, height, pixels, _SCAN_DPI))


def _read_pgm(data: bytes) -> tuple[int, int, bytes]:
    match = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    if match is None or match.group(3) != b"255":
        raise ValueError("pdftoppm did not write an 8-bit PGM")
    width, height = int(match.group(1)), int(match.group(2))
    return width, height, data[match.end() : match.end() + width * height]


def _drawn_page() -> tuple[int, int, bytes]:
    """A white A4-ish page at _SCAN_DPI with dark bars where lines of text would be."""
    width, height = 827, 1169
    rows = []
    for y in range(height):
        in_line = 100 <= y < height - 100 and (y - 100) % 30 < 12
        row = bytearray(b"\xff" * width)
        if in_line:
            row[100 : width - 100] = b"\x30" * (width - 200)
        rows.append(bytes(row))
    return width, height, b"".join(rows)


def _image_pdf(width: int, height: int, gray: bytes, dpi: int) -> bytes:
    """A one-page PDF 1.4 showing one 8-bit grey image, with a correct xref table."""
    page_width, page_height = width * 72 / dpi, height * 72 / dpi
    image = zlib.compress(gray)
    contents = f"q {page_width:.2f} 0 0 {page_height:.2f} 0 0 cm /Im0 Do Q".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {page_width:.2f} {page_height:.2f}] "
            "/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>"
        ).encode(),
        (
            f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
            "/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode "
            f"/Length {len(image)} >>\nstream\n"
        ).encode()
        + image
        + b"\nendstream",
        f"<< /Length {len(contents)} >>\nstream\n".encode() + contents + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def _pdf_text(path: Path) -> str:
    return "".join(page.extract_text() or "" for page in PdfReader(path).pages)


def _check_pdfs(files: OfficeFiles) -> None:
    """Text PDFs must have a text layer and the scan must not: tests rely on both."""
    for lang in LANGUAGES:
        for kind in ("pdf", "letter_pdf"):
            if not _pdf_text(files[(lang, kind)]).strip():
                raise RuntimeError(f"{files[(lang, kind)]} has no text layer")
    if _pdf_text(files[("en", "pdf_scan")]).strip():
        raise RuntimeError("the scanned PDF unexpectedly has a text layer")


# -- hostile variants of a real .docx ---------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" if n > 1 else "&lol;" * 10}">' for n in range(1, 10)
    )
    + "]>\n"
)


def with_part_replaced(content: bytes, name: str, data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, data if item.filename == name else source.read(item.filename))
    return out.getvalue()


def billion_laughs_in_styles(content: bytes) -> bytes:
    """The .docx with a billion-laughs DTD at the top of word/styles.xml (its body and
    every other part untouched) and the entity used in a style name."""
    styles = zipfile.ZipFile(io.BytesIO(content)).read("word/styles.xml").decode("utf-8")
    root = styles[styles.index("<w:styles") :]
    root = root.replace('w:val="Normal"', 'w:val="Normal &lol9;"', 1)
    return with_part_replaced(content, "word/styles.xml", (BILLION_LAUGHS + root).encode())
