"""The deployment files work as shipped: an operator copies them and they must just run.

- the production configuration passes `intake config check` with the example secrets;
- the wrapper installed as /usr/local/bin/intake loads the secrets and the configuration;
- every systemd unit parses (`systemd-analyze verify` where it works, and always our own
  reading of the INI structure) and agrees with the others on users and paths;
- every command a unit, the crontab or the docs run is a real `intake` command.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer
from sqlmodel import Session
from typer.core import TyperCommand, TyperGroup

from pipeline.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PRODUCTION = DEPLOY / "intake.production.toml"
ENV_EXAMPLE = DEPLOY / "intake.env.example"
WRAPPER = DEPLOY / "intake-wrapper.sh"
UNITS = sorted([*DEPLOY.glob("*.service"), *DEPLOY.glob("*.timer")])
INSTALLED_INTAKE = "/opt/intake/.venv/bin/intake"
SECRETS = {
    "INTAKE_MAILBOX__PASSWORD",
    "INTAKE_SMTP__PASSWORD",
    "INTAKE_DATABASE__URL",
    "INTAKE_WEB__SECRET_KEY",
}


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, as systemd's EnvironmentFile= reads them (quotes removed)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        [values[key]] = shlex.split(value) or [""]
    return values


def clean_environment(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    environment.update(extra)
    return environment


# -- the configuration and the secrets ---------------------------------------------------


def test_the_env_file_names_every_secret_and_none_is_real() -> None:
    values = env_file(ENV_EXAMPLE)

    assert set(values) == SECRETS
    assert all("CHANGE-ME" in value for value in values.values())
    assert values["INTAKE_DATABASE__URL"].startswith("postgresql+psycopg://")


def test_the_production_configuration_passes_config_check_with_the_secrets() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(PRODUCTION), "config", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=clean_environment(**env_file(ENV_EXAMPLE)),
    )

    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "database postgresql+psycopg" in result.stdout


def test_the_production_configuration_is_shaped_for_production() -> None:
    text = PRODUCTION.read_text()
    data = tomllib.loads(text)

    assert data["database"]["url"].startswith("postgresql+psycopg://")
    assert (data["mailbox"]["security"], data["mailbox"]["port"]) == ("ssl", 993)
    assert (data["smtp"]["security"], data["smtp"]["port"]) == ("starttls", 587)
    assert data["web"]["secure_cookies"] is True
    assert data["web"]["host"] == "127.0.0.1"  # only the TLS proxy reaches it
    assert data["desk"]["address"]
    assert data["desk"]["digest_time"]
    assert "authentication" in data
    assert re.search(r"^# authserv_id = ", text, re.MULTILINE)
    # No secret in the file: they come from the environment.
    for section in ("mailbox", "smtp"):
        assert "password" not in data[section]
    assert "secret_key" not in data["web"]
    assert ":" not in data["database"]["url"].split("//", 1)[1].split("@", 1)[0]


def test_the_wrapper_loads_the_secrets_and_the_configuration(tmp_path: Path) -> None:
    """As /usr/local/bin/intake: the secrets file is sourced by the shell (a database URL
    from it replaces the file's), the configuration is the production one."""
    secrets = tmp_path / "secrets.env"
    secrets.write_text(
        ENV_EXAMPLE.read_text().replace(
            env_file(ENV_EXAMPLE)["INTAKE_DATABASE__URL"], f"sqlite:///{tmp_path}/intake.db"
        )
    )
    environment = clean_environment(
        INTAKE_SERVICE_USER=subprocess.check_output(["id", "-un"], text=True).strip(),
        INTAKE_SERVICE_VENV=sys.prefix,
        INTAKE_SERVICE_WORKDIR=str(tmp_path),
        INTAKE_SERVICE_SECRETS=str(secrets),
        INTAKE_SERVICE_CONFIG=str(PRODUCTION),
    )

    result = subprocess.run(
        ["sh", str(WRAPPER), "config", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )

    assert result.returncode == 0, result.stderr
    assert f"{PRODUCTION}: OK" in result.stdout
    assert "database sqlite" in result.stdout


@pytest.mark.parametrize("script", ["setup.sh", "demo.sh", "test.sh", "intake-wrapper.sh"], ids=str)
def test_the_shell_scripts_parse(script: str) -> None:
    result = subprocess.run(
        ["bash", "-n", str(DEPLOY / script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# -- systemd units -------------------------------------------------------------------------


def read_unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(path.read_text(), source=str(path))
    return parser


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_every_unit_has_the_structure_systemd_expects(unit: Path) -> None:
    parsed = read_unit(unit)
    kind = unit.suffix.lstrip(".")

    assert set(parsed.sections()) <= {"Unit", "Service", "Timer", "Install"}
    assert parsed.get("Unit", "Description")
    if kind == "service":
        service = parsed["Service"]
        assert service["Type"] in ("simple", "oneshot")
        assert service["ExecStart"].startswith(INSTALLED_INTAKE + " ")
        assert (service["User"], service["Group"]) == ("intake", "intake")
        if service["Type"] == "simple":
            assert parsed.get("Install", "WantedBy") == "multi-user.target"
    else:
        timer = parsed["Timer"]
        assert timer.get("OnCalendar")
        assert (DEPLOY / timer["Unit"]).exists()
        assert parsed.get("Install", "WantedBy") == "timers.target"


def test_every_service_runs_as_the_worker_unit_does() -> None:
    """intake.service is what installations have; the others must match it."""
    reference = read_unit(DEPLOY / "intake.service")["Service"]
    same = ("User", "Group", "UMask", "WorkingDirectory", "Environment", "EnvironmentFile")
    for unit in DEPLOY.glob("*.service"):
        service = read_unit(unit)["Service"]
        assert {key: service[key] for key in same} == {key: reference[key] for key in same}, unit
    wrapper = WRAPPER.read_text()
    assert "INTAKE_SERVICE_WORKDIR:-" + reference["WorkingDirectory"] in wrapper
    assert "INTAKE_SERVICE_SECRETS:-" + reference["EnvironmentFile"].lstrip("-") in wrapper
    assert "INTAKE_SERVICE_CONFIG:-" + reference["Environment"].split("=", 1)[1] in wrapper


def systemd_analyze_works(tmp_path: Path) -> bool:
    """True where `systemd-analyze verify` is installed and can run here."""
    if shutil.which("systemd-analyze") is None:
        return False
    probe = tmp_path / "probe.service"
    probe.write_text("[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(probe)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode == 0


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_systemd_accepts_every_unit(unit: Path, tmp_path: Path) -> None:
    if not systemd_analyze_works(tmp_path):
        pytest.skip("systemd-analyze verify cannot run here (the INI checks above still do)")
    # The units name the installed command; verify checks that it is executable.
    here = Path(sys.prefix) / "bin" / "intake"
    for path in UNITS:
        (tmp_path / path.name).write_text(path.read_text().replace(INSTALLED_INTAKE, str(here)))

    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / unit.name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    # Unknown keys and bad values are only warnings: none may mention our units.
    complaints = [line for line in result.stderr.splitlines() if "intake" in line]
    assert complaints == []


# -- the commands they run -----------------------------------------------------------------


def intake_tree() -> TyperGroup:
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    return command


def resolve(arguments: list[str]) -> str:
    """The command `intake ARGUMENTS...` runs ("users add"); fails unless it is a real one
    and every option given is one of its options."""
    words = command_words(arguments)
    command: object = intake_tree()
    path: list[str] = []
    for word in words:
        if not isinstance(command, TyperGroup) or word not in command.commands:
            break
        command = command.commands[word]
        path.append(word)
    shown = " ".join(arguments)
    assert path, f"`intake {shown}`: {words[:1]} is not an intake command"
    assert isinstance(command, TyperCommand), (
        f"`intake {shown}`: no such command under `intake {' '.join(path)}`"
    )
    known = {"--help"}
    for parameter in command.params:
        known.update(parameter.opts)
        known.update(parameter.secondary_opts)
    for argument in arguments:
        if argument in SHELL_OPERATORS:
            break
        if argument.startswith("-"):
            assert argument.split("=", 1)[0] in known, f"`intake {shown}`: no {argument}"
    return " ".join(path)


SHELL_OPERATORS = (">>", ">", "&&", "||", "|", ";", "2>&1")


def command_words(arguments: list[str]) -> list[str]:
    """The words after `intake` up to the first option, redirection or operator."""
    words = []
    for argument in arguments:
        if argument.startswith("-") or argument in SHELL_OPERATORS:
            break
        words.append(argument)
    return words


@pytest.mark.parametrize("unit", [*DEPLOY.glob("*.service")], ids=lambda path: path.name)
def test_every_unit_runs_a_real_intake_command(unit: Path) -> None:
    program, *arguments = shlex.split(read_unit(unit)["Service"]["ExecStart"])

    assert program == INSTALLED_INTAKE
    assert resolve(arguments)


def test_the_crontab_lines_go_through_the_wrapper_and_run_real_commands() -> None:
    """cron reads no secrets: each line calls /usr/local/bin/intake (the wrapper, which
    loads them), never the virtual environment's intake directly."""
    jobs = [
        line
        for line in (DEPLOY / "crontab.example").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not re.match(r"^\w+=", line)
    ]
    assert jobs
    commands = []
    for job in jobs:
        fields = job.split(None, 6)
        assert len(fields) == 7, job  # five times, the user, the command
        assert all(re.fullmatch(r"[\d*/,-]+", field) for field in fields[:5]), job
        words = shlex.split(fields[6])
        assert "/usr/local/bin/intake" in words, job
        assert not any(word.endswith(".venv/bin/intake") for word in words), job
        commands.append(resolve(words[words.index("/usr/local/bin/intake") + 1 :]))
    assert commands == ["run-once", "digest"]


def test_every_file_gives_the_secrets_file_the_same_mode_and_owner() -> None:
    """The wrapper runs as the intake user and must read the secrets: 0640, root:intake,
    wherever a unit, an example or the guide says how to install it."""
    files = [*DEPLOY.iterdir(), ROOT / "docs" / "deployment.md", ROOT / "docs" / "runbook.md"]
    said = [
        (path.name, re.findall(r"\b0[0-7]{3}\b", line))
        for path in files
        if path.is_file()
        for line in path.read_text(encoding="utf-8").splitlines()
        if "secrets.env" in line and re.search(r"\b0[0-7]{3}\b", line)
    ]
    assert len(said) >= 3, "the units, the example and the guide each say the mode"
    assert all(modes == ["0640"] for _name, modes in said), said


DOCS = [ROOT / "docs" / "runbook.md", ROOT / "docs" / "deployment.md"]


def documented_commands(path: Path) -> list[list[str]]:
    """`intake ...` at the start of a line, or `.../bin/intake ...`, in the code blocks."""
    found: list[list[str]] = []
    in_code = False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if not in_code:
            continue
        for match in re.finditer(r"(?:^\s*|/bin/)intake\s+([^#]*)", line):
            arguments = shlex.split(match.group(1), comments=True)
            if command_words(arguments):
                found.append(arguments)
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_command_in_the_docs_exists(doc: Path) -> None:
    commands = documented_commands(doc)

    assert len(commands) > 5
    for arguments in commands:
        resolve(arguments)


def test_every_alert_rule_watches_a_metric_intake_publishes() -> None:
    """GIVEN the example alert rules, THEN each expression names only series that /metrics
    writes (or Prometheus's own `up`), so a renamed metric cannot silence an alert."""
    from pipeline.storage.db import init_schema, make_engine
    from pipeline.web.metrics import render_metrics

    engine = make_engine("sqlite://")
    try:
        init_schema(engine)
        with Session(engine) as session:
            published = set(re.findall(r"^# TYPE (\w+) ", render_metrics(session), re.MULTILINE))
    finally:
        engine.dispose()
    rules = (DEPLOY / "prometheus-alerts.yml").read_text(encoding="utf-8")
    expressions = re.findall(r"^\s+expr: (.+)$", rules, re.MULTILINE)
    alerts = re.findall(r"^\s+- alert: (\w+)$", rules, re.MULTILINE)

    assert len(expressions) == len(alerts) >= 5
    for expression in expressions:
        named = set(re.findall(r"\b(intake_\w+|up)\b", expression))
        assert named, expression
        assert named <= published | {"up"}, expression
    assert {"intake_last_success_timestamp_seconds", "intake_replies_total"} <= {
        name for expression in expressions for name in re.findall(r"intake_\w+", expression)
    }
