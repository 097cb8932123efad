"""Audit 4 (storages, PostgreSQL above all; `hpopt storage upgrade`; study commands): each test failed
before its fix.

Tests marked with the ``pg_url`` fixture need a server: ``source .ci/postgres.sh start`` exports
HPOPT_TEST_POSTGRES_URL (CI does this); without it they are skipped with the reason printed. The
others need at most psycopg (no server: they connect to 127.0.0.1 port 1, where nothing listens).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

import hpopt
from hpopt.cli import main as cli_main
from hpopt.storage import MemoryBackend, Storage, open_storage, upgrade_storage

SECRET = "s3cret-4"
URL = os.environ.get("HPOPT_TEST_POSTGRES_URL")
# Nothing listens on port 1 of the loopback: the connection is refused at once, no server needed.
DOWN = "postgresql://hpopt@127.0.0.1:1/hpopt"


@pytest.fixture
def pg_url() -> str:
    """The test server's URL (skipped without one, as tests/test_storage_postgres.py does)."""
    if not URL:
        if os.environ.get("CI"):
            raise RuntimeError("CI must start PostgreSQL (.ci/postgres.sh) and set HPOPT_TEST_POSTGRES_URL")
        pytest.skip("no PostgreSQL server configured: run `source .ci/postgres.sh start` to test this "
                    "backend")
    pytest.importorskip("psycopg")
    return URL


@pytest.fixture
def fresh_db(pg_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the test server (dropped afterwards)."""
    import psycopg

    name = f"hpopt_a4_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    head, _, rest = pg_url.rpartition("/")
    query = rest.partition("?")[1:]
    yield f"{head}/{name}{''.join(query)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _with_password(url: str) -> str:
    """``url`` with SECRET as the password (the CI server trusts every local connection)."""
    scheme, _, rest = url.partition("://")
    userinfo, at, host = rest.partition("@")
    if not at or ":" in userinfo:
        pytest.skip("the test server's URL has no user name or already a password")
    return f"{scheme}://{userinfo}:{SECRET}@{host}"


def _tables(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return sorted(r[0] for r in rows)


# -- passwords stay out of messages and reprs -------------------------------------------------------
def test_study_errors_and_reprs_do_not_show_the_password() -> None:
    """Storage.url is the URL as given (it reopens the store); messages showed it whole."""
    backend = MemoryBackend()
    backend.url = f"postgresql://hpopt:{SECRET}@db.example/studies"  # as a PostgreSQL backend has it
    store = Storage(backend)
    study = hpopt.create_study(study_name="s", storage=store)
    with pytest.raises(hpopt.StudyNotFoundError) as missing:
        hpopt.load_study("nope", store)
    with pytest.raises(hpopt.DuplicatedStudyError) as dup:
        hpopt.create_study(study_name="s", storage=store)
    with pytest.raises(hpopt.StudyNotFoundError) as gone:
        hpopt.delete_study("nope", store)
    texts = [str(missing.value), str(dup.value), str(gone.value), repr(store), repr(study)]
    assert all("db.example" in t for t in texts)  # the URL is still named...
    assert not [t for t in texts if SECRET in t]  # ...without its password
    assert store.url == backend.url  # unchanged: a worker reopens the store from it


def test_a_password_in_the_query_string_is_not_shown() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(hpopt.StorageError) as exc:
        hpopt.create_study(storage=f"{DOWN}?password={SECRET}")
    assert "127.0.0.1" in str(exc.value) and SECRET not in str(exc.value)


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "POSTGRESQL"])
def test_scheme_spellings_the_registry_accepts_reach_libpq_in_its_form(scheme: str) -> None:
    """The plugin registry takes 'postgresql+psycopg://' and 'POSTGRESQL://'; libpq knows neither
    and raised psycopg.ProgrammingError quoting the whole URL, password included."""
    pytest.importorskip("psycopg")
    with pytest.raises(hpopt.StorageError, match="cannot connect") as exc:  # a refused connection
        hpopt.create_study(storage=f"{scheme}://hpopt:{SECRET}@127.0.0.1:1/hpopt")
    assert SECRET not in str(exc.value)


def test_an_unknown_url_option_is_a_value_error_without_the_password() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(ValueError, match="foo") as exc:  # was psycopg.ProgrammingError
        hpopt.create_study(storage=f"{DOWN}?foo=1&password={SECRET}")
    assert SECRET not in str(exc.value)


def test_studies_command_does_not_echo_a_password_in_a_driver_url(capsys) -> None:
    pytest.importorskip("psycopg")
    code = cli_main(["studies", "--storage", f"postgresql+psycopg://hpopt:{SECRET}@127.0.0.1:1/hpopt"])
    err = capsys.readouterr().err
    assert code == 2 and "127.0.0.1" in err and SECRET not in err


# -- hpopt storage upgrade -----------------------------------------------------------------------------
def test_storage_upgrade_with_the_server_down_is_one_line(capsys) -> None:
    """Was an uncaught psycopg.OperationalError (a traceback, exit code 1)."""
    pytest.importorskip("psycopg")
    code = cli_main(["storage", "upgrade", DOWN.replace("hpopt@", f"hpopt:{SECRET}@")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot connect" in err and SECRET not in err


def test_storage_upgrade_of_a_folder_is_one_line(tmp_path, capsys) -> None:
    """Was an uncaught sqlite3.OperationalError ("unable to open database file")."""
    (tmp_path / "d.db").mkdir()
    code = cli_main(["storage", "upgrade", f"sqlite:///{tmp_path}/d.db"])
    assert code == 2 and "folder" in capsys.readouterr().err


def test_storage_upgrade_does_not_print_the_password(fresh_db, capsys) -> None:
    hpopt.create_study(storage=fresh_db).storage.close()  # a store to upgrade (its tables)
    code = cli_main(["storage", "upgrade", _with_password(fresh_db)])
    out = capsys.readouterr().out
    assert code == 0 and "schema version" in out and SECRET not in out


def test_storage_upgrade_of_a_meta_table_without_version_names_the_problem(fresh_db) -> None:
    import psycopg

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE hpopt_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    with pytest.raises(hpopt.StorageError, match="no hpopt storage"):  # was TypeError: 'NoneType' ...
        upgrade_storage(fresh_db)


# -- the study commands only read; a read-only connection can read ---------------------------------------
def test_study_commands_create_no_tables_in_a_database_without_hpopt(fresh_db, capsys) -> None:
    """`hpopt studies` on a database that is not an hpopt store (a typo in the database name) created
    hpopt's three tables in it."""
    import psycopg

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE app_users (id INT)")
    for argv in (["studies"], ["trials"], ["best"]):
        code = cli_main([*argv, "--storage", fresh_db])
        assert code == 2 and "no hpopt storage" in capsys.readouterr().err
    assert _tables(fresh_db) == ["app_users"]


def test_a_read_only_connection_reads_a_store(fresh_db, capsys) -> None:
    """Opening ran CREATE TABLE IF NOT EXISTS, which a read-only transaction (or a role without
    CREATE, or a replica) refuses even for existing tables: nothing could be read."""
    study = hpopt.create_study(study_name="s", storage=fresh_db, sampler="random", seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    ro = fresh_db + ("&" if "?" in fresh_db else "?") + "options=-c%20default_transaction_read_only%3Don"
    seen = hpopt.load_study("s", ro)
    assert [t.value for t in seen.trials] == [t.value for t in study.trials]
    assert cli_main(["trials", "--storage", ro, "--format", "csv"]) == 0
    assert capsys.readouterr().out.count("COMPLETE") == 3
    with pytest.raises(hpopt.StorageError, match="read-only"):  # a write: an hpopt error, not psycopg's
        seen.ask()


# -- a server restart during a write ----------------------------------------------------------------------
def test_a_reconnection_that_fails_at_first_is_retried(pg_url, monkeypatch) -> None:
    """The connection drops and the server refuses new ones for a moment (a restart, a fail-over):
    the write was retried only while reconnecting succeeded, so tell and reads raised StorageError."""
    import psycopg

    study = hpopt.create_study(study_name=f"a4-{uuid.uuid4().hex[:10]}", storage=pg_url, seed=0)
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    refusals = []
    real_connect = psycopg.connect

    def connect(*args, **kwargs):
        if len(refusals) < 2:
            refusals.append(1)
            raise psycopg.OperationalError("simulated: the database system is starting up")
        return real_connect(*args, **kwargs)

    def drop_connection():
        with real_connect(pg_url, autocommit=True) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

    drop_connection()
    monkeypatch.setattr(psycopg, "connect", connect)
    study.tell(trial, 0.5)
    assert len(refusals) == 2
    refusals.clear()
    drop_connection()
    assert [t.value for t in study.trials] == [0.5]  # a read retries as well
    monkeypatch.undo()
    (stored,) = hpopt.load_study(study.study_name, pg_url).trials
    assert stored.state is hpopt.TrialState.COMPLETE and stored.value == 0.5


# -- heartbeat settings agree even when workers start at once -------------------------------------------
def _race(tmp_path, monkeypatch, meanwhile):
    """A study and two storage objects on it, ``a`` and ``b``: ``meanwhile(a)`` runs once, between
    worker B's read of the study's settings and its write. Returns (url, b)."""
    url = f"sqlite:///{tmp_path}/g.db"
    hpopt.create_study(study_name="s", storage=url)
    a, b = open_storage(url), open_storage(url)
    real = Storage.study_attrs
    raced = []

    def study_attrs(self, sid, kind):
        out = real(self, sid, kind)
        if self is b and kind == "sys" and not raced:
            raced.append(1)
            meanwhile(a)
        return out

    monkeypatch.setattr(Storage, "study_attrs", study_attrs)
    return url, b


def test_workers_racing_to_store_the_grace_period_agree(tmp_path, monkeypatch) -> None:
    """Worker B read the study's settings, worker A stored grace_period=2, then B stored 100 over it
    and both went on, each believing its own value (B's trials would be reaped after 2 s)."""
    url, b = _race(tmp_path, monkeypatch, lambda a: hpopt.create_study(
        study_name="s", storage=a, load_if_exists=True, heartbeat_interval=1, grace_period=2))
    with pytest.raises(ValueError, match="grace_period=2.0"):
        hpopt.create_study(study_name="s", storage=b, load_if_exists=True, heartbeat_interval=50,
                           grace_period=100)
    monkeypatch.undo()
    assert hpopt.load_study("s", url).system_attrs["hpopt.grace_period"] == 2.0


def test_a_worker_without_grace_period_adopts_the_one_stored_meanwhile(tmp_path, monkeypatch) -> None:
    url, b = _race(tmp_path, monkeypatch, lambda a: hpopt.create_study(
        study_name="s", storage=a, load_if_exists=True, grace_period=30))
    hpopt.create_study(study_name="s", storage=b, load_if_exists=True, heartbeat_interval=5)
    monkeypatch.undo()
    assert hpopt.load_study("s", url).system_attrs["hpopt.grace_period"] == 30.0


def test_a_connect_timeout_in_the_url_is_honoured(monkeypatch) -> None:
    """hpopt passed connect_timeout=30 as a keyword, which overrides the URL's own value in libpq's
    connection string: '?connect_timeout=5' was silently replaced by 30."""
    psycopg = pytest.importorskip("psycopg")
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    seen = []

    def connect(conninfo, *, autocommit=False, **kwargs):  # the rest go into the connection string
        seen.append(conninfo_to_dict(make_conninfo(conninfo, **kwargs)))
        raise psycopg.OperationalError("simulated: unreachable")

    monkeypatch.setattr(psycopg, "connect", connect)
    with pytest.raises(hpopt.StorageError):
        hpopt.create_study(storage="postgresql://hpopt@db.example/studies?connect_timeout=5")
    with pytest.raises(hpopt.StorageError):
        hpopt.create_study(storage="postgresql://hpopt@db.example/studies")
    assert [s["connect_timeout"] for s in seen] == ["5", "30"]  # a default only when none is given


@pytest.mark.parametrize(("name", "error"), [(123, TypeError), (None, TypeError), (["a"], TypeError),
                                             ("", ValueError)])
def test_delete_study_checks_the_name_as_load_study_does(name, error) -> None:
    """delete_study(123) said "no study named 123", delete_study(['a']) "unhashable type: 'list'"."""
    store = Storage(MemoryBackend())
    with pytest.raises(error, match="study name"):
        hpopt.delete_study(name, store)
    with pytest.raises(error, match="study name"):
        hpopt.load_study(name, store)
