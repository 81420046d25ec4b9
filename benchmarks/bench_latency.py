"""How long a delegation waits for its acknowledgement: delivery to reply, with IMAP IDLE.

    .venv/bin/python -m benchmarks.bench_latency [--messages 200] [--seed 7] [--poll-only]

Starts a throwaway Dovecot and a capturing SMTP server, writes a configuration (SQLite in
a temporary directory, one open meeting whose deadline is a month away, seven missions
with their sender addresses) and starts `intake worker` as a subprocess: with IMAP IDLE
and polls an hour apart, or with `--poll-only` polling every `--poll-interval` seconds
(the baseline). After one warm-up message it delivers `--messages` submissions over LMTP,
one by one, at random intervals (uniform between `--min-gap` and `--max-gap` seconds,
`--seed`), and measures for each the time from the moment its LMTP delivery completed to
the moment its reply reached the SMTP server (matched by In-Reply-To to the delivered
Message-ID). A message without a reply within `--timeout` seconds counts as lost.

Reports p50, p95, max, replies and lost, and writes them with every latency to
`benchmarks/results/latency-<mode>.json` (the latest run; measured_at says when).
Target with IDLE: p95 <= 2 s.
Exits 0 once measured (this is a measurement, CI does not run it); everything it
started (worker, Dovecot, SMTP server) is stopped, even after an error.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.demo import samples
from pipeline.demo.meetings import PKO_SAFETY
from pipeline.devservers.dovecot import ThrowawayDovecot
from pipeline.devservers.smtp import CapturingSMTPServer
from pipeline.settings.toml_writer import to_toml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_P95_S = 2.0
SUBMISSIONS = "submissions@intake.example"
USER, PASSWORD = "submissions", "bench"
WATCHING = "IDLE: watching"

MISSIONS = {
    "FRA": ("France", "france@un.int"),
    "CIV": ("Côte d'Ivoire", "cotedivoire@un.int"),
    "GHA": ("Ghana", "ghana@un.int"),
    "JPN": ("Japan", "japan@un.int"),
    "BRA": ("Brazil", "brazil@un.int"),
    "VAT": ("Holy See", "holysee@un.int"),
    "EUU": ("European Union", "delegation@eeas.europa.eu"),
}


@dataclass
class Delivery:
    message_id: str
    mission: str
    delivered_at: float  # time.time() when the LMTP delivery completed
    latency: float | None = None  # seconds to the reply; None: no reply (yet)


@dataclass
class Figures:
    mode: str
    messages: int
    replies: int
    lost: int
    p50: float | None
    p95: float | None
    max: float | None
    mean: float | None
    runs: int
    latencies: list[float | None] = field(default_factory=list)


def configuration(work: Path, dovecot: ThrowawayDovecot, smtp: CapturingSMTPServer,
                  *, idle: bool, poll_interval: int) -> Path:  # fmt: skip
    meeting_day = date.today() + timedelta(days=30)
    data: dict[str, Any] = {
        "paths": {"data_dir": str(work / "data")},
        "database": {"url": f"sqlite:///{work / 'intake.db'}"},
        "mailbox": {
            "host": dovecot.host,
            "port": dovecot.port,
            "security": "none",
            "username": USER,
            "password": PASSWORD,
            "timeout": 10,
        },
        "smtp": {
            "host": smtp.host,
            "port": smtp.port,
            "security": "none",
            "sender": SUBMISSIONS,
            "timeout": 10,
        },
        "worker": {"poll_interval": poll_interval, "outbox_interval": 3600, "idle": idle},
        "contacts": {
            "service_desk": "the service desk at servicedesk@intake.example",
            "secretariat": "the Security Council Affairs Division",
        },
        "meetings": [
            {
                "code": PKO_SAFETY.code,
                "title": "United Nations peacekeeping operations: improving the safety and "
                "security of peacekeepers",
                "date": meeting_day.isoformat(),
            }
        ],
        "missions": {code: {"senders": [sender]} for code, (_name, sender) in MISSIONS.items()},
    }
    path = work / "intake.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def templates() -> dict[str, bytes]:
    """One real submission per mission (statement + cover letter, ~55 KB); each delivery
    gets its own Message-ID by replacing the template's."""
    built = {}
    for code, (name, sender) in MISSIONS.items():
        built[code] = samples.submission_email(
            mission_name=name, sender=sender, to=SUBMISSIONS, message_id=_template_id(code)
        )
    return built


def _template_id(code: str) -> str:
    return f"<template-{code.lower()}@bench.invalid>"


def message(templates: dict[str, bytes], code: str, message_id: str) -> bytes:
    return templates[code].replace(_template_id(code).encode(), message_id.encode(), 1)


@contextmanager
def worker(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "--config", str(config), "-v", "worker"],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def wait_for_log(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"the worker never said {text!r}:\n{tail}")
        time.sleep(0.05)


def replied_at(smtp: CapturingSMTPServer) -> dict[str, float]:
    """In-Reply-To of every reply so far, with when it reached the SMTP server."""
    return {
        str(captured.message["In-Reply-To"]): captured.received_at.timestamp()
        for captured in smtp.messages
    }


def measure(args: argparse.Namespace, work: Path) -> Figures:
    mode = "poll-only" if args.poll_only else "idle"
    rng = random.Random(args.seed)
    started = time.perf_counter()
    built = templates()
    print(f"built {len(built)} submissions in {time.perf_counter() - started:.1f} s")
    with ExitStack() as stack:
        dovecot = stack.enter_context(ThrowawayDovecot())
        dovecot.add_user(USER, PASSWORD)
        smtp = stack.enter_context(CapturingSMTPServer())
        poll_interval = args.poll_interval if args.poll_only else 3600
        config = configuration(work, dovecot, smtp, idle=not args.poll_only,
                               poll_interval=poll_interval)  # fmt: skip
        log = work / "worker.log"
        process = stack.enter_context(worker(config, log))

        # Warm-up: the worker has made its database, polled once and (IDLE) is watching.
        warm_up = "<warm-up@bench.invalid>"
        dovecot.deliver_lmtp(USER, message(built, "FRA", warm_up), sender=MISSIONS["FRA"][1])
        smtp.wait_for(1, timeout=120)
        if not args.poll_only:
            wait_for_log(log, WATCHING, process, timeout=60)
        smtp.clear()
        print(f"worker ready ({mode}, polling every {poll_interval} s); delivering "
              f"{args.messages} messages {args.min_gap}-{args.max_gap} s apart")  # fmt: skip

        codes = list(MISSIONS)
        deliveries: list[Delivery] = []
        for number in range(args.messages):
            time.sleep(rng.uniform(args.min_gap, args.max_gap))
            code = codes[number % len(codes)]
            message_id = f"<bench-{args.seed}-{number}@{MISSIONS[code][1].split('@')[1]}>"
            raw = message(built, code, message_id)
            dovecot.deliver_lmtp(USER, raw, sender=MISSIONS[code][1])
            deliveries.append(Delivery(message_id, code, time.time()))
            if process.poll() is not None:
                raise RuntimeError(f"the worker ended with {process.returncode}; see {log}")

        deadline = deliveries[-1].delivered_at + args.timeout if deliveries else time.time()
        while time.time() < deadline and len(replied_at(smtp)) < len(deliveries):
            time.sleep(0.2)
        replies = replied_at(smtp)
        for delivery in deliveries:
            at = replies.get(delivery.message_id)
            if at is not None and at - delivery.delivered_at <= args.timeout:
                delivery.latency = at - delivery.delivered_at
        runs = log.read_text(errors="replace").count("new mail:" if not args.poll_only else "poll:")
    return figures(mode, deliveries, runs)


def figures(mode: str, deliveries: list[Delivery], runs: int) -> Figures:
    latencies = sorted(d.latency for d in deliveries if d.latency is not None)
    p95 = None
    if len(latencies) >= 2:
        p95 = statistics.quantiles(latencies, n=100, method="inclusive")[94]
    elif latencies:
        p95 = latencies[0]
    return Figures(
        mode=mode,
        messages=len(deliveries),
        replies=len(latencies),
        lost=len(deliveries) - len(latencies),
        p50=statistics.median(latencies) if latencies else None,
        p95=p95,
        max=latencies[-1] if latencies else None,
        mean=statistics.fmean(latencies) if latencies else None,
        runs=runs,
        latencies=[d.latency for d in deliveries],
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200, help="submissions to deliver")
    parser.add_argument("--seed", type=int, default=7, help="for the intervals between them")
    parser.add_argument("--min-gap", type=float, default=0.05, help="seconds, at least")
    parser.add_argument("--max-gap", type=float, default=1.0, help="seconds, at most")
    parser.add_argument("--poll-only", action="store_true", help="no IDLE: the polling baseline")
    parser.add_argument("--poll-interval", type=int, default=5, help="seconds, with --poll-only")
    parser.add_argument("--timeout", type=float, default=60.0, help="no reply after this: lost")
    parser.add_argument("--keep", type=Path, help="keep the database, config and worker log here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-latency-") as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        result = measure(args, work)

    print()
    print(f"mode {result.mode}: {result.messages} delivered, {result.replies} replies, "
          f"{result.lost} lost, {result.runs} runs")  # fmt: skip
    print(f"delivery to reply: p50 {_seconds(result.p50)}, p95 {_seconds(result.p95)}, "
          f"max {_seconds(result.max)}, mean {_seconds(result.mean)}")  # fmt: skip
    if result.mode == "idle":
        met = result.p95 is not None and result.p95 <= TARGET_P95_S and result.lost == 0
        print(f"target p95 <= {TARGET_P95_S:g} s, none lost: {'met' if met else 'MISSED'}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"latency-{result.mode}.json"  # the latest, as docs/performance.md
    record = {
        "command": " ".join([".venv/bin/python -m benchmarks.bench_latency", *sys.argv[1:]]),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "measured_at": stamp,
        **asdict(result),
    }
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
