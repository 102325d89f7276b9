"""The warehouse hook owns the connection (issue 27): its transactions (with the object's lock),
streams, COPY in and out, savepoints, autocommit sessions and error names, against PostgreSQL;
and the two users that hold a session for long, the push ledger's pair and the shared limiter."""

from __future__ import annotations

import io

import pytest

from crm_reconciliation.hooks.warehouse import (
    DataError,
    InvalidSchemaName,
    UndefinedTable,
    WarehouseError,
    WarehouseHook,
)

pytestmark = pytest.mark.integration

TABLE = "create schema staging; create table staging.notes (id integer primary key, note text)"
LOCK_FREE = "select pg_try_advisory_xact_lock(hashtext('crm_reconciliation'), hashtext(%s))"


def ids(db) -> list[int]:
    return [row[0] for row in db.execute("select id from staging.notes order by id")]


@pytest.fixture
def notes(db):
    db.execute(TABLE)
    return db


def test_a_transaction_commits_when_its_block_ends_and_rolls_back_when_it_raises(notes):
    hook = WarehouseHook()
    with hook.transaction() as session:
        session.execute("insert into staging.notes values (%(id)s, 'kept')", {"id": 1})
        assert ids(notes) == []  # not before the block ends
    assert ids(notes) == [1]

    def fail_midway() -> None:
        with hook.transaction() as session:
            session.execute("insert into staging.notes values (2, 'lost')")
            raise RuntimeError("midway")

    with pytest.raises(RuntimeError, match="midway"):
        fail_midway()
    assert ids(notes) == [1]


def test_a_transaction_with_a_lock_holds_the_object_until_it_ends(notes):
    with WarehouseHook().transaction(lock="companies") as session:
        assert notes.execute(LOCK_FREE, ["companies"]).fetchone() == (False,)
        assert notes.execute(LOCK_FREE, ["contacts"]).fetchone() == (True,)  # other objects are free
        assert session.script("select json_build_object('seen', 1)") == {"seen": 1}
    assert notes.execute(LOCK_FREE, ["companies"]).fetchone() == (True,)


def test_a_stream_reads_through_a_named_cursor_a_chunk_at_a_time(db):
    query = "select n, n * 2 as double from generate_series(1, %(last)s) as n"
    with WarehouseHook().transaction() as session:
        with session.stream(query, {"last": 250}, name="numbers", chunk_rows=100) as rows:
            assert rows.columns == ["n", "double"]
            assert session.execute("select name from pg_cursors").fetchall() == [("numbers",)]
            assert [len(chunk) for chunk in rows.chunks()] == [100, 100, 50]
        with session.stream(query, {"last": 3}, name="again") as rows:
            assert list(rows) == [(1, 2), (2, 4), (3, 6)]
        assert session.execute("select count(*) from pg_cursors").fetchone() == (0,)  # closed with the block

    def stream_outside_a_transaction() -> None:
        with WarehouseHook().autocommit_session() as session, session.stream(query, {"last": 3}):
            pass

    with pytest.raises(WarehouseError, match="transaction"):  # a named cursor ends with its transaction
        stream_outside_a_transaction()


def test_copy_in_from_a_file_or_chunks_and_copy_out_into_a_file(notes):
    copy_in = "copy staging.notes (id, note) from stdin (format csv)"
    with WarehouseHook().transaction() as session:
        assert session.copy_in(copy_in, io.BytesIO(b"1,one\n2,two\n"), chunk_bytes=3) == 2
        assert session.copy_in(copy_in, io.StringIO("3,three\n")) == 1
        assert session.copy_in(copy_in, iter([b"4,fo", b"", b"ur\n5,five\n"])) == 2
        target = io.BytesIO()
        query = "copy (select id, note from staging.notes where id > %(above)s order by id) to stdout (format csv)"
        session.copy_out(query, target, {"above": 3})
    assert target.getvalue() == b"4,four\n5,five\n"
    assert ids(notes) == [1, 2, 3, 4, 5]


def test_an_error_while_feeding_a_copy_aborts_it(notes):
    def chunks():
        yield b"1,one\n"
        raise OSError("the file went away")

    with pytest.raises(OSError, match="went away"), WarehouseHook().transaction() as session:
        session.copy_in("copy staging.notes (id, note) from stdin (format csv)", chunks())
    assert ids(notes) == []


def test_a_savepoint_undoes_its_block_alone_on_error_or_on_purpose(notes):
    reached = []

    def insert_then_fail(session) -> None:
        with session.savepoint():
            session.execute("insert into staging.notes values (2, 'undone by the error')")
            session.execute("select * from staging.missing")

    with WarehouseHook().transaction() as session:
        session.execute("insert into staging.notes values (1, 'before')")
        with pytest.raises(UndefinedTable):
            insert_then_fail(session)
        with session.savepoint("on_purpose") as savepoint:
            session.execute("insert into staging.notes values (3, 'undone on purpose')")
            savepoint.rollback()
            reached.append("after rollback")  # never: rollback leaves the block
        with session.savepoint():
            session.execute("insert into staging.notes values (4, 'kept')")
    assert reached == []
    assert ids(notes) == [1, 4]


def test_an_autocommit_session_commits_each_statement_and_closes(notes):
    with WarehouseHook().autocommit_session() as session:
        session.execute("insert into staging.notes values (1, 'at once')")
        assert ids(notes) == [1]
        with pytest.raises(DataError):
            session.execute("select 'x'::integer")
        assert session.execute("select 1").fetchone() == (1,)  # still usable: nothing to roll back
    with pytest.raises(WarehouseError):
        session.execute("select 1")


def test_the_database_errors_have_the_hooks_names(db):
    hook = WarehouseHook()
    assert hook.errors.UndefinedTable is UndefinedTable
    with pytest.raises(InvalidSchemaName) as missing_schema:
        hook.run_script("create table staging.notes (id integer)")
    assert isinstance(missing_schema.value, WarehouseError)
    assert missing_schema.value.diag.message_primary == 'schema "staging" does not exist'
    with pytest.raises(hook.errors.UndefinedTable):
        hook.run_script("select * from staging.notes")


def test_the_push_ledger_reads_under_the_lock_while_its_writer_commits_each_batch(notes):
    from crm_reconciliation.push.service import ledger_connections

    with ledger_connections(WarehouseHook(), "companies") as (reader, writer):
        assert notes.execute(LOCK_FREE, ["companies"]).fetchone() == (False,)
        with reader.stream("select n from generate_series(1, 3) as n", name="selection") as rows:
            for (n,) in rows:
                writer.execute("insert into staging.notes values (%s, 'sent')", [n])
                assert ids(notes)[-1] == n  # recorded before the next is read
    assert notes.execute(LOCK_FREE, ["companies"]).fetchone() == (True,)


def test_the_shared_limiter_books_pauses_and_notes_the_quota_through_its_own_session(db):
    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.push.errors import DailyLimitReached
    from crm_reconciliation.push.limiter import SharedLimiter
    from tests.helpers import create_staging

    class Waited(Exception):
        pass

    def sleep(seconds: float) -> None:
        raise Waited(seconds)

    create_staging(db, default_registry().get("companies"))
    limiter = SharedLimiter(WarehouseHook().autocommit_session, "app", 2, 60.0, daily_reserve=10, sleep=sleep)
    try:
        assert [limiter.acquire(), limiter.acquire()] == [0.0, 0.0]
        with pytest.raises(Waited) as waited:  # the third in the window waits for the first to leave it
            limiter.acquire()
        assert 59 < waited.value.args[0] <= 60
        limiter.pause(30)
        paused = db.execute("select paused_until - clock_timestamp() from staging.api_limits where app_key = 'app'")
        assert 29 < paused.fetchone()[0].total_seconds() <= 30
        limiter.note_daily(10)
        with pytest.raises(DailyLimitReached, match="reserve 10"):
            limiter.acquire()
        assert db.execute("select daily_remaining from staging.api_limits").fetchone() == (10,)
    finally:
        limiter.close()
    assert db.execute("select count(*) from staging.api_requests where app_key = 'app'").fetchone() == (2,)


def test_a_booking_that_waited_for_the_lock_is_booked_when_it_got_it(db):
    """Issue 28: the limiter reads the database's clock once it holds the app's lock. Read before,
    a booking that waited carried the moment it began to wait, and was counted in a window it was
    not made in (14 to 16 of 10 made within one window, six pushes at once)."""
    import threading

    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.push.limiter import SharedLimiter
    from tests.helpers import create_staging

    create_staging(db, default_registry().get("companies"))
    limiter = SharedLimiter(WarehouseHook().autocommit_session, "contended", 10, 1.0)
    with WarehouseHook().transaction() as holder:
        # Another push holding the app's lock (staging.crm_book_request's key) for 300 ms.
        holder.execute("select pg_advisory_xact_lock(hashtextextended('crm_rate_limit contended', 0))")
        booking = threading.Thread(target=limiter.acquire)
        booking.start()
        booking.join(timeout=0.3)
        assert booking.is_alive()  # it waits for the lock
        (released,) = holder.execute("select clock_timestamp()").fetchone()
    booking.join(timeout=30)
    limiter.close()
    (booked,) = db.execute("select started_at from staging.api_requests where app_key = 'contended'").fetchone()
    assert booked >= released
