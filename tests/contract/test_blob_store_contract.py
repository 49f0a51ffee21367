"""One suite, two implementations: ``FakeBlobStore`` and ``S3BlobStore`` on moto's in-process
backend (``moto.mock_aws``: the same S3 model the local stack's server runs, without booting it; the
server's own behaviour is under test in tests/integration)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from facesvg import names
from facesvg.service.aws.s3 import S3BlobStore
from facesvg.service.errors import StoreError
from facesvg.service.ports import Blob, BlobStore
from service_fakes import FakeBlobStore


@pytest.fixture(params=["fake", "s3"])
def blobs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[BlobStore]:
    if request.param == "fake":
        yield FakeBlobStore()
        return
    from moto import mock_aws

    # mock_aws answers requests to AWS's own addresses: no endpoint of a local server may redirect them
    for variable in (names.ENV_ENDPOINT_URL, names.ENV_ENDPOINT_URL_S3):
        monkeypatch.delenv(variable, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket=names.BUCKET_NAME)
        yield S3BlobStore(client, names.BUCKET_NAME)


@pytest.fixture
def prefix() -> str:
    """A folder of its own (the fake and the bucket each start empty; siblings test the boundary)."""
    return f"contract/{uuid.uuid4().hex}/"


def test_an_object_reads_back_as_written(blobs: BlobStore, prefix: str) -> None:
    blobs.put(prefix + "a.svg", b"<svg/>", "image/svg+xml")
    assert blobs.get(prefix + "a.svg") == b"<svg/>"


def test_reading_a_missing_object_is_a_store_error(blobs: BlobStore, prefix: str) -> None:
    with pytest.raises(StoreError):
        blobs.get(prefix + "missing")


def test_many_objects_are_written_and_read_at_once(blobs: BlobStore, prefix: str) -> None:
    written = {f"{prefix}{n}": bytes([n]) * 1000 for n in range(6)}

    blobs.put_many([Blob(key, data, "application/octet-stream") for key, data in written.items()])

    assert blobs.get_many(list(written)) == written


def test_begun_transfers_finish_when_asked(blobs: BlobStore, prefix: str) -> None:
    keys = [prefix + "x", prefix + "y"]

    blobs.begin_put_many([Blob(k, k.encode(), "text/plain") for k in keys]).result()
    reading = blobs.begin_get_many(keys)

    assert reading.result() == {k: k.encode() for k in keys}


def test_a_begun_read_of_a_missing_object_fails_only_when_asked(blobs: BlobStore, prefix: str) -> None:
    blobs.put(prefix + "here", b"1", "text/plain")
    reading = blobs.begin_get_many([prefix + "here", prefix + "gone"])  # no error yet

    with pytest.raises(StoreError):
        reading.result()


def test_listing_copying_and_deleting(blobs: BlobStore, prefix: str) -> None:
    for name in ("b", "a", "sub/c"):
        blobs.put(prefix + name, name.encode(), "text/plain")
    blobs.put(
        prefix[:-1] + "-sibling/z", b"z", "text/plain"
    )  # shares the prefix's characters, not its folder

    assert sorted(blobs.list_keys(prefix)) == [prefix + "a", prefix + "b", prefix + "sub/c"]
    assert blobs.list_keys(prefix + "nothing/") == []

    blobs.copy(prefix + "a", prefix + "copy/a")
    assert blobs.get(prefix + "copy/a") == b"a"
    with pytest.raises(StoreError):
        blobs.copy(prefix + "missing", prefix + "copy/missing")

    blobs.delete(prefix + "a")
    blobs.delete(prefix + "never-there")  # deleting what is not there is fine
    assert prefix + "a" not in blobs.list_keys(prefix)


def test_a_presigned_url_names_the_key(blobs: BlobStore, prefix: str) -> None:
    url = blobs.presign_get(prefix + "a.svg", 60)
    assert url.startswith("http") and (prefix + "a.svg") in url


def test_objects_list_with_their_etag_and_upload_time(blobs: BlobStore, prefix: str) -> None:
    import time

    before = time.time() - 5
    blobs.put(prefix + "a", b"one", "text/plain")
    blobs.put(prefix + "b", b"two", "text/plain")

    listed = {o.key: o for o in blobs.list_objects(prefix)}

    assert set(listed) == {prefix + "a", prefix + "b"}
    assert listed[prefix + "a"].etag != listed[prefix + "b"].etag
    assert before <= listed[prefix + "a"].last_modified <= time.time() + 5
    assert listed[prefix + "a"].size == 3  # the drop folder bounds options.json by its listed size
    data, etag = blobs.get_tagged(prefix + "a")
    assert data == b"one" and etag == listed[prefix + "a"].etag
    blobs.put(prefix + "a", b"changed", "text/plain")
    assert blobs.get_tagged(prefix + "a")[1] != etag


def test_a_bounded_listing_is_the_first_keys_in_key_order(blobs: BlobStore, prefix: str) -> None:
    for name in ("c", "a", "d", "b"):
        blobs.put(prefix + name, name.encode(), "text/plain")

    assert [o.key for o in blobs.list_objects(prefix, limit=2)] == [prefix + "a", prefix + "b"]
    assert len(blobs.list_objects(prefix, limit=10)) == 4
