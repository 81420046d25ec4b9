"""The Security Council meetings that sample submissions refer to (PKO-SAFETY by default).

The debate used by default is the open debate of 24 May 2021, "United Nations
peacekeeping operations: improving the safety and security of peacekeepers" (meeting code
``PKO-SAFETY``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["MEETINGS", "PKO_SAFETY", "Meeting"]


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
