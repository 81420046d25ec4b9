"""Names and adjectives the registry does not carry, by mission code.

The registry holds one name per language, often the ISO form ("Turquie", "Corée,
République de"); statements and letters use the usual ones ("Turkey", "the United
Kingdom", "the French delegation"). This table adds the common ones, as documents write
them; the derived forms ("Bolivia" from "Bolivia (Plurinational State of)") are made by
`pipeline.documents.mission_mentions`, not listed here.

Adjectives are listed in English, French and Spanish only, and only where they name one
mission alone: "Dominican" (Dominica or the Dominican Republic), "Congolese" (either
Congo), "Guinean", "Korean", "American" are left out on purpose. Russian, Chinese and
Arabic documents are matched on names only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["ADJECTIVES", "OTHER_NAMES"]

OTHER_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "TUR": ("Turkey", "Republic of Türkiye", "Republic of Turkey", "Türkei"),
        "GBR": ("United Kingdom", "UK", "Great Britain", "Royaume-Uni de Grande-Bretagne"),
        "USA": ("United States", "USA", "Estados Unidos de América", "Соединенные Штаты"),
        "NLD": ("Kingdom of the Netherlands", "Netherlands", "Royaume des Pays-Bas"),
        "RUS": ("Russia", "Russie", "Rusia", "Fédération de Russie", "Россия"),
        "IRN": ("Iran", "Irán"),
        "SYR": ("Syria", "Syrie", "Siria", "Syrian Arab Republic", "República Árabe Siria"),
        "VEN": ("Venezuela",),
        "BOL": ("Bolivia", "Bolivie"),
        "TZA": ("Tanzania", "Tanzanie", "United Republic of Tanzania"),
        "VNM": ("Viet Nam", "Vietnam", "Viêt Nam"),
        "KOR": ("Republic of Korea", "South Korea", "République de Corée", "República de Corea"),
        "PRK": ("North Korea",),
        "LAO": ("Laos", "Lao People's Democratic Republic"),
        "MDA": ("Moldova", "Republic of Moldova", "République de Moldova"),
        "CZE": ("Czech Republic", "Czechia", "Tchéquie", "Chequia"),
        "CIV": ("Ivory Coast", "Costa de Marfil"),
        "VAT": (
            "Holy See",
            "Saint-Siège",
            "Santa Sede",
            "Святой Престол",
            "教廷",
            "الكرسي الرسولي",
        ),
        "PSE": ("Palestine", "Palestina", "State of Palestine", "État de Palestine"),
        "EUU": ("EU", "European Union", "Union européenne", "Unión Europea", "欧盟"),
        "CHN": ("People's Republic of China", "République populaire de Chine"),
        "DEU": ("Federal Republic of Germany", "République fédérale d'Allemagne", "Deutschland"),
        "FRA": ("French Republic", "République française"),
        "MEX": ("Mexique", "Estados Unidos Mexicanos"),
        "GNQ": ("Guinée équatoriale",),
    }
)

ADJECTIVES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "FRA": ("French", "français", "française", "francés", "francesa"),
        "DEU": ("German", "allemand", "allemande", "alemán", "alemana"),
        "MEX": ("Mexican", "mexicain", "mexicaine", "mexicano", "mexicana"),
        "CHN": ("Chinese", "chinois", "chinoise", "chino", "china"),
        "RUS": ("Russian", "russe", "ruso", "rusa"),
        "GBR": ("British", "britannique", "británico", "británica"),
        "ESP": ("Spanish", "espagnol", "espagnole", "español", "española"),
        "ITA": ("Italian", "italien", "italienne", "italiano", "italiana"),
        "JPN": ("Japanese", "japonais", "japonaise", "japonés", "japonesa"),
        "BRA": ("Brazilian", "brésilien", "brésilienne", "brasileño", "brasileña"),
        "GHA": ("Ghanaian", "ghanéen", "ghanéenne", "ghanés", "ghanesa"),
        "NGA": ("Nigerian", "nigérian", "nigériane", "nigeriano", "nigeriana"),
        "NER": ("Nigerien", "nigérien", "nigérienne", "nigerino", "nigerina"),
        "CIV": ("Ivorian", "ivoirien", "ivoirienne", "marfileño", "marfileña"),
        "CAN": ("Canadian", "canadien", "canadienne", "canadiense"),
        "IND": ("Indian", "indien", "indienne"),
        "EGY": ("Egyptian", "égyptien", "égyptienne", "egipcio", "egipcia"),
        "TUR": ("Turkish", "turc", "turque", "turco", "turca"),
        "NLD": ("Dutch", "néerlandais", "néerlandaise", "neerlandés", "neerlandesa"),
        "BEL": ("Belgian", "belge", "belga"),
        "ARG": ("Argentine", "Argentinian", "argentin", "argentine", "argentino", "argentina"),
        "CHL": ("Chilean", "chilien", "chilienne", "chileno", "chilena"),
        "COL": ("Colombian", "colombien", "colombienne", "colombiano", "colombiana"),
        "PER": ("Peruvian", "péruvien", "péruvienne", "peruano", "peruana"),
        "SEN": ("Senegalese", "sénégalais", "sénégalaise", "senegalés", "senegalesa"),
        "MAR": ("Moroccan", "marocain", "marocaine", "marroquí"),
        "SDN": ("Sudanese", "soudanais", "soudanaise", "sudanés", "sudanesa"),
        "SSD": ("South Sudanese", "sud-soudanais", "sud-soudanaise", "sursudanés", "sursudanesa"),
        "POL": ("Polish", "polonais", "polonaise", "polaco", "polaca"),
        "SWE": ("Swedish", "suédois", "suédoise", "sueco", "sueca"),
        "NOR": ("Norwegian", "norvégien", "norvégienne", "noruego", "noruega"),
        "IRL": ("Irish", "irlandais", "irlandaise", "irlandés", "irlandesa"),
        "PRT": ("Portuguese", "portugais", "portugaise", "portugués", "portuguesa"),
        "KEN": ("Kenyan", "kényan", "kényane", "keniano", "keniana"),
        "ZAF": ("South African", "sud-africain", "sud-africaine", "sudafricano", "sudafricana"),
        "AUS": ("Australian", "australien", "australienne", "australiano", "australiana"),
        "PAK": ("Pakistani", "pakistanais", "pakistanaise", "pakistaní"),
        "BGD": ("Bangladeshi", "bangladais", "bangladaise", "bangladesí"),
        "IDN": ("Indonesian", "indonésien", "indonésienne", "indonesio", "indonesia"),
        "UKR": ("Ukrainian", "ukrainien", "ukrainienne", "ucraniano", "ucraniana"),
        "VNM": ("Vietnamese", "vietnamien", "vietnamienne", "vietnamita"),
        "EST": ("Estonian", "estonien", "estonienne", "estonio", "estonia"),
    }
)
