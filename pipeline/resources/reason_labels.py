"""Reason codes in plain words (`reason_labels.toml`), for everything a person reads:
the dashboard, the CLI's tables and the digest. The codes stay what scripts and `--json`
see; this is the one mapping from a code to its words."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from functools import cache

from pipeline.resources import packaged

LABELS_FILE = "reason_labels.toml"


@cache
def reason_labels() -> Mapping[str, str]:
    """Every code's label, as shipped."""
    with packaged(LABELS_FILE).open("rb") as handle:
        data = tomllib.load(handle)
    labels = data.get("labels", {})
    return {str(code): str(text) for code, text in labels.items()}


def reason_label(code: str) -> str:
    """The code's label; a code without one (from a newer version's database, say) is
    shown in words made from the code itself, never hidden."""
    return reason_labels().get(code) or code.replace("_", " ").capitalize()


def reason_text(codes: Iterable[str]) -> list[str]:
    """The labels of several codes, in their order."""
    return [reason_label(code) for code in codes]
