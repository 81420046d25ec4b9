"""Schema migrations, on SQLite and PostgreSQL: what operations rely on when they upgrade.

- a new database is created by the migrations, exactly as the models describe it;
- the models and the newest migration agree (this fails when a column is added without a
  migration, and says which command writes one);
- an upgrade keeps the data filed before it, and the references between rows;
- a database made before migrations existed is adopted without losing a row;
- what cannot be upgraded is refused in one sentence, with nothing changed.

The upgrade with data needs a revision after the current head. Rather than wait for a
real one, the test writes its own (`add_priority`) into a temporary directory added to
Alembic's version locations, so it keeps testing the newest schema whatever comes next.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from pipeline.demo import samples
from pipeline.storage import migrations
from pipeline.storage.db import (
    DatabaseError,
    downgrade_schema,
    init_schema,
    make_engine,
    schema_state,
    upgrade_schema,
)
from tests.conftest import SUBMISSIONS, Intake, ny

ROOT = Path(__file__).resolve().parents[1]
ON_TIME = ny(2021, 5, 20, 10, 0)
HEAD = str(migrations.script_directory().get_current_head())

TEST_MIGRATION = '''"""Test only: a column on a table every other table refers to."""

import sqlalchemy as sa
from alembic import op

revision = "test_add_priority"
down_revision = {head!r}
branch_labels = None
depends_on = None


def recreate() -> str:
    # SQLite: copy the table and drop the original, as any change beyond ADD COLUMN does,
    # with rows in document, decision, reply and auditevent referring to it. PostgreSQL
    # alters in place (batch mode's "auto").
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    with op.batch_alter_table("submission", recreate=recreate()) as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE submission SET priority = 1 WHERE status = 'accepted'")


def downgrade() -> None:
    with op.batch_alter_table("submission", recreate=recreate()) as batch:
        batch.drop_column("priority")
'''


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database, left empty: no table, no alembic_version."""
    engine = make_engine(database_url)
    drop_everything(engine)
    yield engine
    drop_everything(engine)
    engine.dispose()


def drop_everything(engine: Engine) -> None:
    reflected = sa.MetaData()
    reflected.reflect(engine)
    reflected.drop_all(engine)


@pytest.fixture
def test_versions(tmp_path: Path) -> Path:
    """A directory holding the test-only migration that follows the current head."""
    directory = tmp_path / "test_versions"
    directory.mkdir()
    (directory / "test_add_priority.py").write_text(TEST_MIGRATION.format(head=HEAD))
    return directory


# -- a new database --------------------------------------------------------------------


def test_a_new_database_gets_exactly_the_schema_the_models_describe(engine: Engine) -> None:
    init_schema(engine)

    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert set(inspector.get_table_names()) == {
            *SQLModel.metadata.tables,
            migrations.VERSION_TABLE,
        }
        for name, table in SQLModel.metadata.tables.items():
            assert actual_schema(inspector, name) == expected_schema(table), name
        partial = next(
            index
            for index in inspector.get_indexes("submission")
            if index["name"] == "uq_submission_current_accepted"
        )
        assert where_clause(partial.get("dialect_options", {})) == "status = 'accepted'"
    assert schema_state(engine).current == (HEAD,)


def expected_schema(table: sa.Table) -> dict[str, Any]:
    return {
        "columns": {column.name: column.nullable for column in table.columns},
        "primary_key": sorted(column.name for column in table.primary_key.columns),
        "foreign_keys": sorted(
            (key.parent.name, key.column.table.name, key.column.name) for key in table.foreign_keys
        ),
        "unique": sorted(
            tuple(column.name for column in constraint.columns)
            for constraint in table.constraints
            if isinstance(constraint, sa.UniqueConstraint)
        ),
        "indexes": sorted(
            (
                str(index.name),
                tuple(str(getattr(column, "name", column)) for column in index.expressions),
                bool(index.unique),
                where_clause(index.kwargs),
            )
            for index in table.indexes
        ),
    }


def actual_schema(inspector: sa.Inspector, table: str) -> dict[str, Any]:
    return {
        "columns": {column["name"]: column["nullable"] for column in inspector.get_columns(table)},
        "primary_key": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
        "foreign_keys": sorted(
            (column, key["referred_table"], referred)
            for key in inspector.get_foreign_keys(table)
            for column, referred in zip(
                key["constrained_columns"], key["referred_columns"], strict=True
            )
        ),
        "unique": sorted(
            tuple(constraint["column_names"])
            for constraint in inspector.get_unique_constraints(table)
        ),
        "indexes": sorted(
            (
                str(index["name"]),
                tuple(str(column) for column in index["column_names"]),
                bool(index["unique"]),
                where_clause(index.get("dialect_options", {})),
            )
            for index in inspector.get_indexes(table)
            # PostgreSQL lists the index behind each unique constraint too.
            if "duplicates_constraint" not in index
        ),
    }


def where_clause(options: Mapping[str, Any]) -> str | None:
    """The WHERE of a partial index, however the dialect reflects or stores it
    (PostgreSQL reflects `((status)::text = 'accepted'::text)`)."""
    for key in ("sqlite_where", "postgresql_where"):
        clause = options.get(key)
        if clause is not None:
            return " ".join(re.sub(r"::\w+|[()]", "", str(clause)).split())
    return None


def test_the_models_and_the_newest_migration_agree(engine: Engine) -> None:
    init_schema(engine)

    with engine.connect() as connection:
        differences = migrations.drift(connection)

    assert not differences, (
        "The models in pipeline/storage/models.py have changes that no migration "
        f"describes:\n{migrations.describe_drift(differences)}\n"
        f"Write one with: {migrations.NEW_MIGRATION_COMMAND}\n"
        "then review it (docs/deployment.md, 'Changing the schema') and commit it."
    )


def test_migration_0006_adds_lists_of_speakers_with_one_row_per_mission(engine: Engine) -> None:
    """GIVEN a database at 0005 WHEN it is upgraded THEN it has the list of speakers, where a
    mission is on a meeting's list once at most; a downgrade takes the table away again."""
    upgrade_schema(engine, "0005")
    assert "speaker" not in sa.inspect(engine).get_table_names()

    upgrade_schema(engine, "0006")
    speaker = sa.table(
        "speaker",
        sa.column("meeting_id"),
        sa.column("mission_id"),
        sa.column("position"),
        sa.column("created_at"),
    )
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO mission (id, code, name, kind, names) "
                "VALUES (1, 'FRA', 'France', 'member_state', '{}')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO meeting (id, code, title, date, timezone, deadline, word_limit, "
                "length_policy, status, meeting_format, briefers, created_at) VALUES (1, "
                "'PKO-SAFETY', 'Peacekeeping', '2021-05-24', 'America/New_York', "
                "'2021-05-25 03:59:59', 500, 'note', 'open', 'in_person', '[]', "
                "'2021-05-01 00:00:00')"
            )
        )
        row = {"meeting_id": 1, "mission_id": 1, "created_at": datetime(2021, 5, 1)}
        connection.execute(speaker.insert().values(position=1, **row))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(speaker.insert().values(position=2, **row))

    downgrade_schema(engine, "0005")
    assert "speaker" not in sa.inspect(engine).get_table_names()


def test_a_column_added_without_a_migration_is_noticed(engine: Engine) -> None:
    init_schema(engine)
    changed = sa.MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["submission"].append_column(sa.Column("priority", sa.Integer()))

    with engine.connect() as connection:
        differences = migrations.drift(connection, changed)

    assert "add_column" in migrations.describe_drift(differences)
    assert "column submission.priority" in migrations.describe_drift(differences)


def test_the_check_command_passes_on_the_shipped_migrations() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.storage.migrations", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "the models match the newest migration" in result.stdout


def test_autogenerate_writes_a_migration_that_removes_the_difference(tmp_path: Path) -> None:
    """The documented way to change the schema works: a column added to a model becomes
    a batch migration after the head, and once applied nothing differs any more."""
    versions = tmp_path / "versions"
    versions.mkdir()
    add_column = (
        "import sqlalchemy as sa\n"
        "from pipeline.storage import models\n"
        "models.Submission.__table__.append_column(sa.Column('priority', sa.Integer()))\n"
    )
    write = subprocess.run(
        [
            sys.executable,
            "-c",
            add_column + "from pathlib import Path\n"
            "from pipeline.storage.migrations.__main__ import new_revision\n"
            f"versions = Path({str(versions)!r})\n"
            "print(new_revision('add priority', empty=False, versions_dir=versions))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert write.returncode == 0, write.stderr
    [script] = versions.glob("*.py")
    assert script.name.endswith("_add_priority.py")
    text = script.read_text()
    assert f'down_revision: str | Sequence[str] | None = "{HEAD}"' in text
    assert 'batch_alter_table("submission"' in text
    assert 'sa.Column("priority", sa.Integer(), nullable=True)' in text
    assert "sqlmodel" not in text

    database = tmp_path / "check.db"
    apply = subprocess.run(
        [
            sys.executable,
            "-c",
            add_column + "from pathlib import Path\n"
            "from pipeline.storage import migrations\n"
            "from pipeline.storage.db import make_engine, upgrade_schema\n"
            f"engine = make_engine('sqlite:///{database}')\n"
            f"upgrade_schema(engine, version_locations=[Path({str(versions)!r})])\n"
            "with engine.connect() as connection:\n"
            "    print(migrations.describe_drift(migrations.drift(connection)) or 'no drift')\n",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert apply.returncode == 0, apply.stderr
    assert apply.stdout.strip() == "no drift"


# -- upgrading a database with data ----------------------------------------------------


def file_some_submissions(intake: Intake) -> None:
    """France (then a revision that supersedes it), Ghana without a cover letter."""
    france = samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS)
    ghana = samples.submission_email(
        mission_name="Ghana", sender="ghana@un.int", to=SUBMISSIONS, cover_letter=None
    )
    intake.deliver(france, at=ON_TIME)
    intake.deliver(ghana, at=ON_TIME)
    intake.run()
    revised = samples.submission_email(
        mission_name="France", sender="france@un.int", to=SUBMISSIONS, words=300
    )
    intake.deliver(revised, at=ny(2021, 5, 21, 9, 0))
    intake.run()


def snapshot(engine: Engine) -> dict[str, Any]:
    """Every row of the tables that matter, in a comparable form."""
    with engine.connect() as connection:
        counts = {
            table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in SQLModel.metadata.tables
        }
        submissions = connection.execute(
            sa.text(
                "SELECT s.id, s.reference, s.status, m.code, s.supersedes_id, s.word_count "
                "FROM submission s JOIN mission m ON m.id = s.mission_id ORDER BY s.id"
            )
        ).all()
        documents = connection.execute(
            sa.text("SELECT submission_id, role, sha256 FROM document ORDER BY id")
        ).all()
        replies = connection.execute(
            sa.text("SELECT submission_id, message_id, status FROM reply ORDER BY id")
        ).all()
    return {
        "counts": counts,
        "submissions": [tuple(row) for row in submissions],
        "documents": [tuple(row) for row in documents],
        "replies": [tuple(row) for row in replies],
    }


@pytest.fixture
def filed(intake: Intake) -> Iterator[Intake]:
    """Submissions filed through the real pipeline; the database is emptied afterwards."""
    file_some_submissions(intake)
    yield intake
    engine = make_engine(intake.settings.database_url)
    drop_everything(engine)
    engine.dispose()


def test_an_upgrade_keeps_every_row_and_reference(filed: Intake, test_versions: Path) -> None:
    engine = make_engine(filed.settings.database_url)
    before = snapshot(engine)
    assert [row[2] for row in before["submissions"]] == ["superseded", "rejected", "accepted"]

    change = upgrade_schema(engine, version_locations=[test_versions])

    assert (change.before, change.after) == ((HEAD,), ("test_add_priority",))
    assert snapshot(engine) == before
    with engine.connect() as connection:
        priorities = connection.execute(
            sa.text("SELECT status, priority FROM submission ORDER BY id")
        ).all()
        assert [tuple(row) for row in priorities] == [
            ("superseded", 0),
            ("rejected", 0),
            ("accepted", 1),
        ]
        [partial] = [
            index
            for index in sa.inspect(connection).get_indexes("submission")
            if index["name"] == "uq_submission_current_accepted"
        ]
        assert where_clause(partial.get("dialect_options", {})) == "status = 'accepted'"
    # The copied table still allows one accepted submission per mission and meeting.
    superseded = before["submissions"][0][0]
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE submission SET status = 'accepted' WHERE id = :id"),
            {"id": superseded},
        )
    engine.dispose()


def test_intake_refuses_a_schema_newer_than_itself_then_works_after_a_downgrade(
    filed: Intake, test_versions: Path
) -> None:
    engine = make_engine(filed.settings.database_url)
    upgrade_schema(engine, version_locations=[test_versions])
    before = snapshot(engine)

    with pytest.raises(DatabaseError, match="test_add_priority, which this version of Intake"):
        filed.run()

    downgrade_schema(engine, HEAD, version_locations=[test_versions])
    assert snapshot(engine) == before
    filed.deliver(
        samples.submission_email(mission_name="Japan", sender="japan@un.int", to=SUBMISSIONS),
        at=ON_TIME,
    )
    report = filed.run()
    assert report.filed == {"accepted": 1}
    assert schema_state(engine).current == (HEAD,)
    engine.dispose()


# -- databases made before migrations ---------------------------------------------------


def make_pre_migration_database(engine: Engine) -> None:
    """What `create_all` made before migrations existed: the baseline's tables, no
    alembic_version. Made from migration 0001 (which is that schema, as the first test
    shows while 0001 is the head) so that it stays the old schema when newer migrations
    and models come."""
    upgrade_schema(engine, migrations.BASELINE)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE alembic_version"))


def insert_rows(engine: Engine) -> None:
    """A filed, accepted French statement, written as the old schema's rows."""
    now = datetime(2021, 5, 20, 14, 0)
    with engine.begin() as connection:
        tables = sa.MetaData()
        tables.reflect(connection)

        def add(table: str, **values: Any) -> Any:
            result = connection.execute(sa.insert(tables.tables[table]).values(**values))
            key = result.inserted_primary_key
            assert key is not None
            return key[0]

        meeting = add(
            "meeting",
            code="PKO-SAFETY",
            title="United Nations peacekeeping operations",
            date=datetime(2021, 5, 24).date(),
            timezone="America/New_York",
            deadline=datetime(2021, 5, 25, 3, 59, 59),
            word_limit=500,
            length_policy="note",
            status="open",
            meeting_format="video-teleconference",  # the values before 0005
            created_at=now,
        )
        mission = add("mission", code="FRA", name="France", kind="member_state", names={})
        message = add(
            "messagerecord",
            mailbox="submissions@imap",
            uidvalidity=1,
            uid=1,
            message_id="<old@example.org>",
            raw_sha256="0" * 64,
            size=1000,
            received_at=now,
            sender="france@un.int",
            subject="Statement",
            outcome="accepted",
            target_folder="Intake/Accepted",
            processed_at=now,
        )
        add(
            "submission",
            reference="PKO-SAFETY-0001",
            meeting_id=meeting,
            mission_id=mission,
            message_record_id=message,
            sender="france@un.int",
            received_at=now,
            status="accepted",
            created_at=now,
            updated_at=now,
        )
        add("referencecounter", prefix="PKO-SAFETY", last=1)


def test_a_database_made_before_migrations_is_adopted_without_losing_rows(
    intake: Intake, engine: Engine
) -> None:
    make_pre_migration_database(engine)
    insert_rows(engine)
    assert schema_state(engine).legacy

    change = upgrade_schema(engine)

    assert change.adopted
    assert change.after == (HEAD,)
    assert snapshot(engine)["submissions"] == [
        (1, "PKO-SAFETY-0001", "accepted", "FRA", None, None)
    ]
    # Migration 0005: the meeting's former format value reads as the new one.
    with engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT meeting_format, briefers, procedure FROM meeting")
        ).one()
    assert stored.meeting_format == "videoconference"
    assert stored.procedure is None
    # The pipeline carries on from the old rows: France's new statement supersedes the
    # old one and takes the next reference.
    intake.deliver(
        samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS),
        at=ON_TIME,
    )
    intake.run()
    rows = snapshot(engine)["submissions"]
    assert [(row[1], row[2]) for row in rows] == [
        ("PKO-SAFETY-0001", "superseded"),
        ("PKO-SAFETY-0002", "accepted"),
    ]


def test_a_database_older_than_the_baseline_is_refused_and_left_unchanged(
    engine: Engine,
) -> None:
    make_pre_migration_database(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE digestrun"))

    with pytest.raises(DatabaseError, match="older than its schema migrations and lacks table"):
        init_schema(engine)

    with engine.connect() as connection:
        assert migrations.VERSION_TABLE not in sa.inspect(connection).get_table_names()


def test_a_version_row_left_without_tables_means_an_empty_database(engine: Engine) -> None:
    """As after `drop_all` of the models, which leaves Alembic's table behind."""
    init_schema(engine)
    SQLModel.metadata.drop_all(engine)

    init_schema(engine)

    with engine.connect() as connection:
        assert "submission" in sa.inspect(connection).get_table_names()
    assert schema_state(engine).up_to_date


def test_a_database_from_a_newer_intake_is_refused_in_one_sentence(engine: Engine) -> None:
    init_schema(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(DatabaseError) as raised:
        init_schema(engine)

    message = str(raised.value)
    assert "schema revision 9999, which this version of Intake does not know" in message
    assert "\n" not in message


def test_two_workers_starting_on_a_new_database_migrate_it_once(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(2)]
    drop_everything(engines[0])
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def start_worker(engine: Engine) -> None:
        start.wait()
        try:
            init_schema(engine)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=start_worker, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    with engines[0].connect() as connection:
        versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert [row[0] for row in versions] == [HEAD]
    drop_everything(engines[0])
    for engine in engines:
        engine.dispose()


# -- the commands -----------------------------------------------------------------------


def intake_db(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(config), "db", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
        cwd=config.parent,
    )


def test_intake_db_current_and_upgrade(engine: Engine, database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "intake.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n')

    empty = intake_db("current", config=config)
    assert empty.returncode == 0, empty.stderr
    assert "empty (no schema yet)" in empty.stdout
    assert f"to apply: {HEAD}" in empty.stdout
    assert "intake db upgrade" in empty.stdout

    upgraded = intake_db("upgrade", config=config)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"applied {migrations.BASELINE}" in upgraded.stdout
    assert f"is at schema revision {HEAD}" in upgraded.stdout

    again = intake_db("upgrade", config=config)
    assert again.returncode == 0, again.stderr
    assert f"is up to date (schema revision {HEAD})" in again.stdout

    current = intake_db("current", "--json", config=config)
    assert current.returncode == 0, current.stderr
    assert '"up_to_date": true' in current.stdout
    assert "password" not in current.stdout


def test_intake_db_upgrade_adopts_a_pre_migration_database(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    make_pre_migration_database(engine)
    config = tmp_path / "intake.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n')

    current = intake_db("current", config=config)
    assert "made before schema migrations" in current.stdout

    upgraded = intake_db("upgrade", config=config)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"recorded as revision {migrations.BASELINE}" in upgraded.stdout
    assert schema_state(engine).up_to_date


def test_intake_db_on_an_unreachable_database_gives_one_line(tmp_path: Path) -> None:
    config = tmp_path / "intake.toml"
    config.write_text('[database]\nurl = "postgresql+psycopg://nobody@127.0.0.1:9/intake"\n')

    for command in ("current", "upgrade"):
        result = intake_db(command, config=config)
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert "cannot use the database" in line


def test_intake_db_current_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    database = tmp_path / "data" / "intake.db"
    config = tmp_path / "intake.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{database}"\n')

    result = intake_db("current", config=config)

    assert result.returncode == 0, result.stderr
    assert "empty (no schema yet)" in result.stdout
    assert not database.exists()
