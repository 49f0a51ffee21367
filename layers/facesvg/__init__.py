"""facesvg: face photo + LaPa segmentation + MediaPipe landmarks -> styled SVG contours.

Packages:
    facesvg.core     image work only (NumPy/OpenCV/svgwrite); no AWS, no env vars, no I/O.
    facesvg.service  jobs, hashing, storage, queue; the only boto3 user; no image math.
    facesvg.local    the embedded local runtime (moto server, HTTP -> API Gateway events, SQS poller).
    facesvg.client   submit bodies from files and a running local stack's addresses (for the CLI).
"""

__version__ = "0.1.0"
