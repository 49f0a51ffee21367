"""A photo and its landmarks are enough: map-less submits through the local stack (API and drop folder)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from facesvg import names
from facesvg.client.payload import SAMPLE_DIR
from integration_helpers import PREFIXES, eventually, keys, submit_url, unique_body, wait_finished

pytestmark = pytest.mark.integration

LABEL_DRAWN = ("left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "nose", "upper_lip", "lower_lip")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_submit_without_a_map_renders_from_the_landmarks(api: httpx.Client, prefix: str) -> None:
    # Given the sample without its segmentation map, on either route family
    with_map = unique_body()
    body = {k: v for k, v in with_map.items() if k != "segmentation_map"}

    # When it is submitted
    accepted = api.post(submit_url(prefix), json=body)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    done = wait_finished(api, job_id, prefix)

    # Then it completes from the derived labels, and says so
    assert done["status"] == "completed", done.get("error")
    assert done["segmentation"] == {"source": "landmarks"}
    for name in ("face", "forehead", "left_cheek", "right_cheek", "nose", "left_eye", "upper_lip"):
        assert name in done["mask_contours"], name
    # the features' visibility cannot be known without a parsing map: null, not a number
    for name in LABEL_DRAWN:
        assert done["visibility"][name] == {"visible_fraction": None, "occluded_by": []}, name
    assert isinstance(done["visibility"]["forehead"]["visible_fraction"], float)
    result = httpx.get(done["result_urls"]["result.json"]).json()
    assert result["segmentation"] == {"source": "landmarks"}

    # And the same face with its map is a different job, whose labels came from the client
    other = api.post(submit_url(prefix), json=with_map)
    assert other.status_code == 202 and other.json()["id"] != job_id
    again = wait_finished(api, other.json()["id"], prefix)
    assert again["segmentation"] == {"source": "client"}
    assert isinstance(again["visibility"]["nose"]["visible_fraction"], float)

    # A map-less resubmit is the same job
    assert api.post(submit_url(prefix), json=body).json()["id"] == job_id


def test_a_bad_landmark_set_without_a_map_is_still_refused(api: httpx.Client) -> None:
    body = {k: v for k, v in unique_body().items() if k != "segmentation_map"}
    body["landmarks"] = [[float(i), float(i)] for i in range(478)]  # on a line: not a face
    refused = api.post(submit_url(), json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "landmarks"


def test_a_two_file_drop_folder_renders_without_a_map(local_stack: Any) -> None:
    # Given a drop folder holding only the image and the landmarks
    s3 = local_stack.clients["s3"]
    options = json.dumps({"canvas_size": 384}).encode()  # a content hash no other test uses
    s3.put_object(Bucket=names.BUCKET_NAME, Key="incoming/two-files/options.json", Body=options)
    for file_name, source in (("image.png", "original_image.png"), ("landmarks.txt", "landmarks.txt")):
        data = (SAMPLE_DIR / source).read_bytes()
        s3.put_object(Bucket=names.BUCKET_NAME, Key=f"incoming/two-files/{file_name}", Body=data)

    # Then the set is complete: its results are published, rendered from the derived labels
    eventually(lambda: "results/two-files/face.svg" in keys(local_stack, "results/two-files/"), timeout=60)
    doc = s3.get_object(Bucket=names.BUCKET_NAME, Key="results/two-files/result.json")["Body"].read()
    assert json.loads(doc)["segmentation"] == {"source": "landmarks"}
    assert "results/two-files/regions/forehead.svg" in keys(local_stack, "results/two-files/")
