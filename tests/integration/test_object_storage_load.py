"""Exports read from object storage (issue 28): ``bronze_dir`` as an ``s3://`` URL served by moto's S3
server on 127.0.0.1, or a ``file://`` URL, gives the same load as the local folder.

The Airflow connection is named in the URL (``s3://<connection id>@bucket/prefix``) and defined
the way a deployment defines one, as ``AIRFLOW_CONN_<ID>`` JSON (type ``aws``, ``endpoint_url``).
"""

from __future__ import annotations

import codecs
import json
import socket
from datetime import UTC, datetime

import boto3
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException
from moto.server import ThreadedMotoServer

from crm_reconciliation.config.paths import INCLUDE_DIR, PROJECT_ROOT
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.hooks.warehouse import WarehouseHook
from crm_reconciliation.load.dialect import BronzeFileError
from crm_reconciliation.load.loader import BronzeLoader
from crm_reconciliation.load.source import open_export
from crm_reconciliation.operators.bronze_load import BronzeLoadOperator
from crm_reconciliation_dev.demo_mirror import load_demo_mirror
from tests.helpers import create_staging

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
SAMPLE_DIR = INCLUDE_DIR / "bronze_layer"
CONN_ID = "crm_exports_s3"  # no other test names it: Airflow keeps one store per connection id per process
BUCKET = "legacy-exports"
PREFIX = "sage/nightly"
URL = f"s3://{CONN_ID}@{BUCKET}/{PREFIX}"
BACKFILL_DATE = "2026-03-01"
ADDED_ROW = "777777,Ajoutée le 1er mars SAS,,,,,,,,,,,,,,,,,,\r\n"
COUNTS = ("rows_read", "rows_loaded", "rows_rejected", "rows_deleted")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def store():
    """moto's S3 server on 127.0.0.1, a bucket holding the sample exports under PREFIX and a dated
    sub-folder for BACKFILL_DATE (the companies export with one row more), the connection CONN_ID."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # nothing but 127.0.0.1
        patch.setenv(
            f"AIRFLOW_CONN_{CONN_ID.upper()}",
            json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
                }
            ),
        )
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=BUCKET)
        for spec in REGISTRY.objects.values():
            client.put_object(
                Bucket=BUCKET, Key=f"{PREFIX}/{spec.csv_file}", Body=(SAMPLE_DIR / spec.csv_file).read_bytes()
            )
        dated = (SAMPLE_DIR / "Bronze_Company.csv").read_bytes() + ADDED_ROW.encode()
        client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{BACKFILL_DATE}/Bronze_Company.csv", Body=dated)
        try:
            yield client
        finally:
            server.stop()


def _context(run_id: str, day: str = "2026-04-02") -> dict:
    return {"logical_date": datetime.fromisoformat(day).replace(hour=1, tzinfo=UTC), "run_id": run_id, "dag_run": None}


def _load(db, name: str, bronze_dir: str, day: str = "2026-04-02") -> tuple[dict, list, list]:
    """The operator's returned counts, the bronze table and the rejects (without the file's name)."""
    spec = REGISTRY.get(name)
    operator = BronzeLoadOperator(task_id="load_bronze", object_type=name, bronze_dir=bronze_dir, limit=None)
    returned = operator.execute(_context(f"load_{name}", day))
    table = db.execute(f"select * from bronze.{spec.bronze_table} order by _source_line").fetchall()
    columns = [column.name for column in db.execute(f"select * from bronze.{spec.bronze_table} limit 0").description]
    kept = [index for index, column in enumerate(columns) if column not in ("_source_file", "_run_id")]
    rejects = db.execute(
        "select line_number, field, reason, raw_text, outcome from staging.bronze_rejects"
        " where object_type = %s order by line_number, reason",
        (name,),
    ).fetchall()
    return returned, [tuple(row[index] for index in kept) for row in table], rejects


@pytest.mark.parametrize("name", list(REGISTRY.objects))
def test_an_s3_export_loads_as_the_local_folder_does(db, store, name):
    spec = REGISTRY.get(name)
    create_staging(db, spec)
    local, local_table, local_rejects = _load(db, name, str(SAMPLE_DIR))
    create_staging(db, spec)
    db.execute(f"truncate bronze.{spec.bronze_table}")
    db.execute("delete from staging.bronze_rejects")
    remote, remote_table, remote_rejects = _load(db, name, URL)

    assert remote["source_file"] == f"{URL}/{spec.csv_file}"
    assert {key: remote[key] for key in (*COUNTS, "method")} == {key: local[key] for key in (*COUNTS, "method")}
    assert remote["rows_read"] > 0
    assert remote_table == local_table
    assert remote_rejects == local_rejects
    sources = {row[0] for row in db.execute(f"select distinct _source_file from bronze.{spec.bronze_table}")}
    assert sources == {f"{URL}/{spec.csv_file}"}


def test_a_file_url_loads_as_the_local_folder_does(db, tmp_path):
    create_staging(db, REGISTRY.get("companies"))
    local, local_table, local_rejects = _load(db, "companies", str(SAMPLE_DIR))
    db.execute("truncate bronze.company")
    db.execute("delete from staging.bronze_rejects")
    remote, remote_table, remote_rejects = _load(db, "companies", f"file://{SAMPLE_DIR}")
    assert remote["source_file"] == f"file://{SAMPLE_DIR}/Bronze_Company.csv"
    assert {key: remote[key] for key in COUNTS} == {key: local[key] for key in COUNTS}
    assert (remote_table, remote_rejects) == (local_table, local_rejects)


def test_a_backfill_reads_the_dated_prefix(db, store):
    create_staging(db, REGISTRY.get("companies"))
    base, _, _ = _load(db, "companies", URL, day="2026-03-02")
    backfill, _, _ = _load(db, "companies", URL, day=BACKFILL_DATE)
    assert base["source_file"] == f"{URL}/Bronze_Company.csv"
    assert backfill["source_file"] == f"{URL}/{BACKFILL_DATE}/Bronze_Company.csv"
    assert backfill["snapshot_date"] == BACKFILL_DATE
    assert backfill["rows_read"] == base["rows_read"] + 1
    assert backfill["rows_loaded"] == base["rows_loaded"] + 1
    ids = {row[0] for row in db.execute("select comp_companyid from bronze.company")}
    assert "777777" in ids


def test_a_missing_key_fails_naming_the_url(db, store):
    """Like a missing local file: said with its URL, retryable (an export may arrive late)."""
    create_staging(db, REGISTRY.get("companies"))
    operator = BronzeLoadOperator(
        task_id="load_bronze", object_type="companies", bronze_dir=f"{URL}/not-yet", limit=None
    )
    with pytest.raises(BronzeFileError) as error:
        operator.execute(_context("missing_key"))
    assert str(error.value) == f"{URL}/not-yet/Bronze_Company.csv: file not found"
    assert error.value.retryable
    logged = db.execute(
        "select outcome, message from staging.reconciliation_log where run_id = 'missing_key' and step = 'load_bronze'"
    ).fetchone()
    assert logged[0] == "failed"
    assert f"{URL}/not-yet/Bronze_Company.csv" in logged[1]


@pytest.mark.parametrize(
    ("bronze_dir", "message"),
    [
        (
            f"s3://{CONN_ID}@no-such-bucket/{PREFIX}",
            f"s3://{CONN_ID}@no-such-bucket/{PREFIX}/Bronze_Company.csv: bucket 'no-such-bucket' does not exist",
        ),
        (f"s3://undefined_conn@{BUCKET}/{PREFIX}", "Airflow connection 'undefined_conn' is not defined"),
        (f"s3://AKIA:secret@{BUCKET}/{PREFIX}", "s3://***@legacy-exports/sage/nightly: the part before '@' names"),
        (f"nosuch://{BUCKET}/{PREFIX}", "no installed Airflow provider reads nosuch:// URLs"),
    ],
    ids=["missing-bucket", "undefined-connection", "credentials-in-url", "unknown-scheme"],
)
def test_unreadable_urls_fail_without_retry(db, store, bronze_dir, message):
    create_staging(db, REGISTRY.get("companies"))
    operator = BronzeLoadOperator(task_id="load_bronze", object_type="companies", bronze_dir=bronze_dir, limit=None)
    with pytest.raises(AirflowFailException) as error:
        operator.execute(_context("bad_url"))
    assert message in str(error.value)
    assert "secret" not in str(error.value)


def test_folder_is_reported_as_a_folder(db, store):
    """A key that is a prefix of others (``<prefix>/Bronze_Company.csv/…``) is no file."""
    store.put_object(Bucket=BUCKET, Key="odd/Bronze_Company.csv/part-0", Body=b"x")
    create_staging(db, REGISTRY.get("companies"))
    operator = BronzeLoadOperator(
        task_id="load_bronze", object_type="companies", bronze_dir=f"s3://{CONN_ID}@{BUCKET}/odd", limit=None
    )
    with pytest.raises(AirflowFailException, match=r"odd/Bronze_Company\.csv: is a folder \(a prefix with objects"):
        operator.execute(_context("folder"))


HARD_FILES = {
    # UTF-16 with BOM: read as text, record by record
    "utf16": codecs.BOM_UTF16_LE
    + "Comp_CompanyId,Comp_Name,Comp_Deleted\r\n1,Société,\r\n2,Ünal,1\r\n".encode("utf-16-le"),
    # Excel's sep= line: COPY starts after a seek past it
    "excel-sep": b'\xef\xbb\xbf"sep=;"\r\nComp_CompanyId;Comp_Name;Comp_Deleted\r\n1;"a; b";\r\n2;c;\r\n',
    # quotes: COPY checked by a second reading in a thread; a bare quote sends it record by record
    "bare-quote": b'Comp_CompanyId,Comp_Name,Comp_Deleted\n1,5" et 7",\n2,"x\ny",\n3,"open,\n4,d,\n',
    # a Windows-1252 file with a UTF-8 line: read line by line
    "cp1252-utf8": "Comp_CompanyId,Comp_Name,Comp_Deleted\n1,Café,\n".encode("cp1252") + "2,Crème,\n".encode(),
    # many short lines, no quote: the streamed line reading must stay linear
    "many-lines": b"Comp_CompanyId,Comp_Name,Comp_Deleted\n"
    + b"".join(b"%d,n%d,\n" % (i, i) for i in range(1, 200_001)),
}


@pytest.mark.parametrize("kind", list(HARD_FILES))
def test_hard_files_read_the_same_from_s3(db, store, tmp_path, kind):
    spec = REGISTRY.get("companies")
    local = tmp_path / "Bronze_Company.csv"
    local.write_bytes(HARD_FILES[kind])
    key = f"hard/{kind}/Bronze_Company.csv"
    store.put_object(Bucket=BUCKET, Key=key, Body=HARD_FILES[kind])
    loader = BronzeLoader(WarehouseHook(), spec)
    results = []
    for path in (local, f"s3://{CONN_ID}@{BUCKET}/{key}"):
        create_staging(db, spec)
        db.execute("truncate bronze.company")
        db.execute("delete from staging.bronze_rejects")
        result = loader.load(path, snapshot_date=datetime(2026, 4, 2).date(), run_id=kind, max_reject_rate=1.0)
        table = db.execute(
            "select comp_companyid, comp_name, _is_deleted, _source_line from bronze.company order by _source_line"
        ).fetchall()
        rejected = db.execute(
            "select line_number, field, reason, raw_text, outcome from staging.bronze_rejects"
        ).fetchall()
        results.append(((result.encoding, result.method, *(result.counts.values())), table, sorted(rejected)))
    assert results[1] == results[0]
    assert results[0][0][2] > 0  # records were read


def test_an_object_is_streamed_not_downloaded(store):
    """Each open reads ranged blocks: the first line comes without the rest of a large object, and
    reading it through asks for each byte about once."""
    from crm_reconciliation.load.source import STREAM_BLOCK_BYTES, export_path

    size = 4 + 4 * STREAM_BLOCK_BYTES  # 32 MiB of short lines
    store.put_object(Bucket=BUCKET, Key="big/Bronze_Company.csv", Body=b"a,b\n" + b"1,2\n" * STREAM_BLOCK_BYTES)
    path = export_path(f"s3://{CONN_ID}@{BUCKET}/big/Bronze_Company.csv")
    with open_export(path) as handle:
        cache = handle.raw.handle.cache  # fsspec's read-ahead cache of the open object
        assert handle.readline() == b"a,b\n"
        assert cache.total_requested_bytes <= 2 * STREAM_BLOCK_BYTES
        assert sum(1 for _ in handle) == STREAM_BLOCK_BYTES
        assert cache.total_requested_bytes <= size + 2 * STREAM_BLOCK_BYTES


@pytest.fixture
def mirror(db):
    load_demo_mirror(db)
    return db


def test_a_dag_run_reads_its_export_from_s3(airflow_db, mirror, store):
    """The done-when of issue 28: a real run reads s3:// and counts what the local folder gives."""
    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags["crm_reconcile_companies"]
    counts = {}
    for bronze_dir in (str(SAMPLE_DIR), URL):
        run = dag.test(run_conf={"bronze_dir": bronze_dir})
        assert str(run.state) == "success"
        cursor = mirror.execute(
            "select rows_read, rows_loaded, rows_rejected, rows_deleted, source from staging.reconciliation_log"
            " where run_id = %s and step = 'load_bronze'",
            (run.run_id,),
        )
        *numbers, source = cursor.fetchone()
        counts[bronze_dir] = (tuple(numbers), source)
        staged = mirror.execute("select count(*) from staging.companies_reconciliation").fetchone()[0]
        counts[bronze_dir] += (staged,)
    local, remote = counts[str(SAMPLE_DIR)], counts[URL]
    assert remote[0] == local[0]
    assert remote[1] == f"{URL}/Bronze_Company.csv"
    assert remote[2] == local[2]


def test_an_unreachable_store_fails_naming_the_url_and_may_be_retried(db, monkeypatch):
    endpoint = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_EXPORTS_DOWN",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {
                    "endpoint_url": endpoint,
                    "region_name": "us-east-1",
                    "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
                },
            }
        ),
    )
    create_staging(db, REGISTRY.get("companies"))
    url = f"s3://crm_exports_down@{BUCKET}/{PREFIX}"
    operator = BronzeLoadOperator(task_id="load_bronze", object_type="companies", bronze_dir=url, limit=None)
    with pytest.raises(BronzeFileError, match="cannot list the store: Could not connect") as error:
        operator.execute(_context("down"))
    assert str(error.value).startswith(f"{url}/2026-04-02: ")
    assert error.value.retryable
