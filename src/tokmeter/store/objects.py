"""Object storage: the few operations a remote store needs (list, get, put, delete), over ``fsspec``.

``s3://`` uses ``s3fs``, ``gs://`` ``gcsfs`` and ``az://`` / ``abfs://`` ``adlfs`` (the extras ``tokmeter[s3]``,
``[gcs]``, ``[azure]``). Credentials and endpoints come from each SDK's usual environment and config
files: for S3 ``AWS_ACCESS_KEY_ID`` / ``AWS_PROFILE`` / instance roles, and ``AWS_ENDPOINT_URL`` for an
S3-compatible server (MinIO, Ceph, R2); for GCS ``GOOGLE_APPLICATION_CREDENTIALS``; for Azure
``AZURE_STORAGE_ACCOUNT_NAME`` with a key, SAS or ``DefaultAzureCredential``.

Every object tokmeter writes is written whole by one PUT, so it is either fully there or absent; no
object is ever modified in place. Listings are never cached (other hosts write the same bucket).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError, StoreError

URL_PATTERN = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<rest>.+)$")
_PACKAGES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
}
_EXTRAS = {"s3fs": "s3", "gcsfs": "gcs", "adlfs": "azure"}


def is_url(location: str | Any) -> bool:
    return isinstance(location, str) and URL_PATTERN.match(location) is not None


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str  # relative to the bucket prefix, '/'-separated
    size: int
    modified: datetime | None = None  # the object store's own time of the PUT (None: not reported)


class Bucket:
    """A prefix in a bucket: ``Bucket("s3://my-bucket/tokmeter")``. Keys are relative to the prefix."""

    def __init__(self, url: str) -> None:
        match = URL_PATTERN.match(url)
        if match is None:
            raise ConfigError(f"{url!r} is not an object-storage URL", hint="e.g. s3://bucket/prefix")
        scheme = match["scheme"]
        self.url = url.rstrip("/")
        self.fs, self.prefix = _filesystem(scheme, self.url)
        self.prefix = self.prefix.rstrip("/")
        self.bytes_read = 0  # the bytes of the objects this Bucket has read (got or downloaded)
        self._count_lock = threading.Lock()  # downloads run in threads

    def __repr__(self) -> str:
        return f"Bucket({self.url!r})"

    def _path(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def _key(self, path: str) -> str:
        return path[len(self.prefix) + 1 :] if path.startswith(self.prefix + "/") else path

    def list(self, under: str) -> list[ObjectInfo]:
        """Every object below ``under`` (a key prefix ending in '/'), sorted by key."""
        self.fs.invalidate_cache()
        try:
            found = self.fs.find(self._path(under.rstrip("/")), detail=True)
        except FileNotFoundError:
            return []
        except Exception as exc:  # noqa: BLE001 - SDKs raise their own types (auth, network)
            raise _failed("list", self.url, under, exc) from None
        return sorted(
            (
                ObjectInfo(self._key(path), int(info.get("size") or 0), _modified(info))
                for path, info in found.items()
                if info.get("type", "file") == "file"
            ),
            key=lambda o: o.key,
        )

    def folders(self, under: str) -> tuple[str, ...]:
        """The names of the folders right below ``under`` (one listing, however many objects they hold)."""
        self.fs.invalidate_cache()
        try:
            found = self.fs.ls(self._path(under.rstrip("/")), detail=True)
        except FileNotFoundError:
            return ()
        except Exception as exc:  # noqa: BLE001 - SDKs raise their own types (auth, network)
            raise _failed("list", self.url, under, exc) from None
        return tuple(
            sorted(
                info["name"].rstrip("/").rsplit("/", 1)[-1]
                for info in found
                if info.get("type") == "directory"
            )
        )

    def get(self, key: str) -> bytes:
        """An object's bytes; ``FileNotFoundError`` when it is not there (deleted since it was listed)."""
        try:
            data = self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _failed("read", self.url, key, exc) from None
        self._count(len(data))
        return data

    def download(self, key: str, local: str) -> None:
        try:
            self.fs.get_file(self._path(key), local)
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _failed("read", self.url, key, exc) from None
        self._count(os.path.getsize(local))

    def _count(self, size: int) -> None:
        with self._count_lock:
            self.bytes_read += size

    def put(self, key: str, data: bytes) -> None:
        """Write one whole object (one PUT: readers see all of it or nothing)."""
        try:
            self.fs.pipe_file(self._path(key), data)
        except Exception as exc:  # noqa: BLE001
            raise _failed("write", self.url, key, exc) from None

    def delete(self, keys: Sequence[str]) -> None:  # (``list`` here is the method below)
        """Remove objects; ones already gone are fine (another compaction may have removed them)."""
        for key in keys:
            try:
                self.fs.rm_file(self._path(key))
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001
                raise _failed("delete", self.url, key, exc) from None


def _modified(info: dict[str, Any]) -> datetime | None:
    """The server's last-modified time from an fsspec listing entry (S3, GCS and Azure name it apart)."""
    for key in ("LastModified", "last_modified", "updated", "mtime"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _filesystem(scheme: str, url: str) -> tuple[Any, str]:
    package = _PACKAGES.get(scheme)
    if package is None:
        raise ConfigError(
            f"unsupported store URL scheme {scheme}://", hint="use a local directory, s3://, gs:// or az://"
        )
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(
            "s3://" + url.split("://", 1)[1] if scheme == "s3a" else url, skip_instance_cache=True
        )
    except ImportError:
        raise ConfigError(
            f"{scheme}:// stores need the {package} package",
            hint=f"pip install 'tokmeter[{_EXTRAS[package]}]'",
        ) from None
    except Exception as exc:  # noqa: BLE001 - bad credentials config and the like
        raise StoreError(
            f"cannot open {url}: {str(exc)[:200]}",
            hint="check the cloud SDK's credentials and endpoint settings",
        ) from None
    return fs, path


def _failed(action: str, url: str, key: str, exc: BaseException) -> StoreError:
    reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return StoreError(
        f"cannot {action} {url}/{key}: {reason}",
        hint="check credentials, the bucket name and the endpoint (AWS_ENDPOINT_URL for "
        "S3-compatible servers); nothing was committed past the last checkpoint",
    )
