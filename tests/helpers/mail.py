"""Raw mail's header lines, byte for byte: what our receiving server prepends, a header
rewritten as no well-behaved generator would, and a reply's header as it was sent."""

from __future__ import annotations

from pipeline.devservers.smtp import CapturedMessage

# Our receiving server: the authserv-id it writes in Authentication-Results.
MX = "mx.intake.example"


def with_results(raw: bytes, *values: str) -> bytes:
    """Prepend Authentication-Results headers, as a receiving server does (a value that
    is a whole Received header goes in as it is)."""
    headers = b"".join(
        (value if value.startswith("Received: ") else f"Authentication-Results: {value}").encode()
        + b"\r\n"
        for value in values
    )
    return headers + raw


def replace_header(raw: bytes, name: str, value: bytes) -> bytes:
    """Rewrite the first `name:` header of the top-level header block, byte for byte, so a
    test can write what no well-behaved generator would (encoded line breaks)."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    lines: list[bytes] = []
    replacing = done = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and replacing:
            continue
        replacing = not done and line.lower().startswith(name.lower().encode() + b":")
        if replacing:
            lines.append(name.encode() + b": " + value)
            done = True
            continue
        lines.append(line)
    assert done, f"no {name} header"
    return b"\r\n".join(lines) + separator + body


def header_block(reply: CapturedMessage) -> list[bytes]:
    """The reply's header lines exactly as they reached the SMTP server."""
    head = reply.raw.partition(b"\r\n\r\n")[0]
    return head.split(b"\r\n")


def raw_header(reply: CapturedMessage, name: str) -> bytes:
    """One header as sent: its first line and its continuation lines, CRLF kept."""
    lines = header_block(reply)
    prefix = name.lower().encode() + b":"
    start = next(i for i, line in enumerate(lines) if line.lower().startswith(prefix))
    end = start + 1
    while end < len(lines) and lines[end][:1] in (b" ", b"\t"):
        end += 1
    return b"\r\n".join(lines[start:end])
