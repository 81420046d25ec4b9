"""How fast, and how flat in memory, the document stage reads a statement.

    .venv/bin/python benchmarks/bench_documents.py [--count 20000] [--timed 2000]

Builds realistic statements with python-docx (title, ten paragraphs of about 500 words,
a table, a footnote added as raw XML, a letterhead in the header) in the six official
languages, four variants each, then:

(a) times the "checks and counts" path per document, inspect_zip + read_docx +
    measure_text + detect_language, and each stage alone (read_docx runs inspect_zip's
    checks itself; the pipeline calls read_docx only, so the literal path pays for the
    inspection twice);
(b) runs the same path over --count documents and samples RSS (VmRSS) every 1,000, to
    show that nothing accumulates;
(c) times python-docx opening the same files and walking their paragraphs and tables,
    the way the stage used to read them.

Targets: median <= 3 ms, RSS flat (growth from the 2,000th document on within a few MB).
Always exits 0: this is a measurement, CI does not run it.
"""

from __future__ import annotations

import argparse
import gc
import io
import statistics
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import docx
from docx.oxml import parse_xml

from pipeline.documents.docx_reader import read_docx
from pipeline.documents.language import detect_language
from pipeline.documents.length import measure_text
from pipeline.documents.safety import inspect_zip

T = TypeVar("T")
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
TARGET_MEDIAN_MS = 3.0
FLAT_RSS_MB = 5.0

SENTENCES: dict[str, list[str]] = {
    "en": [
        "Mr. President, I thank you for convening this open debate on the safety and "
        "security of United Nations peacekeepers.",
        "Since the beginning of this year, peacekeepers have been killed or injured by "
        "improvised explosive devices, ambushes and indirect fire in several missions.",
        "My delegation pays tribute to the courage of the women and men who serve under "
        "the blue flag, often far from home and in very difficult conditions.",
        "We call on all host States to fulfil their obligations under the status-of-forces "
        "agreements and to bring the perpetrators of attacks to justice.",
        "Accountability for crimes against peacekeepers is not optional: impunity invites "
        "further violence and undermines the credibility of this Council.",
        "Missions must be given the resources, the training and the medical capacity they "
        "need, including casualty evacuation within the first hour.",
        "Technology can save lives, and we support the wider use of early-warning systems, "
        "counter-IED equipment and tools for situational awareness.",
        "My country remains ready to work with all members of the Council to ensure that "
        "mandates are clear, realistic and properly resourced.",
    ],
    "fr": [
        "Monsieur le Président, je vous remercie d'avoir organisé ce débat public sur la "
        "sûreté et la sécurité des soldats de la paix des Nations Unies.",
        "Depuis le début de l'année, des Casques bleus ont été tués ou blessés par des "
        "engins explosifs improvisés, des embuscades et des tirs indirects.",
        "Ma délégation rend hommage au courage des femmes et des hommes qui servent sous "
        "le drapeau bleu, souvent loin de chez eux et dans des conditions difficiles.",
        "Nous appelons tous les États hôtes à respecter les accords sur le statut des "
        "forces et à traduire en justice les auteurs de ces attaques.",
        "L'établissement des responsabilités n'est pas facultatif : l'impunité encourage "
        "de nouvelles violences et affaiblit la crédibilité de ce Conseil.",
        "Les missions doivent disposer des ressources, de la formation et des capacités "
        "médicales nécessaires, y compris l'évacuation des blessés dans l'heure.",
        "La technologie sauve des vies, et nous soutenons un plus large recours aux "
        "systèmes d'alerte rapide et aux outils de connaissance de la situation.",
        "Mon pays reste prêt à travailler avec tous les membres du Conseil pour que les "
        "mandats soient clairs, réalistes et dotés des moyens nécessaires.",
    ],
    "es": [
        "Señor Presidente, le agradezco que haya convocado este debate abierto sobre la "
        "seguridad del personal de mantenimiento de la paz de las Naciones Unidas.",
        "Desde comienzos de este año, varios cascos azules han muerto o resultado heridos "
        "por artefactos explosivos improvisados, emboscadas y fuego indirecto.",
        "Mi delegación rinde homenaje a la valentía de las mujeres y los hombres que "
        "sirven bajo la bandera azul, a menudo lejos de su hogar.",
        "Exhortamos a todos los Estados anfitriones a cumplir los acuerdos sobre el "
        "estatuto de las fuerzas y a llevar ante la justicia a los responsables.",
        "La rendición de cuentas no es opcional: la impunidad alienta nuevos actos de "
        "violencia y socava la credibilidad de este Consejo.",
        "Las misiones deben contar con los recursos, la capacitación y la capacidad médica "
        "que necesitan, incluida la evacuación de heridos en la primera hora.",
        "La tecnología salva vidas, y apoyamos un mayor uso de los sistemas de alerta "
        "temprana y de las herramientas de conocimiento de la situación.",
        "Mi país sigue dispuesto a trabajar con todos los miembros del Consejo para que "
        "los mandatos sean claros, realistas y cuenten con recursos suficientes.",
    ],
    "ru": [
        "Г-н Председатель, благодарю Вас за созыв этих открытых прений по вопросу о "
        "безопасности миротворцев Организации Объединенных Наций.",
        "С начала года миротворцы гибли и получали ранения в результате подрывов "
        "самодельных взрывных устройств, засад и обстрелов в нескольких миссиях.",
        "Наша делегация отдает должное мужеству женщин и мужчин, которые служат под "
        "голубым флагом, зачастую вдали от дома и в очень трудных условиях.",
        "Мы призываем все принимающие государства выполнять соглашения о статусе сил и "
        "привлекать к ответственности виновных в нападениях.",
        "Ответственность за преступления против миротворцев обязательна: безнаказанность "
        "порождает новое насилие и подрывает авторитет Совета.",
        "Миссии должны получать ресурсы, подготовку и медицинские возможности, включая "
        "эвакуацию раненых в течение первого часа.",
        "Технологии спасают жизни, и мы поддерживаем более широкое применение систем "
        "раннего предупреждения и средств оценки обстановки.",
        "Наша страна готова работать со всеми членами Совета, чтобы мандаты были ясными, "
        "реалистичными и обеспеченными ресурсами.",
    ],
    "ar": [
        "السيد الرئيس، أشكركم على عقد هذه المناقشة المفتوحة بشأن سلامة وأمن حفظة السلام "
        "التابعين للأمم المتحدة.",
        "منذ بداية هذا العام، قُتل أو جُرح عدد من حفظة السلام بسبب العبوات الناسفة "
        "المرتجلة والكمائن والقصف غير المباشر في عدة بعثات.",
        "ويشيد وفدي بشجاعة النساء والرجال الذين يخدمون تحت العلم الأزرق، بعيدا عن "
        "ديارهم وفي ظروف بالغة الصعوبة.",
        "وندعو جميع الدول المضيفة إلى الوفاء بالتزاماتها بموجب اتفاقات مركز القوات "
        "وإلى تقديم مرتكبي الهجمات إلى العدالة.",
        "إن المساءلة عن الجرائم المرتكبة ضد حفظة السلام ليست خيارا، فالإفلات من العقاب "
        "يشجع على مزيد من العنف ويقوض مصداقية هذا المجلس.",
        "ويجب أن تحصل البعثات على الموارد والتدريب والقدرات الطبية التي تحتاج إليها، "
        "بما في ذلك إجلاء المصابين خلال الساعة الأولى.",
        "إن التكنولوجيا تنقذ الأرواح، ونحن ندعم التوسع في استخدام نظم الإنذار المبكر "
        "وأدوات الوعي بالأوضاع.",
        "ويظل بلدي مستعدا للعمل مع جميع أعضاء المجلس لضمان أن تكون الولايات واضحة "
        "وواقعية ومزودة بالموارد الكافية.",
    ],
    "zh": [
        "主席先生，感谢你召开这次关于联合国维和人员安全保障问题的公开辩论会。",
        "今年以来，多个特派团的维和人员在简易爆炸装置袭击、伏击和间接火力中伤亡。",
        "中方代表团向在蓝旗下服役的男女维和人员致敬，他们远离家乡，在艰苦环境中履行职责。",
        "我们呼吁所有东道国切实履行部队地位协定规定的义务，将袭击维和人员的凶手绳之以法。",
        "追究袭击维和人员罪行的责任不是可有可无的，有罪不罚只会助长暴力，损害安理会的公信力。",
        "特派团必须获得所需的资源、培训和医疗能力，包括在一小时内完成伤员后送。",
        "技术能够挽救生命，我们支持更广泛地使用预警系统、反简易爆炸装置设备和态势感知工具。",
        "中方愿同安理会所有成员一道努力，确保各项授权清晰、务实并得到充足资源保障。",
    ],
}
TITLES = {
    "en": "Statement by the Permanent Representative at the open debate on peacekeeping",
    "fr": "Déclaration du Représentant permanent au débat public sur le maintien de la paix",
    "es": "Declaración del Representante Permanente en el debate abierto sobre la paz",
    "ru": "Выступление Постоянного представителя на открытых прениях по миротворчеству",
    "ar": "بيان الممثل الدائم في المناقشة المفتوحة بشأن حفظ السلام",
    "zh": "常驻代表在维持和平问题公开辩论会上的发言",
}
FOOTNOTES_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<w:footnotes xmlns:w="{W_NS}">'
    '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
    '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r>'
    "<w:continuationSeparator/></w:r></w:p></w:footnote>"
    '<w:footnote w:id="1"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> '
    "See Security Council resolution 2518 (2020) and document S/2025/123.</w:t></w:r></w:p>"
    "</w:footnote></w:footnotes>"
)
FOOTNOTES_REL = (
    '<Relationship Id="rIdFootnotes1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/>'
)
FOOTNOTES_TYPE = (
    '<Override PartName="/word/footnotes.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.wordprocessingml.footnotes+xml"/>'
)


def add_footnote_part(content: bytes) -> bytes:
    """python-docx has no footnotes API: add the part, its relationship and its type."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/_rels/document.xml.rels":
                data = data.replace(
                    b"</Relationships>", FOOTNOTES_REL.encode() + b"</Relationships>"
                )
            elif info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", FOOTNOTES_TYPE.encode() + b"</Types>")
            target.writestr(info.filename, data)
        target.writestr("word/footnotes.xml", FOOTNOTES_XML)
    return out.getvalue()


def build_statement(language: str, variant: int) -> bytes:
    sentences = SENTENCES[language]
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Permanent Mission to the United Nations"
    document.add_heading(TITLES[language], 0)
    document.add_paragraph(f"New York, {10 + variant} March 2026")
    rounds = 2  # about 500 words; in Chinese, about 750 characters
    for paragraph in range(10):
        start = (paragraph * 3 + variant) % len(sentences)
        chosen = [sentences[(start + k) % len(sentences)] for k in range(rounds)]
        separator = "" if language == "zh" else " "
        added = document.add_paragraph(separator.join(chosen))
        if paragraph == 3:
            added._p.append(  # the footnote reference
                parse_xml(f'<w:r xmlns:w="{W_NS}"><w:footnoteReference w:id="1"/></w:r>')
            )
    table = document.add_table(rows=4, cols=3)
    for row, (mission, before, after) in enumerate(
        [
            ("Mission", "2024", "2025"),
            ("MINUSCA", "7", "9"),
            ("UNIFIL", "3", "4"),
            ("MONUSCO", "11", "8"),
        ]
    ):
        cells = table.rows[row].cells
        cells[0].text, cells[1].text = mission, before
        cells[2].text = after if row == 0 else str(int(after) + variant)
    buffer = io.BytesIO()
    document.save(buffer)
    return add_footnote_part(buffer.getvalue())


def checks_and_counts(content: bytes) -> tuple[int, str | None]:
    inspect_zip(content)
    text = read_docx(content)
    length = measure_text(text.text)
    language = detect_language(text.text)
    return length.measure(language), language


def python_docx_walk(content: bytes) -> int:
    document = docx.Document(io.BytesIO(content))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                texts.extend(p.text for p in cell.paragraphs)
    return len(texts)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Timing:
    name: str
    samples_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.samples_ms, n=20)[-1]


def time_each(name: str, runs: int, items: Sequence[T], work: Callable[[T], object]) -> Timing:
    samples = []
    for index in range(runs):
        item = items[index % len(items)]
        start = time.perf_counter_ns()
        work(item)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return Timing(name, samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20000, help="documents for the RSS run")
    parser.add_argument("--timed", type=int, default=2000, help="documents for the timings")
    parser.add_argument("--docx-runs", type=int, default=300, help="python-docx comparison runs")
    args = parser.parse_args()

    built = time.perf_counter()
    variants = {(lang, v): build_statement(lang, v) for lang in SENTENCES for v in range(4)}
    documents = list(variants.values())
    sizes = sorted(len(d) for d in documents)
    print(
        f"built {len(documents)} statements in {time.perf_counter() - built:.1f} s "
        f"({sizes[0] / 1024:.0f}-{sizes[-1] / 1024:.0f} KB each)"
    )
    for (lang, _), content in list(variants.items())[::4]:
        measured, detected = checks_and_counts(content)  # also warms langid's model up
        text = read_docx(content)
        unit = "characters" if detected in ("zh", "ja") else "words"
        print(
            f"  {lang}: detected {detected}, {measured} {unit}, {text.paragraphs} paragraphs, "
            f"pages {text.pages}, title {(text.title or '')[:40]!r}"
        )

    # (a) per-document timings
    texts = [read_docx(d).text for d in documents]
    timings = [
        time_each("inspect_zip", args.timed, documents, inspect_zip),
        time_each("read_docx (incl. its inspection)", args.timed, documents, read_docx),
        time_each("measure_text", args.timed, texts, measure_text),
        time_each("detect_language", args.timed, texts, detect_language),
        time_each(
            "full path: inspect+read+measure+detect", args.timed, documents, checks_and_counts
        ),
    ]
    per_language = {
        lang: time_each(
            lang, args.timed // 6, [variants[(lang, v)] for v in range(4)], checks_and_counts
        )
        for lang in SENTENCES
    }

    # (b) memory over many documents
    gc.collect()
    series: list[tuple[int, float]] = [(0, rss_mb())]
    started = time.perf_counter()
    for index in range(1, args.count + 1):
        checks_and_counts(documents[index % len(documents)])
        if index % 1000 == 0:
            series.append((index, rss_mb()))
    elapsed = time.perf_counter() - started
    at = dict(series)
    base = at.get(2000, series[0][1])
    growth = series[-1][1] - base

    # (c) python-docx for comparison
    docx_timing = time_each(
        "python-docx open + paragraph walk", args.docx_runs, documents, python_docx_walk
    )

    print()
    print(f"{'per document (ms)':<42} {'median':>8} {'p95':>8}")
    for timing in timings:
        print(f"{timing.name:<42} {timing.median:8.3f} {timing.p95:8.3f}")
    print(f"{docx_timing.name:<42} {docx_timing.median:8.3f} {docx_timing.p95:8.3f}")
    print()
    print(
        "full path by language (ms):  "
        + "  ".join(f"{lang} {t.median:.2f}/{t.p95:.2f}" for lang, t in per_language.items())
        + "   (median/p95)"
    )
    print()
    print(
        f"RSS over {args.count} documents ({elapsed:.1f} s, {args.count / elapsed:.0f} docs/s), MB:"
    )
    print("  " + ", ".join(f"{n // 1000}k:{mb:.1f}" for n, mb in series))
    print(f"  growth from document {min(2000, args.count)} to {args.count}: {growth:+.2f} MB")
    print()
    full = timings[-1]
    fast = "met" if full.median <= TARGET_MEDIAN_MS else "MISSED"
    flat = "met" if abs(growth) < FLAT_RSS_MB else "MISSED"
    print(
        f"target median <= {TARGET_MEDIAN_MS} ms: {fast} ({full.median:.2f} ms, "
        f"{docx_timing.median / full.median:.1f}x faster than python-docx); "
        f"RSS flat (< {FLAT_RSS_MB} MB growth): {flat}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
