"""Generate ``registry.json``, the list of missions that may send statements to Intake.

Why a generator rather than a hand-typed list: the set of delegations and their names
change rarely but do change (Czechia, Eswatini, North Macedonia, Türkiye, the
Netherlands...), and a hand-typed list of 196 names in six languages silently drifts
and collects typos. Instead the list is derived from two maintained data packages
(installed with the ``registry`` extra), and everything that is *our* judgement
rather than theirs sits in small, commented tables in this file:

* ``country_converter`` (its ``country_data.tsv``): the ``UNmember`` column holds the
  year of admission for exactly the 193 UN Member States. The TSV is read with the
  ``csv`` module and located with ``importlib.util.find_spec`` so that
  ``country_converter`` is never imported (importing it pulls in pandas).
* ``pycountry`` (ISO 3166-1 from Debian iso-codes): the alpha-3 code, the ISO English
  short name, and the iso-codes gettext translations in French, Spanish, Russian,
  Chinese (``zh_CN``) and Arabic.

Who is in the registry:

* the 193 Member States (kind ``member_state``);
* the two non-member observer States, ``OBSERVER_STATES`` (kind ``observer_state``):
  the Holy See (VAT) and the State of Palestine (PSE). Observer status is a General
  Assembly decision that neither package records, hence the explicit constant;
* the European Union (kind ``organization``), code ``EUU`` (the code the World Bank and
  country_converter use; ISO 3166-1 has no code for it) with its six names given as a
  literal, ``EUROPEAN_UNION``, because it is not in ISO 3166.

How the English name (``name`` and ``names["en"]``) is made -- the UN short name in
UNTERM style, which is how the desk writes delegations' names:

1. ISO writes some names inverted, ``"X, Y of"``. UNTERM instead either puts the
   qualifier first or in parentheses (see ``un_short_name``):

   * when the qualifier starts with "Republic", "United Republic", "Democratic",
     "The Democratic" or "State of", it is moved in front, dropping a leading "The"
     because UNTERM writes no article there: "Korea, Republic of" -> "Republic of
     Korea", "Moldova, Republic of" -> "Republic of Moldova", "Tanzania, United
     Republic of" -> "United Republic of Tanzania", "Korea, Democratic People's
     Republic of" -> "Democratic People's Republic of Korea", "Congo, The Democratic
     Republic of the" -> "Democratic Republic of the Congo", "Palestine, State of"
     -> "State of Palestine";
   * otherwise it is parenthesised: "Bolivia, Plurinational State of" -> "Bolivia
     (Plurinational State of)", "Iran, Islamic Republic of" -> "Iran (Islamic
     Republic of)", "Venezuela, Bolivarian Republic of" -> "Venezuela (Bolivarian
     Republic of)", "Micronesia, Federated States of" -> "Micronesia (Federated States
     of)".

2. ``UN_NAME_OVERRIDES`` then replaces the few names where iso-codes and UNTERM
   disagree outright. Every one of the 196 generated names was checked against the
   UNTERM short names; the table lists every mismatch found, each with its reason.
   An override that no longer changes anything (because iso-codes caught up) is an
   error, so the table stays as small as the real disagreement.

3. ``article`` says whether UN English writes "the" before the name ("the Netherlands
   (Kingdom of the)", "the Holy See", "the European Union"), which the compilation of
   statements needs: it lists "the Holy See" but sorts it under H. ISO has no such field
   and UNTERM's article is not in any maintained package, so it is a documented rule set
   (``takes_article``), applied to the UN short name:

   * the name starts with one of ``ARTICLE_PREFIXES`` as whole words: "Republic",
     "United", "Democratic", "Kingdom", "State of", "Russian Federation", "Holy See",
     "European Union", "Central African", "Dominican", "Syrian", "Lao", "Czech".
     Whole words, so "Dominica" and "Czechia" take none (only the former "Czech
     Republic" would), while "Dominican Republic" does;
   * the name is plural: its head (the part before any parenthesised qualifier) ends in
     "Islands" ("the Marshall Islands", "the Solomon Islands") or is one of
     ``PLURAL_NAMES`` ("the Bahamas", "the Comoros", "the Maldives", "the Philippines",
     "the Netherlands (Kingdom of the)"; "the United Arab Emirates" already starts with
     "United"). Names ending in "s" are not plural by that alone: Barbados, Cyprus,
     Honduras, Seychelles take no article;
   * the name is one of ``ARTICLE_NAMES``, the States UN English names with an article
     for no rule one could write: "the Congo", "the Gambia", "the Niger", "the Sudan"
     (exact names: "South Sudan" and "Democratic Republic of the Congo" are judged on
     their own).

   Names with a parenthesised qualifier take none unless a rule above says so: "Iran
   (Islamic Republic of)", "Bolivia (Plurinational State of)", "Venezuela (Bolivarian
   Republic of)", "Micronesia (Federated States of)"; nor do "Türkiye" or "Côte
   d'Ivoire". An entry of ``PLURAL_NAMES`` or ``ARTICLE_NAMES`` that matches no mission
   stops the generator (a renamed State must not silently lose its article).

The other five languages are the iso-codes translations of the *ISO* English short
name -- they are ISO translations, not UNTERM names, and may differ from the UN's own
(e.g. the inverted "Corée, République de"). They are provided so that replies and
search can show a recognisable name in the delegation's language, not as an
authoritative UN rendering. Where a catalogue has no translation and would fall back
to the Latin-script English name in Russian, Chinese or Arabic, ``TRANSLATION_GAPS``
supplies it; a new gap of that kind stops the generator rather than slipping through.

Output is deterministic (missions sorted by code, fixed key order, UTF-8, ``indent=1``,
``ensure_ascii=False``, trailing newline) and records the package versions it was made
from under ``"source"``, so a diff of ``registry.json`` shows exactly what changed and
why. Run ``python -m pipeline.missions.generate`` to rewrite the file, and
``python -m pipeline.missions.generate --check`` (CI, tests) to fail when the committed
file is not what the installed packages would produce.
"""

from __future__ import annotations

import argparse
import csv
import gettext
import importlib.metadata
import importlib.util
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final, TypedDict

REGISTRY_PATH: Final = Path(__file__).with_name("registry.json")
"""The committed output; the runtime loader reads it through importlib.resources."""

LANGUAGES: Final[Mapping[str, str]] = {
    # registry key -> iso-codes gettext locale. Order is the order written to the JSON.
    "en": "en",
    "fr": "fr",
    "es": "es",
    "ru": "ru",
    "zh": "zh_CN",
    "ar": "ar",
}

MEMBER_STATE_COUNT: Final = 193
"""UN Member States since South Sudan's admission in 2011; a guard against bad data."""

OBSERVER_STATES: Final[tuple[str, ...]] = (
    "VAT",  # Holy See: non-member observer State since 1964.
    "PSE",  # State of Palestine: non-member observer State since GA res. 67/19 (2012).
)

EU_CODE: Final = "EUU"

EUROPEAN_UNION: Final[Mapping[str, str]] = {
    # Not in ISO 3166-1, so its names cannot come from iso-codes; these are the
    # EU's own names in the six UN official languages.
    "en": "European Union",
    "fr": "Union européenne",
    "es": "Unión Europea",
    "ru": "Европейский союз",
    "zh": "欧洲联盟",
    "ar": "الاتحاد الأوروبي",
}

UN_NAME_OVERRIDES: Final[Mapping[str, str]] = {
    # ISO's short name is "United Kingdom"; UNTERM's short name is the full form.
    "GBR": "United Kingdom of Great Britain and Northern Ireland",
    # ISO's short name is "United States"; UNTERM's short name is the full form.
    "USA": "United States of America",
    # ISO keeps "Netherlands"; since 2023 UNTERM lists "Netherlands (Kingdom of the)".
    "NLD": "Netherlands (Kingdom of the)",
    # ISO names the territory, "Holy See (Vatican City State)"; the observer at the UN
    # is the Holy See itself.
    "VAT": "Holy See",
}

TRANSLATION_GAPS: Final[Mapping[tuple[str, str], str]] = {
    # iso-codes' Arabic catalogue has no entry for the 2022 ISO name "Türkiye" (it was
    # translated under the old "Turkey"), so gettext would return the Latin-script
    # English; "تركيا" is the Arabic short name the UN uses.
    ("TUR", "ar"): "تركيا",
}

ARTICLE_PREFIXES: Final[tuple[str, ...]] = (
    # A UN short name starting with these words takes "the" (rule 3 of the module).
    "Republic",
    "United",
    "Democratic",
    "Kingdom",
    "State of",
    "Russian Federation",
    "Holy See",
    "European Union",
    "Central African",
    "Dominican",
    "Syrian",
    "Lao",
    "Czech",
)

PLURAL_NAMES: Final[frozenset[str]] = frozenset(
    # Plural names take "the"; those ending in "Islands" are found by the rule itself.
    {"Bahamas", "Comoros", "Maldives", "Philippines", "Netherlands", "United Arab Emirates"}
)

ARTICLE_NAMES: Final[frozenset[str]] = frozenset(
    # Singular names UN English writes with "the", for no rule: the whole name must match.
    {"Congo", "Gambia", "Niger", "Sudan"}
)

_REORDERED_QUALIFIERS: Final[tuple[str, ...]] = (
    "Republic",
    "United Republic",
    "Democratic",
    "The Democratic",
    "State of",
)
_NON_LATIN_LANGUAGES: Final[frozenset[str]] = frozenset({"ru", "zh", "ar"})
_LATIN_LETTER: Final = re.compile(r"[A-Za-z]")


class Source(TypedDict):
    """Versions of the data packages a registry file was generated from."""

    pycountry: str
    country_converter: str


class MissionRecord(TypedDict):
    """One mission as written to ``registry.json``."""

    code: str
    name: str
    article: bool
    kind: str
    names: dict[str, str]


class RegistryDocument(TypedDict):
    """The whole of ``registry.json``."""

    source: Source
    missions: list[MissionRecord]


class GenerationError(RuntimeError):
    """The data packages disagree with what the generator expects; fix before writing."""


def un_short_name(iso_name: str) -> str:
    """Turn an ISO 3166 English short name into the UNTERM style (rule 1 of the module).

    Names without an inverted ", qualifier" are returned unchanged.
    """
    head, separator, qualifier = iso_name.partition(", ")
    if not separator:
        return iso_name
    if any(qualifier == p or qualifier.startswith(p + " ") for p in _REORDERED_QUALIFIERS):
        # UNTERM writes "Democratic Republic of the Congo", with no leading article.
        qualifier = qualifier.removeprefix("The ")
        return f"{qualifier} {head}"
    return f"{head} ({qualifier})"


def _head(name: str) -> str:
    """The name before any qualifier: "Netherlands (Kingdom of the)" -> "Netherlands"."""
    return name.partition(" (")[0]


def takes_article(name: str) -> bool:
    """Whether UN English writes "the" before this UN short name (rule 3 of the module)."""
    if any(name == prefix or name.startswith(prefix + " ") for prefix in ARTICLE_PREFIXES):
        return True
    head = _head(name)
    return head.endswith(" Islands") or head in PLURAL_NAMES or name in ARTICLE_NAMES


def _check_article_tables(names: Sequence[str]) -> None:
    """Every explicit entry must still name a mission: a rename must not drop an article."""
    heads = {_head(name) for name in names}
    stale = sorted((PLURAL_NAMES - heads) | (ARTICLE_NAMES - set(names)))
    if stale:
        raise GenerationError(
            f"PLURAL_NAMES/ARTICLE_NAMES name no mission: {stale}; update the tables"
        )


def _country_converter_tsv() -> Path:
    """Locate country_converter's data file without importing the package (pandas)."""
    spec = importlib.util.find_spec("country_converter")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "country_converter is not installed; install the 'registry' extra"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "country_data.tsv"


def member_state_codes() -> frozenset[str]:
    """ISO alpha-3 codes of the UN Member States, from country_converter's ``UNmember``."""
    with _country_converter_tsv().open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    codes = frozenset(
        row["ISO3"].strip()
        for row in rows
        if (row.get("UNmember") or "").strip() not in ("", "nan")
    )
    if len(codes) != MEMBER_STATE_COUNT:
        raise GenerationError(
            f"country_converter lists {len(codes)} UN members, expected {MEMBER_STATE_COUNT}"
        )
    return codes


def _translators() -> dict[str, gettext.NullTranslations]:
    """One iso3166-1 gettext catalogue per non-English registry language."""
    import pycountry

    return {
        key: gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale])
        for key, locale in LANGUAGES.items()
        if key != "en"
    }


def _translate(
    code: str,
    iso_name: str,
    translators: Mapping[str, gettext.NullTranslations],
) -> dict[str, str]:
    """ISO translations of ``iso_name``, with ``TRANSLATION_GAPS`` filled in."""
    names: dict[str, str] = {}
    for key, translator in translators.items():
        translated = translator.gettext(iso_name)
        gap = TRANSLATION_GAPS.get((code, key))
        if gap is not None:
            if translated != iso_name:
                raise GenerationError(
                    f"TRANSLATION_GAPS[{code!r}, {key!r}] is obsolete: iso-codes now "
                    f"has {translated!r}; remove the entry"
                )
            translated = gap
        if key in _NON_LATIN_LANGUAGES and _LATIN_LETTER.search(translated):
            raise GenerationError(
                f"no {key} translation for {code} {iso_name!r} in iso-codes; "
                "add it to TRANSLATION_GAPS"
            )
        names[key] = translated
    return names


def _state_records() -> Iterator[MissionRecord]:
    """Member and observer States, built from pycountry and country_converter."""
    import pycountry

    members = member_state_codes()
    overlap = members.intersection(OBSERVER_STATES)
    if overlap:
        raise GenerationError(f"observer States listed as members: {sorted(overlap)}")
    unused = set(UN_NAME_OVERRIDES) - members - set(OBSERVER_STATES)
    if unused:
        raise GenerationError(f"UN_NAME_OVERRIDES for codes not in the registry: {unused}")

    translators = _translators()
    for code in sorted(members | set(OBSERVER_STATES)):
        country = pycountry.countries.get(alpha_3=code)
        if country is None:
            raise GenerationError(f"{code} is not an ISO 3166-1 alpha-3 code in pycountry")
        iso_name = country.name
        name = un_short_name(iso_name)
        override = UN_NAME_OVERRIDES.get(code)
        if override is not None:
            if override == name:
                raise GenerationError(
                    f"UN_NAME_OVERRIDES[{code!r}] is obsolete: the rules already give "
                    f"{name!r}; remove the entry"
                )
            name = override
        yield {
            "code": code,
            "name": name,
            "article": takes_article(name),
            "kind": "member_state" if code in members else "observer_state",
            "names": {"en": name, **_translate(code, iso_name, translators)},
        }


def _european_union() -> MissionRecord:
    """The EU entry, which no ISO data covers."""
    return {
        "code": EU_CODE,
        "name": EUROPEAN_UNION["en"],
        "article": takes_article(EUROPEAN_UNION["en"]),
        "kind": "organization",
        "names": {key: EUROPEAN_UNION[key] for key in LANGUAGES},
    }


def build() -> RegistryDocument:
    """The registry document from the installed data packages."""
    missions = [*_state_records(), _european_union()]
    missions.sort(key=lambda mission: mission["code"])
    codes = [mission["code"] for mission in missions]
    if len(set(codes)) != len(codes):
        raise GenerationError("duplicate mission codes")
    _check_article_tables([mission["name"] for mission in missions])
    return {
        "source": {
            "pycountry": importlib.metadata.version("pycountry"),
            "country_converter": importlib.metadata.version("country_converter"),
        },
        "missions": missions,
    }


def render() -> str:
    """The exact text of ``registry.json`` (what ``--check`` compares byte for byte)."""
    return json.dumps(build(), ensure_ascii=False, indent=1) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``registry.json``, or with ``--check`` report whether it is up to date."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.missions.generate",
        description="Generate the mission registry from pycountry and country_converter.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the committed registry.json differs",
    )
    args = parser.parse_args(argv)
    try:
        text = render()
    except (GenerationError, ModuleNotFoundError) as error:
        print(f"cannot generate the mission registry: {error}", file=sys.stderr)
        return 2
    if args.check:
        try:
            committed = REGISTRY_PATH.read_text(encoding="utf-8")
        except FileNotFoundError:
            committed = None
        if committed != text:
            print(
                f"{REGISTRY_PATH} is out of date; run: python -m pipeline.missions.generate",
                file=sys.stderr,
            )
            return 1
        return 0
    REGISTRY_PATH.write_text(text, encoding="utf-8", newline="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
