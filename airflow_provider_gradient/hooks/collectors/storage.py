"""Where cluster logs are delivered: DBFS and UC Volumes (through ``DatabricksHook``), S3, ABFS.

Every store lists files under a URL and streams one file into a binary file object, so an event log is
copied to a temp folder chunk by chunk and never held whole in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import urlparse

if TYPE_CHECKING:
    from botocore.client import BaseClient

CHUNK = 1 << 20


class LogStore(Protocol):
    """Lists and streams files of one log destination."""

    def list_recursive(self, url: str) -> list[dict[str, Any]]:
        """Files under ``url``: ``[{path, is_dir, file_size, modification_time (ms)}]``."""
        ...

    def read_to(self, url: str, out: BinaryIO) -> int:
        """Stream one file into ``out``; return bytes written."""
        ...


class S3LogStore:
    """Cluster logs on S3 (credentials from an Airflow AWS connection).

    :param aws_conn_id: Airflow AWS connection id (None: boto3's default chain).
    :param region: bucket region.
    :param client: a ready boto3 S3 client (tests).
    """

    def __init__(
        self, aws_conn_id: str | None = "aws_default", region: str | None = None, client: BaseClient | None = None
    ) -> None:
        if client is None:
            from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

            client = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="s3", region_name=region).get_conn()
        self.client = client

    def list_recursive(self, url: str) -> list[dict[str, Any]]:
        u = urlparse(url)
        prefix = u.path.lstrip("/").rstrip("/") + "/"
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=u.netloc, Prefix=prefix):
            for obj in page.get("Contents") or []:
                out.append(
                    {
                        "path": f"s3://{u.netloc}/{obj['Key']}",
                        "is_dir": False,
                        "file_size": obj.get("Size", 0),
                        "modification_time": int(obj["LastModified"].timestamp() * 1000),
                    }
                )
        return out

    def read_to(self, url: str, out: BinaryIO) -> int:
        u = urlparse(url)
        body = self.client.get_object(Bucket=u.netloc, Key=u.path.lstrip("/"))["Body"]
        written = 0
        for chunk in body.iter_chunks(CHUNK):
            out.write(chunk)
            written += len(chunk)
        return written


class AbfsLogStore:
    """Cluster logs on ADLS Gen2 (``abfss://<container>@<account>.dfs.core.windows.net/<path>``).

    :param credential: an azure-identity credential (None: ``DefaultAzureCredential``).
    """

    def __init__(self, credential: Any = None) -> None:
        self.credential = credential

    def _fs(self, url: str) -> tuple[Any, str]:
        from azure.storage.filedatalake import DataLakeServiceClient

        u = urlparse(url)
        container, _, account_host = u.netloc.partition("@")
        cred = self.credential
        if cred is None:
            from azure.identity import DefaultAzureCredential

            cred = DefaultAzureCredential()
        svc = DataLakeServiceClient(account_url=f"https://{account_host}", credential=cred)
        return svc.get_file_system_client(container), u.path.lstrip("/")

    def list_recursive(self, url: str) -> list[dict[str, Any]]:
        fs, path = self._fs(url)
        base = url[: len(url) - len(urlparse(url).path)]
        out = []
        for p in fs.get_paths(path=path, recursive=True):
            if p.is_directory:
                continue
            out.append(
                {
                    "path": f"{base}/{p.name}",
                    "is_dir": False,
                    "file_size": p.content_length or 0,
                    "modification_time": int(p.last_modified.timestamp() * 1000) if p.last_modified else 0,
                }
            )
        return out

    def read_to(self, url: str, out: BinaryIO) -> int:
        fs, path = self._fs(url)
        stream = fs.get_file_client(path).download_file()
        written = 0
        for chunk in stream.chunks():
            out.write(chunk)
            written += len(chunk)
        return written


def store_for(url: str, databricks_hook: Any, *, aws_conn_id: str | None = None, region: str | None = None,
              clients: Mapping[str, Any] | None = None) -> LogStore:
    """The :class:`LogStore` of a destination URL (``dbfs:/``, ``/Volumes/``, ``s3://``, ``abfss://``).

    :raises ValueError: for an unsupported scheme.
    """
    clients = clients or {}
    if url.startswith(("dbfs:", "/Volumes/")):
        return databricks_hook  # type: ignore[no-any-return]
    if url.startswith(("s3://", "s3a://")):
        return S3LogStore(aws_conn_id, region, client=clients.get("s3"))
    if url.startswith(("abfss://", "abfs://")):
        return AbfsLogStore(clients.get("azure_credential"))
    raise ValueError(f"unsupported log destination {url!r}")
