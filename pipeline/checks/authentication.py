"""Is mail that claims a registered mission really from that mission?

A `From:` header is written by whoever sends the mail, so a registered address proves
nothing on its own. What does prove something is what our own receiving mail server
found when the message arrived: SPF (the sending host may send for the envelope
domain), DKIM (a domain signed the message) and DMARC (one of them passed for the From
domain). The server records its verdicts in `Authentication-Results` headers (RFC 8601)
and names itself in each one with its *authserv-id*.

Only headers carrying our configured authserv-id count. Any sender can add an
`Authentication-Results` header claiming `dmarc=pass`; such a header names some other
server (or, if it names ours, the receiving server must have removed it on arrival, see
docs/sender-authentication.md), so everything but our own is ignored.

A message passes when our server found

- `dmarc=pass` (for the From domain, when the header says which), or
- `dkim=pass` with a signing domain (`header.d`, else the domain of `header.i`) aligned
  with the From domain, or
- `spf=pass` with an aligned envelope domain (`smtp.mailfrom`).

Aligned means relaxed alignment without a public-suffix list: the From domain equals the
other domain or is a subdomain of it. A DMARC verifier does the full organisational-domain
comparison itself, which is why `dmarc=pass` alone is enough.

What a failure leads to is configuration, per mission or globally (`AuthPolicy`):
`require` gives `forged_sender` (rejected by default), `hold` gives
`unauthenticated_sender` (held for the desk), `off` checks nothing. Two codes rather
than one code whose action depends on the mission keep the decision table the single
place that maps reasons to actions. Neither ever gets an automatic reply (see
`NO_REPLY_REASONS`): the From address may be forged, and its real owner must not receive
answers to mail they did not send (backscatter).

Mail from addresses that belong to no registered mission is not this check's business:
`known_sender` rejects it as `unknown_sender`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from pipeline.checks.base import Verdict
from pipeline.checks.facts import Facts
from pipeline.message.parsed import ParsedMessage
from pipeline.settings.directory import AuthPolicy
from pipeline.settings.models import Settings

HEADER = "authentication-results"

FORGED_SENDER = "forged_sender"
UNAUTHENTICATED_SENDER = "unauthenticated_sender"

# Reasons that forbid every automatic reply: the From address could not be authenticated,
# so a reply might go to someone who never wrote to us. The desk sees these messages and
# answers, if at all, after checking with the mission.
NO_REPLY_REASONS: frozenset[str] = frozenset({FORGED_SENDER, UNAUTHENTICATED_SENDER})

_EMPTY_POLICIES: Mapping[str, AuthPolicy] = MappingProxyType({})


# --------------------------------------------------------------------------------------
# Reading Authentication-Results (RFC 8601)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodResult:
    """One `method=result` of an Authentication-Results header, with its properties."""

    method: str  # "dkim", "spf", "dmarc", ... (lower case, without a "/version")
    result: str  # "pass", "fail", "none", ... (lower case)
    properties: Mapping[str, str] = field(default_factory=dict)  # "header.d" -> "un.int"

    def describe(self) -> str:
        shown = [f"{key}={value}" for key, value in self.properties.items() if key != "header.b"]
        return " ".join([f"{self.method}={self.result}", *shown])


@dataclass(frozen=True)
class AuthenticationResults:
    authserv_id: str
    results: tuple[MethodResult, ...]


def _strip_comments(value: str) -> str:
    """CFWS comments "(...)" may nest and appear anywhere outside quoted strings."""
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\" and (quoted or depth > 0):
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if depth > 0:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    out.append(" ")
            continue
        if char == '"':
            quoted = not quoted
        elif char == "(" and not quoted:
            depth += 1
            continue
        out.append(char)
    return "".join(out)


def _split_outside_quotes(value: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _tokens(value: str) -> list[str]:
    """Words, quoted strings (unquoted) and "=" signs, in order."""
    tokens: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False

    def flush() -> None:
        if current:
            tokens.append("".join(current))
            current.clear()

    for char in value:
        if quoted:
            if escaped:
                current.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
                tokens.append("".join(current))
                current.clear()
            else:
                current.append(char)
        elif char == '"':
            flush()
            quoted = True
        elif char == "=":
            flush()
            tokens.append("=")
        elif char.isspace():
            flush()
        else:
            current.append(char)
    flush()
    return tokens


def _pairs(tokens: list[str]) -> list[tuple[str, str]]:
    """`key = value` pairs; anything that is not one (a stray word) is skipped."""
    pairs: list[tuple[str, str]] = []
    index = 0
    while index < len(tokens):
        if (
            index + 2 < len(tokens)
            and tokens[index + 1] == "="
            and tokens[index] != "="
            and tokens[index + 2] != "="
        ):
            pairs.append((tokens[index], tokens[index + 2]))
            index += 3
        else:
            index += 1
    return pairs


def parse_authentication_results(value: str) -> AuthenticationResults | None:
    """One header's value, or None when it does not even name an authserv-id.

    Lenient on purpose: a result we cannot read is simply not a pass, which is the safe
    direction. Property names and results are lower-cased; values keep their case except
    domains, which are compared lower-cased by the caller.
    """
    sections = _split_outside_quotes(_strip_comments(value), ";")
    head = _tokens(sections[0])
    if not head or head[0] == "=" or (len(head) > 1 and head[1] == "="):
        # No authserv-id ("spf=pass ..." as Microsoft 365 writes it): nobody to trust.
        return None
    authserv_id = head[0].strip()
    results: list[MethodResult] = []
    for section in sections[1:]:
        pairs = _pairs(_tokens(section))
        if not pairs:
            continue  # "none", or nothing we can read
        (method, result), rest = pairs[0], pairs[1:]
        # "ptype.property=value"; "reason=..." has no dot and is left out.
        properties = {key.lower(): item for key, item in rest if "." in key}
        results.append(
            MethodResult(
                method=method.split("/", 1)[0].strip().lower(),
                result=result.strip().lower(),
                properties=properties,
            )
        )
    return AuthenticationResults(authserv_id=authserv_id, results=tuple(results))


# --------------------------------------------------------------------------------------
# Judging them
# --------------------------------------------------------------------------------------


def _domain_of(value: str | None) -> str | None:
    """`user@Example.ORG`, `@example.org` or `example.org.` -> `example.org`."""
    if not value:
        return None
    text = value.strip().strip("<>")
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    text = text.strip().strip(".").lower()
    if not text or any(ch.isspace() for ch in text) or "." not in text:
        return None
    return text


def aligned(from_domain: str, other: str | None) -> bool:
    """Relaxed alignment as the brief defines it: the same domain, or From is beneath it.

    `other` must have at least two labels, so a result for a bare top-level domain never
    aligns with everything under it.
    """
    domain = _domain_of(other)
    if domain is None:
        return False
    return from_domain == domain or from_domain.endswith("." + domain)


@dataclass(frozen=True)
class Assessment:
    """What our receiving server said about one message, and whether it is a pass."""

    passed: bool
    via: str | None = None  # "dmarc", "dkim" or "spf"
    from_domain: str | None = None
    found: tuple[str, ...] = ()  # the trusted results, as written, for the desk
    ignored_headers: int = 0  # Authentication-Results from other authserv-ids
    problem: str | None = None  # why there could be no pass at all

    def summary(self) -> str:
        if self.problem:
            return self.problem
        if not self.found:
            return "no results from our receiving server"
        return "; ".join(self.found)


def _in_order(message: ParsedMessage) -> list[tuple[str, str]]:
    """Authentication-Results and Received headers, top first, as (name, value)."""
    values = {name: iter(message.header(name)) for name in (HEADER.lower(), "received")}
    if not message.header_order:
        return [(HEADER.lower(), value) for value in message.header(HEADER)]
    ordered = []
    for name in message.header_order:
        source = values.get(name)
        value = next(source, None) if source is not None else None
        if value is not None:
            ordered.append((name, value))
    return ordered


def _trusted_results(
    message: ParsedMessage, authserv_id: str
) -> tuple[list[MethodResult], list[str], int]:
    """Our server's results: the headers with our authserv-id in the block it prepended.

    A receiving server writes its verdicts above the message as it arrived, whose top is
    the server's own Received header. A header with our id further down (below a Received
    header that follows our block) came with the message: a forgery, never trusted, even
    if the server failed to strip it as RFC 8601 asks.
    """
    wanted = authserv_id.strip().lower()
    results: list[MethodResult] = []
    described: list[str] = []
    ignored = 0
    inside, below = False, False
    for name, value in _in_order(message):
        if name == "received":
            below = below or inside
            continue
        parsed = parse_authentication_results(value)
        if parsed is None or parsed.authserv_id.lower() != wanted or below:
            ignored += 1
            continue
        inside = True
        results.extend(parsed.results)
        described.extend(r.describe() for r in parsed.results)
    return results, described, ignored


def _passes(result: MethodResult, from_domain: str) -> bool:
    if result.result != "pass":
        return False
    props = result.properties
    if result.method == "dmarc":
        stated = props.get("header.from")
        return stated is None or _domain_of(stated) == from_domain
    if result.method == "dkim":
        return aligned(from_domain, props.get("header.d") or props.get("header.i"))
    if result.method == "spf":
        return aligned(from_domain, props.get("smtp.mailfrom"))
    return False


def assess(message: ParsedMessage, authserv_id: str | None) -> Assessment:
    """Did our own receiving server authenticate the From domain of this message?"""
    headers = message.header(HEADER)
    if not authserv_id:
        return Assessment(
            passed=False,
            ignored_headers=len(headers),
            problem="no [authentication] authserv_id is configured: no header can be trusted",
        )
    if len(message.header("from")) != 1:
        # The verifier may have judged one From and we read another.
        return Assessment(passed=False, problem="the message does not have exactly one From")
    from_domain = _domain_of(message.sender)
    if from_domain is None:
        return Assessment(passed=False, problem="the From address has no usable domain")
    results, described, ignored = _trusted_results(message, authserv_id)
    found = tuple(described)
    for method in ("dmarc", "dkim", "spf"):
        if any(r.method == method and _passes(r, from_domain) for r in results):
            return Assessment(True, method, from_domain, found, ignored)
    return Assessment(False, None, from_domain, found, ignored)


# --------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------


class SenderAuthentication:
    """Registered missions' mail must be authenticated by our receiving server.

    Configured by its constructor (the checks read facts, never settings); the instance
    in the registry is unconfigured and checks nothing, `from_settings` builds the one a
    run uses.
    """

    name: ClassVar[str] = "sender_authentication"
    description: ClassVar[str] = (
        "mail from a registered mission passed DMARC, aligned DKIM or aligned SPF at our "
        "own receiving server"
    )
    reasons: ClassVar[tuple[str, ...]] = (FORGED_SENDER, UNAUTHENTICATED_SENDER)

    def __init__(
        self,
        *,
        authserv_id: str | None = None,
        policy: AuthPolicy = AuthPolicy.OFF,
        mission_policies: Mapping[str, AuthPolicy] = _EMPTY_POLICIES,
    ) -> None:
        self.authserv_id = authserv_id.strip() if authserv_id else None
        self.policy = policy
        self.mission_policies: Mapping[str, AuthPolicy] = MappingProxyType(
            {code.upper(): value for code, value in mission_policies.items()}
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> SenderAuthentication:
        return cls(
            authserv_id=settings.authentication.authserv_id,
            policy=settings.authentication.policy,
            mission_policies={
                code: mission.authentication
                for code, mission in settings.missions.items()
                if mission.authentication is not None
            },
        )

    def policy_for(self, mission_code: str) -> AuthPolicy:
        return self.mission_policies.get(mission_code.upper(), self.policy)

    def check(self, facts: Facts) -> Verdict:
        mission = facts.mission
        if mission is None:
            return Verdict.ok()  # unknown_sender's business
        policy = self.policy_for(mission.code)
        if policy is AuthPolicy.OFF:
            return Verdict.ok()
        assessment = assess(facts.message, self.authserv_id)
        if assessment.passed:
            return Verdict.ok()
        return Verdict.fail(
            FORGED_SENDER if policy is AuthPolicy.REQUIRE else UNAUTHENTICATED_SENDER,
            sender=facts.message.sender or "(none)",
            domain=assessment.from_domain or "(none)",
            mission=mission.code,
            policy=policy.value,
            authserv_id=self.authserv_id or "(not configured)",
            results=assessment.summary(),
            ignored_headers=assessment.ignored_headers,
        )
