"""How fast Intake drains a backlog, and how much memory it needs, beside two baselines.

    .venv/bin/python -m benchmarks.bench_pipeline                 # 2,000 messages
    .venv/bin/python -m benchmarks.bench_pipeline --large         # 2,000 and 20,000
    .venv/bin/python -m benchmarks.bench_pipeline --messages 500 --database postgresql

Seeds a throwaway Dovecot (MULTIAPPEND, 100 messages per command) with N realistic
submissions: a Word statement (about 38 KB, python-docx's own template; English, French, Spanish)
and a small PDF cover letter each, every file unique, in a mix of 60 % accepted, 25 %
rejected (unknown sender, no cover letter, late, a PDF statement) and 15 % ignored
(out-of-office replies and bounces). Then measures, each in its own process, on the same
mailbox:

(a) fetch: a bare imapclient fetch of every message (`BODY.PEEK[]`, INTERNALDATE,
    RFC822.SIZE) in batches of `--batch-size`;
(b) parse: the same plus mail-parser, with the attachments decoded;
(c) intake: the real `intake run-once` on a fresh database: fetch, parse, check, file,
    move, and send every reply to a local SMTP server (aiosmtpd), which receives them.

It prints messages per second, peak RSS (the process's own, from wait4) and c/b, and
writes them to benchmarks/results/pipeline-<N>.json. Targets on a 2-core machine: (c) at
least 150 msg/s and 0.45 x (b); peak RSS at most 150 MB, within 10 % between 2,000 and
20,000 messages. Always exits 0 unless the run itself failed: this is a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

Language = Literal["en", "fr", "es"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NEW_YORK = ZoneInfo("America/New_York")
SUBMISSIONS = "submissions@intake.example"
TARGET_RATE = 150.0
TARGET_RATIO = 0.45
TARGET_RSS_MB = 150.0
LANGUAGES: tuple[Language, ...] = ("en", "fr", "es")
# Thirty registered missions send statements; every one has its own address.
MISSIONS = (
    ("FRA", "France"), ("GHA", "Ghana"), ("JPN", "Japan"), ("BRA", "Brazil"),
    ("CIV", "Côte d'Ivoire"), ("VAT", "Holy See"), ("DEU", "Germany"), ("IND", "India"),
    ("MEX", "Mexico"), ("KEN", "Kenya"), ("NOR", "Norway"), ("EGY", "Egypt"),
    ("CHN", "China"), ("RUS", "Russian Federation"), ("ESP", "Spain"), ("ARG", "Argentina"),
    ("IDN", "Indonesia"), ("NGA", "Nigeria"), ("CAN", "Canada"), ("PAK", "Pakistan"),
    ("ITA", "Italy"), ("TUN", "Tunisia"), ("VNM", "Viet Nam"), ("IRL", "Ireland"),
    ("EST", "Estonia"), ("NER", "Niger"), ("KAZ", "Kazakhstan"), ("URY", "Uruguay"),
    ("SEN", "Senegal"), ("NZL", "New Zealand"),
)  # fmt: skip
# Twenty messages: twelve accepted, five rejected, three ignored.
CYCLE = (
    *(["accepted"] * 12),
    "unknown_sender", "no_cover_letter", "late", "pdf_statement", "unknown_sender",
    "auto_reply", "auto_reply", "bounce",
)  # fmt: skip
ON_TIME = datetime(2021, 5, 20, 6, 0, tzinfo=NEW_YORK)
AUTHSERV_ID = "mx.intake.example"
LATE = datetime(2021, 5, 25, 9, 0, tzinfo=NEW_YORK)


# -- the messages -------------------------------------------------------------------------


def _unique_zip(docx: bytes, tag: str) -> bytes:
    """The same document with a zip comment naming it: other bytes, same content."""
    comment = tag.encode()
    assert docx[-2:] == b"\x00\x00", "expected a zip without a comment"
    return docx[:-2] + struct.pack("<H", len(comment)) + comment


def _unique_pdf(pdf: bytes, number: int) -> bytes:
    """The same letter with another file identifier (same length: offsets stay valid)."""
    start = pdf.index(b"/ID [<") + 6
    return pdf[:start] + f"{number:032x}".encode() + pdf[start + 32 :]


@dataclass
class Pool:
    statements: dict[tuple[str, str], bytes]  # (mission code, language) -> .docx
    letters: dict[str, bytes]  # mission code -> PDF
    pdf_statement: bytes


def build_pool() -> Pool:
    from pipeline.demo import samples

    statements: dict[tuple[str, str], bytes] = {}
    letters: dict[str, bytes] = {}
    for index, (code, name) in enumerate(MISSIONS):
        language = LANGUAGES[index % len(LANGUAGES)]
        statement, letter = samples.submission_attachments(
            mission_name=name, language=language, words=420, with_table=index % 3 == 0
        )
        statements[(code, language)] = statement.content
        letters[code] = letter.content
    pdf = samples.submission_attachments(mission_name="France", statement_as_pdf=True)[0]
    return Pool(statements, letters, pdf.content)


def messages(count: int, pool: Pool) -> Iterator[tuple[bytes, datetime]]:
    """`count` unique messages in the benchmark's mix, with their time of receipt."""
    from pipeline.demo.automatic import auto_reply_email, bounce_email
    from pipeline.demo.mail import Attachment, build_email

    docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    statements = list(pool.statements.items())
    for number in range(count):
        kind = CYCLE[number % len(CYCLE)]
        (code, _language), statement = statements[number % len(statements)]
        name = dict(MISSIONS)[code]
        sender = f"{code.lower()}@un.int"
        message_id = f"<bench-{number:06d}@un.int>"
        at = (LATE if kind == "late" else ON_TIME) + timedelta(seconds=number)
        attachments = [
            Attachment(
                f"Statement_{code}.docx", _unique_zip(statement, f"bench {number}"), docx_type
            ),
            Attachment(
                f"Cover_letter_{code}.pdf",
                _unique_pdf(pool.letters[code], number),
                "application/pdf",
            ),
        ]
        if kind == "no_cover_letter":
            attachments = attachments[:1]
        elif kind == "pdf_statement":
            attachments[0] = Attachment(
                f"Statement_{code}.pdf", _unique_pdf(pool.pdf_statement, number), "application/pdf"
            )
        elif kind == "unknown_sender":
            sender = f"attache.{number}@gmail.com"
        if kind == "auto_reply":
            raw = auto_reply_email(
                sender=sender,
                to=SUBMISSIONS,
                original_subject="PKO-SAFETY",
                message_id=message_id,
            )
        elif kind == "bounce":
            original = build_email(sender=SUBMISSIONS, to=sender, subject="Re: PKO-SAFETY")
            raw = bounce_email(original=original, message_id=message_id)
        else:
            raw = build_email(
                sender=sender,
                to=SUBMISSIONS,
                subject=f"PKO-SAFETY: written statement of {name}",
                body=f"Please find attached the statement of {name} and our cover letter.\n",
                attachments=attachments,
                message_id=message_id,
            )
        if kind == "unknown_sender":
            # Our receiving server vouches for the domain, so the address is answered.
            vouched = f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=gmail.com"
            raw = vouched.encode() + b"\r\n" + raw
        yield raw, at


# -- the world -------------------------------------------------------------------------------


def seed(dovecot: object, user: str, password: str, count: int, pool: Pool) -> float:
    """MULTIAPPEND `count` messages, 100 per command; returns the seconds it took."""
    from pipeline.devservers.dovecot import ThrowawayDovecot

    assert isinstance(dovecot, ThrowawayDovecot)
    started = time.perf_counter()
    with dovecot.imap_client(user, password, timeout=120) as client:
        chunk: list[dict[str, object]] = []
        for raw, at in messages(count, pool):
            chunk.append({"msg": raw, "date": at})
            if len(chunk) == 100:
                client.multiappend("INBOX", chunk)
                chunk = []
        if chunk:
            client.multiappend("INBOX", chunk)
    return time.perf_counter() - started


def write_config(
    directory: Path, *, imap_port: int, smtp_port: int, user: str, password: str,
    database_url: str, batch_size: int,
) -> Path:  # fmt: skip
    from pipeline.settings.toml_writer import to_toml

    data = {
        "paths": {"data_dir": str(directory / "data")},
        "database": {"url": database_url},
        "mailbox": {
            "host": "127.0.0.1",
            "port": imap_port,
            "security": "none",
            "username": user,
            "password": password,
            "timeout": 120,
            "batch_size": batch_size,
        },
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "sender": SUBMISSIONS,
        },
        # Every reply is sent (no rejection is suppressed as a repeat or by the hourly
        # cap; unregistered addresses are vouched for by our server): the worst case.
        "replies": {"rejection_window_hours": 0, "max_rejections_per_hour": 0},
        "authentication": {"authserv_id": AUTHSERV_ID},
        "meetings": [
            {
                "code": "PKO-SAFETY",
                "title": "United Nations peacekeeping operations: improving the safety and "
                "security of peacekeepers",
                "date": "2021-05-24",
            }
        ],
        "missions": {code: {"senders": [f"{code.lower()}@un.int"]} for code, _ in MISSIONS},
    }
    path = directory / "intake.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    return path


# -- the measurements --------------------------------------------------------------------------


@dataclass
class Measure:
    name: str
    messages: int
    seconds: float
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def _peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set (VmHWM) so far; None once it has exited."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _child(argv: Sequence[str], name: str, count: int) -> Measure:
    """Run one measurement in its own process: its wall time and its own peak RSS.

    The peak is read from /proc every 20 ms while it runs (VmHWM only grows, and starts
    afresh at exec; wait4's ru_maxrss would also count the benchmark's own memory, which
    the child shares between fork and exec).
    """
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        peak = 0.0
        while process.poll() is None:
            current = _peak_rss_mb(process.pid)
            if current is not None:
                peak = max(peak, current)
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            out.seek(0)
            tail = out.read().decode(errors="replace")[-3000:]
            raise SystemExit(f"bench: {name} failed ({process.returncode}):\n{tail}")
    return Measure(name, count, seconds, peak)


def _baseline(stage: str, host: str, port: int, user: str, password: str, batch: int) -> None:
    """(a) or (b), inside the child process: fetch (and parse) every message."""
    import base64

    import imapclient

    client = imapclient.IMAPClient(host, port=port, ssl=False, timeout=120)
    client.login(user, password)
    client.select_folder("INBOX", readonly=True)
    uids = client.search("ALL")
    seen, size = 0, 0
    parse = None
    if stage == "parse":
        import mailparser

        parse = mailparser.parse_from_bytes
    for start in range(0, len(uids), batch):
        items = ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"]
        fetched = client.fetch(uids[start : start + batch], items)
        for data in fetched.values():
            raw = data[b"BODY[]"]
            seen += 1
            size += len(raw)
            if parse is not None:
                mail = parse(raw)
                for attachment in mail.attachments:
                    payload = attachment["payload"]
                    if attachment.get("binary"):
                        size += len(base64.b64decode(payload))
    client.logout()
    print(json.dumps({"messages": seen, "bytes": size}))


def run(count: int, *, database: str, batch_size: int, keep: bool) -> dict[str, object]:
    from pipeline.devservers.dovecot import ThrowawayDovecot
    from pipeline.devservers.smtp import CapturingSMTPServer

    pool = build_pool()
    workdir = Path(tempfile.mkdtemp(prefix="intake-bench-"))
    database_url = f"sqlite:///{workdir / 'intake.db'}"
    pg_name = None
    if database == "postgresql":
        import psycopg

        pg_name = f"intake_bench_{os.getpid()}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{pg_name}"')
            c.execute(f'CREATE DATABASE "{pg_name}"')
        database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
    try:
        with ThrowawayDovecot() as dovecot, CapturingSMTPServer() as smtp:
            user, password = "bench", "bench-password"
            dovecot.add_user(user, password)
            print(f"seeding {count} messages ...", flush=True)
            seeded_in = seed(dovecot, user, password, count, pool)
            config = write_config(
                workdir, imap_port=dovecot.port, smtp_port=smtp.port, user=user,
                password=password, database_url=database_url, batch_size=batch_size,
            )  # fmt: skip
            me = [sys.executable, "-m", "benchmarks.bench_pipeline", "--child"]
            where = [dovecot.host, str(dovecot.port), user, password, str(batch_size)]
            print("(a) fetch ...", flush=True)
            fetch = _child([*me, "fetch", *where], "fetch", count)
            print("(b) fetch + mail-parser ...", flush=True)
            parse = _child([*me, "parse", *where], "parse", count)
            print("(c) intake run-once ...", flush=True)
            intake = Path(sys.executable).parent / "intake"
            full = _child([str(intake), "--config", str(config), "run-once"], "intake", count)
            replies = smtp.messages
            left = dovecot.folder_uids(user, password, "INBOX")
            filed = _filed(database_url)
    finally:
        if pg_name is not None:
            import psycopg

            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        if keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    silent = ("auto_reply", "bounce")
    expected_replies = sum(1 for n in range(count) if CYCLE[n % len(CYCLE)] not in silent)
    return {
        "messages": count,
        "database": database,
        "batch_size": batch_size,
        "seeded_per_second": round(count / seeded_in, 1),
        "fetch": _figures(fetch),
        "parse": _figures(parse),
        "intake": _figures(full),
        "ratio_c_b": round(full.rate / parse.rate, 3) if parse.rate else None,
        "filed": filed,
        "left_in_inbox": len(left),
        "replies_received": len(replies),
        "replies_expected": expected_replies,
    }


def _filed(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT outcome, count(*) FROM messagerecord GROUP BY outcome")
            ).all()
    finally:
        engine.dispose()
    return {str(outcome).lower(): int(n) for outcome, n in rows}


def _figures(measure: Measure) -> dict[str, float]:
    return {
        "seconds": round(measure.seconds, 2),
        "per_second": round(measure.rate, 1),
        "peak_rss_mb": round(measure.peak_rss_mb, 1),
    }


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "system": platform.platform(),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def report(result: dict[str, object]) -> None:
    n = result["messages"]
    print(f"\n{n} messages ({result['database']}, batches of {result['batch_size']}):")
    print(f"  {'':28} {'msg/s':>8} {'seconds':>8} {'peak RSS':>9}")
    for key, label in (
        ("fetch", "(a) fetch"),
        ("parse", "(b) fetch + mail-parser"),
        ("intake", "(c) intake run-once"),
    ):
        f = result[key]
        assert isinstance(f, dict)
        print(f"  {label:28} {f['per_second']:8.1f} {f['seconds']:8.2f} {f['peak_rss_mb']:7.1f} MB")
    print(f"  c/b = {result['ratio_c_b']}   (targets: c >= {TARGET_RATE:.0f} msg/s, "
          f"c/b >= {TARGET_RATIO}, peak RSS <= {TARGET_RSS_MB:.0f} MB)")  # fmt: skip
    print(
        f"  filed {result['filed']}, left in the inbox {result['left_in_inbox']}, "
        f"replies received {result['replies_received']} of {result['replies_expected']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, nargs="+", default=[2000])
    parser.add_argument("--large", action="store_true", help="also 20,000 messages")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        stage, host, port, user, password, batch = args.child
        _baseline(stage, host, int(port), user, password, int(batch))
        return 0
    counts = list(args.messages) + ([20000] if args.large else [])
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = []
    for count in counts:
        result = run(count, database=args.database, batch_size=args.batch_size, keep=args.keep)
        result["machine"] = machine()
        report(result)
        path = RESULTS / f"pipeline-{count}-{args.database}.json"
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"  written to {path.relative_to(ROOT)}")
        results.append(result)
    if len(results) > 1:
        small, large = results[0], results[-1]
        a = small["intake"]
        b = large["intake"]
        assert isinstance(a, dict)
        assert isinstance(b, dict)
        growth = (b["peak_rss_mb"] - a["peak_rss_mb"]) / a["peak_rss_mb"]
        print(
            f"\npeak RSS of (c): {a['peak_rss_mb']} MB at {small['messages']}, "
            f"{b['peak_rss_mb']} MB at {large['messages']}: {growth:+.1%} (target within 10 %)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
