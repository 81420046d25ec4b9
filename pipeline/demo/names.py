"""Names derived from a mission's name: its ASCII file-name fragment and its signatory.

Why this module exists: file names and the signer of a cover letter must be predictable
per mission (tests compare them), yet differ between missions like real ones do.
"""

from __future__ import annotations

import random
import re
import unicodedata

from pipeline.demo.determinism import seed
from pipeline.demo.texts import signer_names

__all__ = ["default_signer", "filename_slug"]


def filename_slug(mission_name: str) -> str:
    """ASCII file-name fragment for a mission ("Côte d'Ivoire" -> "Cote_d_Ivoire").

    Default attachment names stay ASCII so that tests can predict them; callers who want
    the non-ASCII names that delegations do send pass an explicit file name.
    """
    folded = unicodedata.normalize("NFKD", mission_name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "_", folded).strip("_") or "Mission"


def default_signer(mission_name: str) -> str:
    """A fictional, stable signatory per mission (some names are deliberately non-Latin-1)."""
    return random.Random(seed("signer", mission_name)).choice(signer_names())
