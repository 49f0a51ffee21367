"""The render core's output version, importable without NumPy or OpenCV.

Part of the service's content hash: bump it whenever the output for the same input changes, so
cached results of the old pipeline are not served. The zip functions (submit, ingest) import it
from here, without importing the render pipeline.
"""

PIPELINE_VERSION = "1.3.0"
