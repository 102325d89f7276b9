"""Where an export's bytes come from: a local file, or an object in object storage.

``bronze_dir`` is a local folder or an object-storage URL read through Airflow's
``ObjectStoragePath``: ``s3://<connection id>@bucket/prefix`` (the Airflow connection before the
``@``, as Airflow writes it; without one, the store's default credentials), ``gs://…``,
``file:///…``. The loader and the dialect reader open an export only through ``open_export``;
each open streams the file from its start — a local file from disk, an object by ranged reads of
``STREAM_BLOCK_BYTES`` — and never holds the whole file in memory.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
from pathlib import Path, PurePath
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    ExportPath = Path | ObjectStoragePath

# One ranged read of an object; an open object holds at most about this much (s3fs' default is 50 MiB).
STREAM_BLOCK_BYTES = 8 << 20
# io.BufferedReader's buffer over an object: lines are cut from it at C speed. fsspec's own
# readline reads a whole block per line, which is quadratic on a file of short lines.
_BUFFER_BYTES = 1 << 20
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")
_LOCAL_PROTOCOLS = ("file", "local")


class BronzeFileError(ValueError):
    """A problem with an input file, naming the file and, where known, the line and field.

    Only a missing file is worth retrying; a file with bad content gives the same result twice.
    """

    def __init__(
        self, path: Any, message: str, line: int | None = None, field: str | None = None, retryable: bool = False
    ):
        self.path, self.line, self.field, self.retryable = str(path), line, field, retryable
        where = self.path + (f", line {line}" if line else "") + (f", field {field}" if field else "")
        super().__init__(f"{where}: {message}")


def is_url(value: object) -> bool:
    """A string with a scheme (``s3://…``, ``file:///…``): read through object storage."""
    return isinstance(value, str) and bool(_URL.match(value))


def is_local(path: object) -> bool:
    return isinstance(path, PurePath)


def export_path(value: str | os.PathLike[str] | ObjectStoragePath) -> ExportPath:
    """The export at ``value``: a local ``Path``, or an ``ObjectStoragePath`` for a URL (kept as given)."""
    if not isinstance(value, (str, os.PathLike)):
        return value  # already an ObjectStoragePath (not os.PathLike)
    text = os.fspath(value)
    return object_path(text) if is_url(text) else Path(text)


def object_path(url: str) -> ObjectStoragePath:
    """``url`` as an ``ObjectStoragePath`` whose store can be reached in principle: a scheme no installed
    provider serves, an undefined connection or credentials written into the URL fail here, without retry."""
    from airflow.sdk import Connection, ObjectStoragePath
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.io import has_fs

    parts = urlsplit(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    if ":" in userinfo:  # never echo what may be a secret
        shown = f"{parts.scheme}://***@{host}{parts.path}"
        raise BronzeFileError(
            shown,
            "the part before '@' names an Airflow connection (s3://<connection id>@bucket/prefix); "
            "put the credentials in that connection, not in the URL",
        )
    if not has_fs(parts.scheme):
        raise BronzeFileError(
            url,
            f"no installed Airflow provider reads {parts.scheme}:// URLs: s3:// needs "
            "apache-airflow-providers-amazon[s3fs], gs:// apache-airflow-providers-google",
        )
    if userinfo:  # Amazon's hook would fall back to the default credentials for an undefined id
        try:
            Connection.get(userinfo)
        except AirflowNotFoundException as error:
            raise BronzeFileError(url, f"Airflow connection {userinfo!r} is not defined ({error})") from error
    path = ObjectStoragePath(url)
    try:
        fs = path.fs
    except ImportError as error:  # the provider is there, its filesystem library (s3fs, gcsfs) is not
        raise BronzeFileError(path, f"cannot read {parts.scheme}:// URLs: {error}") from error
    fs.invalidate_cache()  # listings cached by an earlier task in this process may be stale
    return path


def open_export(path: ExportPath, encoding: str | None = None, errors: str = "strict") -> IO:
    """Open the export from its start: binary, or text in ``encoding`` (newlines as they are)."""
    if is_local(path):
        return path.open("rb") if encoding is None else path.open(encoding=encoding, errors=errors, newline="")
    handle = io.BufferedReader(_ObjectReader(path.open("rb", block_size=STREAM_BLOCK_BYTES)), _BUFFER_BYTES)
    return handle if encoding is None else io.TextIOWrapper(handle, encoding=encoding, errors=errors, newline="")


class _ObjectReader(io.RawIOBase):
    """An open object (fsspec's file, read by ranged blocks) as a raw stream for ``io.BufferedReader``,
    which then cuts lines at C speed. fsspec's own ``readline`` reads a whole block per line, and a
    buffered reader over the object itself runs Python code for ``closed`` at every line: 8 million
    lines took 30 s that way, 4.2 s this way (moto in the same process; 0.65 s from a local file)."""

    def __init__(self, handle: Any):
        super().__init__()
        self.handle = handle

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.handle.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def close(self) -> None:
        if not self.closed:
            self.handle.close()
        super().close()


def check_export(path: ExportPath) -> None:
    """Raise the error that says why ``path`` cannot be read as an export, if it cannot."""
    if is_local(path):
        if not path.is_file():
            raise not_a_file(path)
        return
    if getattr(path, "protocol", None) in _LOCAL_PROTOCOLS:  # file://: the checks of a local path
        local = Path(path.path)
        if not local.is_file():
            raise not_a_file(local, shown=path)
        return
    try:
        if path.is_file():
            return
        if path.is_dir():
            raise BronzeFileError(path, "is a folder (a prefix with objects under it), not a file")
        bucket = path.bucket
        if bucket and not path.fs.exists(bucket):
            raise BronzeFileError(path, f"bucket {bucket!r} does not exist (or the connection cannot see it)")
    except PermissionError as error:
        raise BronzeFileError(path, f"the store refused access ({error}): check the connection's rights") from error
    raise BronzeFileError(path, "file not found", retryable=True)


# What a path that is not a regular file is, by the kind ``os.stat`` gives.
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def not_a_file(path: Path, shown: object = None) -> BronzeFileError:
    """Why the local ``path`` (``shown`` as given, a ``file://`` URL) cannot be read as an export. Only
    an absent file is worth a retry (the export may still be on its way); a folder, a pipe, a dangling
    link or a loop of links stays what it is."""
    shown = path if shown is None else shown
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            return BronzeFileError(shown, "is a loop of symbolic links, not a file")
        if path.is_symlink():
            return BronzeFileError(shown, f"is a symbolic link to {os.readlink(path)!r}, which does not exist")
        return BronzeFileError(shown, "file not found", retryable=True)
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return BronzeFileError(shown, f"is {kind}, not a file")
