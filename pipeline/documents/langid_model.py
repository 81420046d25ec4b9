"""langid's model for the six official languages, decoded ahead of time.

langid ships its model as a base64, bz2-compressed pickle of Python lists; decoding it
takes 1.5 to 4.5 s of CPU on every start of a process, a third of a 2,000-message run.
This module keeps the same numbers, restricted to the six official languages, as numpy
arrays in `langid_six.npz` beside it (0.75 MB, loaded in about 30 ms). Regenerate after
upgrading langid:

    .venv/bin/python -m pipeline.documents.langid_model

`tests/test_document_stories.py` checks that the shipped file matches the installed
langid, so a stale file cannot go unnoticed.
"""

from __future__ import annotations

import array
from pathlib import Path
from typing import Any

import numpy as np

MODEL_PATH = Path(__file__).with_name("langid_six.npz")


def decode_langid(languages: tuple[str, ...]) -> Any:
    """langid's own identifier, decoded the slow way and restricted to `languages`."""
    from langid.langid import LanguageIdentifier, model

    identifier = LanguageIdentifier.from_modelstring(model, norm_probs=True)
    identifier.set_languages(list(languages))
    return identifier


def arrays_of(identifier: Any) -> dict[str, np.ndarray]:
    """The identifier's tables as plain arrays (tk_output as offsets + indices)."""
    states = sorted(identifier.tk_output)
    outputs = [identifier.tk_output[state] for state in states]
    offsets = np.cumsum([0, *(len(indices) for indices in outputs)], dtype=np.int64)
    flat = [index for indices in outputs for index in indices]
    return {
        "nb_ptc": np.asarray(identifier.nb_ptc),
        "nb_pc": np.asarray(identifier.nb_pc),
        "nb_classes": np.array(identifier.nb_classes),
        "tk_nextmove": np.frombuffer(identifier.tk_nextmove, dtype=np.uint16),
        "tk_states": np.array(states, dtype=np.int64),
        "tk_offsets": offsets,
        "tk_indices": np.array(flat, dtype=np.int64),
    }


def save(identifier: Any, path: Path = MODEL_PATH) -> None:
    np.savez_compressed(path, **arrays_of(identifier))  # type: ignore[arg-type]


def load(path: Path = MODEL_PATH) -> Any:
    """An identifier equal to langid's own restricted one, from the arrays in `path`."""
    from langid.langid import LanguageIdentifier

    with np.load(path) as data:
        nb_ptc = data["nb_ptc"]
        nb_pc = data["nb_pc"]
        classes = [str(c) for c in data["nb_classes"]]
        nextmove = array.array("H", data["tk_nextmove"].astype(np.uint16).tobytes())
        states = data["tk_states"].tolist()
        offsets = data["tk_offsets"].tolist()
        indices = data["tk_indices"].tolist()
    output = {state: tuple(indices[offsets[n] : offsets[n + 1]]) for n, state in enumerate(states)}
    return LanguageIdentifier(
        nb_ptc, nb_pc, nb_ptc.shape[0], classes, nextmove, output, norm_probs=True
    )


# The six official languages, in `language.OFFICIAL_LANGUAGES`'s order (that module
# imports this one, not the other way round; tests/test_docx_reader.py checks that the
# shipped model is the one decoded for its list).
MODEL_LANGUAGES: tuple[str, ...] = ("ar", "zh", "en", "fr", "ru", "es")


def main() -> None:
    save(decode_langid(MODEL_LANGUAGES))
    print(f"wrote {MODEL_PATH}")


if __name__ == "__main__":
    main()
