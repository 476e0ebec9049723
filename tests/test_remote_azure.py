"""The object-storage store on Azure Blob Storage (``az://``) through the same code as ``s3://`` (fsspec;
adlfs here): Azurite, Microsoft's emulator (``npm install azurite``), on 127.0.0.1. Skipped when adlfs or
the ``azurite-blob`` command (on PATH, or named by $AZURITE_BLOB) is absent. fake-gcs-server, the GCS
emulator, is a Go binary with no PyPI or npm package, so ``gs://`` is not tested here (same code path)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from datetime import date
from pathlib import Path

import pytest

from conftest import run_cli
from test_remote_reads import WEEK, spread_log, week_bytes

pytest.importorskip("adlfs")
AZURITE = os.environ.get("AZURITE_BLOB") or shutil.which("azurite-blob")
if not AZURITE:
    pytest.skip("azurite-blob is not installed (npm install azurite)", allow_module_level=True)

# Azurite's documented development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite)
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A running Azurite blob service; its connection string."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen(
        [
            AZURITE,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(data),
            "--silent",
            "--skipApiVersionCheck",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as conn:
            if conn.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.skip("azurite-blob did not start")
    yield (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )
    proc.kill()  # its data is a temporary folder: no need for a clean shutdown
    proc.wait(timeout=10)


@pytest.fixture
def container(azurite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    import fsspec

    name = f"tm-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("az", skip_instance_cache=True).mkdir(name)
    url = f"az://{name}/usage-store"
    monkeypatch.setenv("TOKMETER_STORE", url)
    return url


def test_a_store_on_azure_reads_in_place_and_folds_its_ledger(container: str, tmp_path: Path) -> None:
    from tokmeter.ingest.pipeline import run_ingest
    from tokmeter.report.queries import Filters, build_report
    from tokmeter.store.backends import open_store
    from tokmeter.store.local import Store
    from tokmeter.store.objects import Bucket
    from tokmeter.store.remote import RemoteStore
    from tokmeter.store.remote_ledger import FOLDS, RemoteLedger

    logs = [
        spread_log(tmp_path / f"in{n}.jsonl", ids) for n, ids in enumerate((range(0, 500), range(300, 800)))
    ]
    for n, log in enumerate(logs):
        run_ingest([log], open_store(container, ingester=f"gw-{n}"))
    local = Store(tmp_path / "local")
    run_ingest(logs, local)

    filters = Filters(since=WEEK[0], until=WEEK[1])
    fresh = RemoteStore(container, cache=tmp_path / "fresh-host")
    got = build_report(fresh, ["model", "day"], filters, use_rollups=False)
    want = build_report(local, ["model", "day"], filters, use_rollups=False)
    assert got.rows.equals(want.rows) and got.totals.equals(want.totals)
    assert 0 < fresh.bucket.bytes_read <= 2 * week_bytes(container, *WEEK)

    assert RemoteLedger(Bucket(container), tmp_path / "folds").fold(at=2) == 2
    assert all(o.key.startswith(FOLDS) for o in Bucket(container).list("ledger/"))
    done = run_cli("verify")  # a subprocess, as users run it
    assert done.returncode == 0 and "ok: every part matches the ledger" in done.stdout, done.stderr
    everything = build_report(open_store(container, ingester="r"), ["user"], Filters(), use_rollups=False)
    assert everything.totals.equals(build_report(local, ["user"], Filters(), use_rollups=False).totals)
    assert everything.totals["requests"][0] == 800 and date(2026, 11, 1) <= WEEK[0]
