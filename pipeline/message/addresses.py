"""The addresses a mail names, and refusing those no mail can go to.

An address with a space, a control character (ESC) or a format character (a direction
override) is allowed by no RFC, even quoted: it is never written to, nor printed, nor
matched against a mission's senders. `refused_address` shows the desk what it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from email.utils import getaddresses, parseaddr

from pipeline.printable import visible


def clean_address(value: str | None) -> str | None:
    """The address, lower-cased; None when there is none, or when it has a character no
    address may have (a space, a control character such as ESC, a direction override:
    RFC 5321 allows none of them, even quoted). Such an address is never written to, nor
    printed, nor matched against a mission's senders (see `refused_address`)."""
    if not value:
        return None
    _, address = parseaddr(value)
    address = address.strip().lower()
    if "@" not in address or not _printable_address(address):
        return None
    return address


def _printable_address(address: str) -> bool:
    return all(ch.isprintable() and not ch.isspace() for ch in address)


def refused_address(value: str | None) -> str | None:
    """What the header named, made visible, when `clean_address` refused it for its
    characters (not for being absent or without a domain); else None."""
    if not value:
        return None
    _, address = parseaddr(value)
    address = address.strip()
    if "@" not in address or _printable_address(address.lower()):
        return None
    return visible(address)


def clean_addresses(values: Iterable[str]) -> tuple[str, ...]:
    """The addresses of address headers' values, cleaned as `clean_address`, each once,
    in order; the refused ones left out."""
    found: list[str] = []
    for _, address in getaddresses([v for v in values if v]):
        cleaned = clean_address(address)
        if cleaned and cleaned not in found:
            found.append(cleaned)
    return tuple(found)
