"""Where the shared test corpus is (real-world mail and Word files nobody here wrote).

The corpus lives outside the project and is never copied into it: INTAKE_TEST_CORPUS,
else ../shared/corpus beside the checkout, else the workplace's /work/shared/corpus.
Tests that need it skip with a clear message when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _find_corpus() -> Path:
    candidates = [
        os.environ.get("INTAKE_TEST_CORPUS", ""),
        str(Path(__file__).resolve().parents[3] / "shared" / "corpus"),
        "/work/shared/corpus",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return Path(candidates[1])


CORPUS = _find_corpus()
MAIL = CORPUS / "mail"
WORD = CORPUS / "word" / "poi"

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(),
    reason=f"the shared test corpus is absent (looked for {CORPUS}; set INTAKE_TEST_CORPUS)",
)
