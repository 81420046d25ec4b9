"""User stories for the mission registry: the desk recognises every delegation by the
name the UN uses, in the six official languages, and the committed list is exactly
what the maintained data packages produce."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

import pytest

from pipeline.missions import generate
from pipeline.missions import registry as registry_module
from pipeline.missions.registry import MissionInfo, MissionKind, find_mission, load_registry

LANGUAGES = ("en", "fr", "es", "ru", "zh", "ar")


def _data_packages_missing() -> str | None:
    """Why the generator cannot run here, or None if it can."""
    if importlib.util.find_spec("pycountry") is None:
        return "pycountry is not installed (install the 'registry' extra)"
    if importlib.util.find_spec("country_converter") is None:
        return "country_converter is not installed (install the 'registry' extra)"
    return None


needs_data_packages = pytest.mark.skipif(
    _data_packages_missing() is not None, reason=str(_data_packages_missing())
)


def test_registry_lists_every_member_state_both_observers_and_the_eu() -> None:
    kinds = Counter(mission.kind for mission in load_registry().values())
    assert kinds == {
        MissionKind.MEMBER_STATE: 193,
        MissionKind.OBSERVER_STATE: 2,
        MissionKind.ORGANIZATION: 1,
    }
    assert len(load_registry()) == 196


def test_committed_file_has_no_duplicate_codes() -> None:
    raw = json.loads(files("pipeline.missions").joinpath("registry.json").read_text("utf-8"))
    codes = [mission["code"] for mission in raw["missions"]]
    assert len(codes) == len(set(codes)) == 196
    assert codes == sorted(codes)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("CIV", "Côte d'Ivoire"),
        ("VAT", "Holy See"),
        ("PSE", "State of Palestine"),
        ("EUU", "European Union"),
        ("NLD", "Netherlands (Kingdom of the)"),
        ("TUR", "Türkiye"),
        ("GBR", "United Kingdom of Great Britain and Northern Ireland"),
        ("USA", "United States of America"),
        ("BOL", "Bolivia (Plurinational State of)"),
        ("VEN", "Venezuela (Bolivarian Republic of)"),
        ("FSM", "Micronesia (Federated States of)"),
        ("KOR", "Republic of Korea"),
        ("PRK", "Democratic People's Republic of Korea"),
        ("COD", "Democratic Republic of the Congo"),
        ("COG", "Congo"),
        ("TZA", "United Republic of Tanzania"),
        ("MDA", "Republic of Moldova"),
        ("IRN", "Iran (Islamic Republic of)"),
        ("LAO", "Lao People's Democratic Republic"),
        ("SYR", "Syrian Arab Republic"),
        ("RUS", "Russian Federation"),
        ("VNM", "Viet Nam"),
        ("CZE", "Czechia"),
        ("CPV", "Cabo Verde"),
        ("SWZ", "Eswatini"),
        ("MKD", "North Macedonia"),
        ("TLS", "Timor-Leste"),
        ("BRN", "Brunei Darussalam"),
        ("STP", "Sao Tome and Principe"),
        ("GMB", "Gambia"),
        ("BHS", "Bahamas"),
    ],
)
def test_desk_sees_the_un_short_name(code: str, name: str) -> None:
    mission = find_mission(code)
    assert mission is not None
    assert mission.name == name
    assert mission.names["en"] == name


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("FRA", MissionKind.MEMBER_STATE),
        ("SSD", MissionKind.MEMBER_STATE),
        ("VAT", MissionKind.OBSERVER_STATE),
        ("PSE", MissionKind.OBSERVER_STATE),
        ("EUU", MissionKind.ORGANIZATION),
    ],
)
def test_each_sender_has_the_right_standing(code: str, kind: MissionKind) -> None:
    mission = find_mission(code)
    assert mission is not None
    assert mission.kind is kind


def test_territories_and_non_un_states_are_not_missions() -> None:
    # Åland, Puerto Rico, Taiwan, Kosovo (no ISO code), Greenland.
    for code in ("ALA", "PRI", "TWN", "XKX", "GRL"):
        assert find_mission(code) is None


def test_lookup_ignores_case_and_padding() -> None:
    assert find_mission("gbr") == find_mission("GBR")
    assert find_mission(" Civ ") == find_mission("CIV")
    assert find_mission("") is None
    assert find_mission("XYZ") is None


def test_french_and_chinese_names_for_france_and_china() -> None:
    france, china = find_mission("FRA"), find_mission("CHN")
    assert france is not None
    assert china is not None
    assert (france.names["fr"], france.names["zh"]) == ("France", "法国")
    assert (china.names["fr"], china.names["zh"]) == ("Chine", "中国")


def test_every_mission_is_named_in_the_six_official_languages() -> None:
    for mission in load_registry().values():
        assert tuple(mission.names) == LANGUAGES, mission.code
        assert all(mission.names.values()), mission.code
        # Russian, Chinese and Arabic names are never the English fallback.
        for language in ("ru", "zh", "ar"):
            assert not any("a" <= ch.lower() <= "z" for ch in mission.names[language]), (
                mission.code,
                language,
            )


def test_eu_names_in_all_languages() -> None:
    eu = find_mission("EUU")
    assert eu is not None
    assert eu.names["fr"] == "Union européenne"
    assert eu.names["zh"] == "欧洲联盟"


def test_missions_are_read_only_and_hashable() -> None:
    mission = find_mission("FRA")
    assert isinstance(mission, MissionInfo)
    assert {mission, find_mission("fra")} == {mission}
    with pytest.raises(TypeError):
        mission.names["en"] = "Gaul"  # type: ignore[index]
    with pytest.raises(TypeError):
        load_registry()["XXX"] = mission  # type: ignore[index]


def test_runtime_loader_does_not_need_the_data_packages() -> None:
    code = (
        "import sys, pipeline.missions.registry as r; r.load_registry(); "
        "bad = {'pycountry', 'country_converter', 'pandas'} & set(sys.modules); "
        "sys.exit(sorted(bad) or 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("iso_name", "un_name"),
    [
        ("Congo, The Democratic Republic of the", "Democratic Republic of the Congo"),
        ("Korea, Republic of", "Republic of Korea"),
        ("Korea, Democratic People's Republic of", "Democratic People's Republic of Korea"),
        ("Moldova, Republic of", "Republic of Moldova"),
        ("Tanzania, United Republic of", "United Republic of Tanzania"),
        ("Palestine, State of", "State of Palestine"),
        ("Bolivia, Plurinational State of", "Bolivia (Plurinational State of)"),
        ("Iran, Islamic Republic of", "Iran (Islamic Republic of)"),
        ("Venezuela, Bolivarian Republic of", "Venezuela (Bolivarian Republic of)"),
        ("Micronesia, Federated States of", "Micronesia (Federated States of)"),
        ("Côte d'Ivoire", "Côte d'Ivoire"),
    ],
)
def test_iso_inverted_names_become_un_style(iso_name: str, un_name: str) -> None:
    assert generate.un_short_name(iso_name) == un_name


# Every mission UN English names with "the", and nothing else (UNTERM short names).
WITH_ARTICLE = {
    "ARE": "the United Arab Emirates",
    "BHS": "the Bahamas",
    "CAF": "the Central African Republic",
    "COD": "the Democratic Republic of the Congo",
    "COG": "the Congo",
    "COM": "the Comoros",
    "DOM": "the Dominican Republic",
    "EUU": "the European Union",
    "GBR": "the United Kingdom of Great Britain and Northern Ireland",
    "GMB": "the Gambia",
    "KOR": "the Republic of Korea",
    "LAO": "the Lao People's Democratic Republic",
    "MDA": "the Republic of Moldova",
    "MDV": "the Maldives",
    "MHL": "the Marshall Islands",
    "NER": "the Niger",
    "NLD": "the Netherlands (Kingdom of the)",
    "PHL": "the Philippines",
    "PRK": "the Democratic People's Republic of Korea",
    "PSE": "the State of Palestine",
    "RUS": "the Russian Federation",
    "SDN": "the Sudan",
    "SLB": "the Solomon Islands",
    "SYR": "the Syrian Arab Republic",
    "TZA": "the United Republic of Tanzania",
    "USA": "the United States of America",
    "VAT": "the Holy See",
}


def test_un_english_puts_the_before_exactly_the_names_that_take_it() -> None:
    """The compilation lists "the Holy See" but sorts it under H: the registry knows which
    names take the article, and the name itself never carries it."""
    with_article = {
        mission.code: mission.name_with_article
        for mission in load_registry().values()
        if mission.article
    }
    assert with_article == WITH_ARTICLE
    for mission in load_registry().values():
        assert not mission.name.lower().startswith("the "), mission.code


@pytest.mark.parametrize(
    ("code", "display"),
    [
        ("CIV", "Côte d'Ivoire"),
        ("TUR", "Türkiye"),
        ("IRN", "Iran (Islamic Republic of)"),
        ("BOL", "Bolivia (Plurinational State of)"),
        ("VEN", "Venezuela (Bolivarian Republic of)"),
        ("FSM", "Micronesia (Federated States of)"),
        ("CZE", "Czechia"),
        ("DMA", "Dominica"),
        ("SSD", "South Sudan"),
        ("BRB", "Barbados"),
        ("SYC", "Seychelles"),
        ("VCT", "Saint Vincent and the Grenadines"),
    ],
)
def test_names_without_an_article_are_written_bare(code: str, display: str) -> None:
    mission = find_mission(code)
    assert mission is not None
    assert (mission.article, mission.name_with_article) == (False, display)


@pytest.mark.parametrize(
    ("name", "article"),
    [
        ("Czech Republic", True),  # the pre-2016 short name
        ("Czechia", False),
        ("Dominican Republic", True),
        ("Dominica", False),
        ("Cook Islands", True),
        ("Netherlands (Kingdom of the)", True),
        ("Sudan", True),
        ("South Sudan", False),
        ("Congo", True),
        ("Iran (Islamic Republic of)", False),
        ("Honduras", False),
    ],
)
def test_article_rules(name: str, article: bool) -> None:
    assert generate.takes_article(name) is article


def _registry_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: Mapping[str, object]
) -> None:
    """Make the loader read a one-mission registry from `tmp_path`."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "registry.json").write_text(
        json.dumps({"missions": [entry]}, ensure_ascii=False), encoding="utf-8"
    )
    monkeypatch.setattr(registry_module, "files", lambda _name: package)
    load_registry.cache_clear()


def test_an_older_registry_without_articles_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = {"code": "VAT", "name": "Holy See", "kind": "observer_state", "names": {"en": "x"}}
    _registry_with(tmp_path, monkeypatch, entry)
    try:
        mission = find_mission("VAT")
        assert mission is not None
        assert mission.article is False
    finally:
        load_registry.cache_clear()


def test_an_article_that_is_not_a_boolean_stops_the_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = {
        "code": "VAT",
        "name": "Holy See",
        "article": "yes",
        "kind": "observer_state",
        "names": {"en": "x"},
    }
    _registry_with(tmp_path, monkeypatch, entry)
    try:
        with pytest.raises(ValueError, match=r"VAT\.article must be true or false"):
            load_registry()
    finally:
        load_registry.cache_clear()


@needs_data_packages
def test_committed_registry_is_what_the_generator_produces() -> None:
    committed = files("pipeline.missions").joinpath("registry.json").read_text("utf-8")
    assert committed == generate.render(), (
        "registry.json is stale: run python -m pipeline.missions.generate"
    )
    assert generate.main(["--check"]) == 0


@needs_data_packages
def test_check_flags_a_hand_edited_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = tmp_path / "registry.json"
    edited.write_text(
        generate.render().replace("Côte d'Ivoire", "Ivory Coast", 1), encoding="utf-8"
    )
    monkeypatch.setattr(generate, "REGISTRY_PATH", edited)
    assert generate.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "out of date" in err


@needs_data_packages
def test_an_article_table_entry_that_names_no_mission_stops_the_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(generate, "ARTICLE_NAMES", generate.ARTICLE_NAMES | {"Zaire"})
    with pytest.raises(generate.GenerationError, match="Zaire"):
        generate.build()


@needs_data_packages
def test_generator_does_not_import_country_converter() -> None:
    code = (
        "import sys; from pipeline.missions import generate; generate.render(); "
        "bad = {'country_converter', 'pandas'} & set(sys.modules); "
        "sys.exit(sorted(bad) or 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
