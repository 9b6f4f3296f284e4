"""One storage API over local folders and S3/MinIO, so sources and sinks never care which.

Writes are atomic: local files go to a temp file in the same folder and are renamed into place;
S3 objects are a single PUT (or a completed multipart upload), which S3 makes visible all at once.
Object-store calls are retried with bounded exponential backoff and jitter; errors a user can fix
(unreachable endpoint, wrong credentials, missing bucket) become `StorageError` with a one-line
message that never contains a secret.
"""

from __future__ import annotations

import errno
import glob as globlib
import io
import os
import random
import re
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable, NoReturn, TypeVar

import urllib3

from pipeline.config import S3Settings

T = TypeVar("T")
_GLOB_CHARS = set("*?[")


class StorageError(RuntimeError):
    """A storage failure with a message a user can act on (no secrets inside)."""


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    mtime: datetime  # UTC
    etag: str = ""

    @property
    def fingerprint(self) -> str:
        """Identity of this version of the object, for incremental-run ledgers."""
        return self.etag or f"{self.size}:{int(self.mtime.timestamp())}"


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def join(base: str, *parts: str) -> str:
    """Join path parts onto a local path or s3:// URI with '/'."""
    out = base.rstrip("/")
    for part in parts:
        out += "/" + part.strip("/")
    return out


def has_glob(pattern: str) -> bool:
    return any(c in _GLOB_CHARS for c in pattern)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob like the shell's: `*` and `?` stay within one path segment, `**` spans any."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape("["))
                i += 1
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
                i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class Storage:
    """Local-or-S3 file operations. Create with `Storage.for_uri(uri, settings)`."""

    def list(self, pattern: str) -> list[ObjectInfo]:
        raise NotImplementedError

    def stat(self, uri: str) -> ObjectInfo | None:
        raise NotImplementedError

    def read_bytes(self, uri: str, limit: int | None = None) -> bytes:
        """Read at most `limit` + 1 bytes, so callers can tell a too-large object apart."""
        raise NotImplementedError

    def read_if_exists(self, uri: str) -> bytes | None:
        """The object's bytes, or None if there is no object at `uri` (any more)."""
        raise NotImplementedError

    def open_read(self, uri: str, offset: int = 0) -> BinaryIO:
        """A stream of the object's bytes from `offset` on (byte ranges of large inputs); close it."""
        raise NotImplementedError

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write atomically: readers see the old object or the whole new one, never a part."""
        raise NotImplementedError

    def create_exclusive(self, uri: str, data: bytes) -> bool:
        """Write only if nothing exists at `uri`; True if this call created it (a lock primitive)."""
        raise NotImplementedError

    def delete(self, uri: str) -> None:
        raise NotImplementedError

    def move(self, src: str, dst: str) -> None:
        """Put the object at `src` in place at `dst` (staged run output at commit): readers of `dst` see
        nothing or the whole object. Locally a rename; on S3 a server-side copy, then the source is deleted."""
        raise NotImplementedError

    @staticmethod
    def for_uri(uri: str, settings: S3Settings | None = None) -> "Storage":
        if is_s3(uri):
            if settings is None:
                raise StorageError(f"{uri}: s3:// needs S3 settings (AWS_* environment or --config)")
            return S3Storage(settings)
        return LocalStorage()


def _raise_disk_error(path: Path, exc: OSError) -> NoReturn:
    """Re-raise a local write failure a user can fix as a one-line StorageError; others unchanged."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise StorageError(f"{path}: no space left on device ({exc.strerror}); free space and re-run") from exc
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        raise StorageError(f"{path}: cannot write ({exc.strerror}); check the output folder's permissions") from exc
    raise exc


class LocalStorage(Storage):
    def _path(self, uri: str) -> Path:
        return Path(uri[len("file://"):] if uri.startswith("file://") else uri)

    def list(self, pattern: str) -> list[ObjectInfo]:
        path = str(self._path(pattern))
        if os.path.isdir(path):
            path = os.path.join(path, "**", "*")
        matches = globlib.glob(path, recursive=True) if has_glob(path) else [path]
        infos = []
        for match in sorted(matches):
            info = self.stat(match)
            if info is not None and os.path.isfile(match):
                infos.append(info)
        return infos

    def stat(self, uri: str) -> ObjectInfo | None:
        try:
            st = os.stat(self._path(uri))
        except FileNotFoundError:
            return None
        return ObjectInfo(uri, st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc))

    def read_bytes(self, uri: str, limit: int | None = None) -> bytes:
        with open(self._path(uri), "rb") as fh:
            return fh.read() if limit is None else fh.read(limit + 1)

    def read_if_exists(self, uri: str) -> bytes | None:
        try:
            return self.read_bytes(uri)
        except FileNotFoundError:
            return None

    def open_read(self, uri: str, offset: int = 0) -> BinaryIO:
        fh = open(self._path(uri), "rb")
        fh.seek(offset)
        return fh

    def write_bytes(self, uri: str, data: bytes) -> None:
        path = self._path(uri)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            _raise_disk_error(path, exc)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            if isinstance(exc, OSError):
                _raise_disk_error(path, exc)
            raise

    def create_exclusive(self, uri: str, data: bytes) -> bool:
        path = self._path(uri)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            _raise_disk_error(path, exc)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except OSError as exc:  # a half-written claim would block the input: take it back
            path.unlink(missing_ok=True)
            _raise_disk_error(path, exc)
        return True

    def delete(self, uri: str) -> None:
        try:
            os.unlink(self._path(uri))
        except FileNotFoundError:
            pass

    def move(self, src: str, dst: str) -> None:
        target = self._path(dst)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._path(src), target)
        except OSError as exc:
            _raise_disk_error(target, exc)


class S3Storage(Storage):
    """S3/MinIO through the minio client, with bounded retries on transient failures."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self._client = None

    def __getstate__(self) -> dict:
        # The client holds sockets; workers build their own.
        return {"settings": self.settings, "_client": None}

    @property
    def client(self):  # type: ignore[no-untyped-def]
        if self._client is None:
            from minio import Minio

            endpoint = self.settings.endpoint or "https://s3.amazonaws.com"
            parsed = urllib.parse.urlparse(endpoint if "://" in endpoint else "https://" + endpoint)
            if not self.settings.access_key or not self.settings.secret_key:
                raise StorageError(
                    "S3 output needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                )
            # Our own retry loop (_call) owns retries; the client's own would multiply them.
            http = urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=5.0, read=120.0),
                retries=urllib3.Retry(total=0, redirect=0, raise_on_status=False),
                maxsize=16,
            )
            self._client = Minio(
                parsed.netloc,
                http_client=http,
                access_key=self.settings.access_key,
                secret_key=self.settings.secret_key,
                secure=parsed.scheme == "https",
                region=self.settings.region or None,
            )
        return self._client

    def _call(self, what: str, uri: str, fn: Callable[[], T]) -> T:
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError as Urllib3Error

        attempts = max(1, self.settings.retries)
        for attempt in range(1, attempts + 1):
            try:
                return fn()
            except ValueError as exc:  # the client's own argument checks, e.g. an invalid bucket name
                raise StorageError(f"{uri}: {exc}") from None
            except S3Error as exc:
                if exc.code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                    raise StorageError(
                        f"{uri}: access denied ({exc.code}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
                    ) from None
                if exc.code == "NoSuchBucket":
                    raise StorageError(f"{uri}: bucket does not exist; create it first") from None
                if exc.code in ("NoSuchKey", "PreconditionFailed"):
                    raise
                if attempt == attempts:
                    raise StorageError(f"{uri}: {what} failed: {exc.code}") from None
            except (Urllib3Error, OSError) as exc:
                if attempt == attempts:
                    endpoint = self.settings.endpoint or "the S3 endpoint"
                    raise StorageError(
                        f"{uri}: cannot reach {endpoint} after {attempts} attempts ({type(exc).__name__}); "
                        "is the server running and AWS_ENDPOINT_URL right?"
                    ) from None
            delay = self.settings.backoff_seconds * (2 ** (attempt - 1))
            time.sleep(min(30.0, delay) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def list(self, pattern: str) -> list[ObjectInfo]:
        bucket, key = split_s3(pattern)
        cut = min((key.index(c) for c in _GLOB_CHARS if c in key), default=len(key))
        prefix = key[:cut]
        if cut == len(key):  # no wildcard: exact object, or everything under a "folder"
            exact = self.stat(pattern)
            if exact is not None:
                return [exact]
            prefix = key.rstrip("/") + "/" if key else ""
            key = prefix + "**"

        matcher = glob_regex(key)

        def run() -> list[ObjectInfo]:
            out = []
            for obj in self.client.list_objects(bucket, prefix=prefix, recursive=True):
                if obj.is_dir or not matcher.match(obj.object_name):
                    continue
                out.append(
                    ObjectInfo(
                        f"s3://{bucket}/{obj.object_name}",
                        obj.size or 0,
                        obj.last_modified or datetime.now(timezone.utc),
                        (obj.etag or "").strip('"'),
                    )
                )
            return sorted(out, key=lambda o: o.uri)

        return self._call("list", pattern, run)

    def stat(self, uri: str) -> ObjectInfo | None:
        from minio.error import S3Error

        bucket, key = split_s3(uri)
        if not key:
            return None
        try:
            st = self._call("stat", uri, lambda: self.client.stat_object(bucket, key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return None
            raise
        return ObjectInfo(uri, st.size or 0, st.last_modified or datetime.now(timezone.utc), (st.etag or "").strip('"'))

    def read_bytes(self, uri: str, limit: int | None = None) -> bytes:
        bucket, key = split_s3(uri)

        def run() -> bytes:
            kwargs = {"length": limit + 1} if limit is not None else {}
            resp = self.client.get_object(bucket, key, **kwargs)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

        return self._call("read", uri, run)

    def read_if_exists(self, uri: str) -> bytes | None:
        from minio.error import S3Error

        try:
            return self.read_bytes(uri)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                return None
            raise

    def open_read(self, uri: str, offset: int = 0) -> BinaryIO:
        bucket, key = split_s3(uri)
        # One ranged GET streamed as it is read; a failure mid-stream is a StorageError (the runner retries).
        resp = self._call("read", uri, lambda: self.client.get_object(bucket, key, offset=offset))
        return _S3Stream(resp, uri)

    def write_bytes(self, uri: str, data: bytes) -> None:
        bucket, key = split_s3(uri)
        self._call(
            "write", uri, lambda: self.client.put_object(bucket, key, io.BytesIO(data), len(data))
        )

    def create_exclusive(self, uri: str, data: bytes) -> bool:
        from minio.error import S3Error

        bucket, key = split_s3(uri)
        try:
            # If-None-Match: * makes the PUT conditional: S3 and MinIO refuse it when the key exists.
            # minio-py's public put_object would turn the header into user metadata, so this uses
            # its single-PUT primitive (pinned minio version; covered by the MinIO tests).
            self._call(
                "create",
                uri,
                lambda: self.client._put_object(
                    bucket, key, data, headers={"If-None-Match": "*", "Content-Length": str(len(data))}
                ),
            )
        except S3Error as exc:
            if exc.code == "PreconditionFailed":
                return False
            raise
        return True

    def delete(self, uri: str) -> None:
        bucket, key = split_s3(uri)
        self._call("delete", uri, lambda: self.client.remove_object(bucket, key))

    def move(self, src: str, dst: str) -> None:
        from minio.commonconfig import CopySource

        (src_bucket, src_key), (bucket, key) = split_s3(src), split_s3(dst)
        self._call("copy", dst, lambda: self.client.copy_object(bucket, key, CopySource(src_bucket, src_key)))
        self.delete(src)

    def ensure_bucket(self, uri: str) -> None:
        bucket, _ = split_s3(uri)
        if not self._call("check bucket", uri, lambda: self.client.bucket_exists(bucket)):
            raise StorageError(f"{uri}: bucket '{bucket}' does not exist; create it first (mc mb or the console)")



class _S3Stream(io.RawIOBase):
    """An S3 GET response as a readable binary stream that releases its connection on close."""

    def __init__(self, resp, uri: str) -> None:  # type: ignore[no-untyped-def]
        self._resp = resp
        self._uri = uri

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            return self._resp.read(None if size is None or size < 0 else size)
        except (Urllib3Error, OSError) as exc:
            raise StorageError(f"{self._uri}: read failed mid-stream ({type(exc).__name__})") from None

    def close(self) -> None:
        if not self.closed:
            self._resp.close()
            self._resp.release_conn()
        super().close()
