"""The render core's output version, importable without NumPy/OpenCV/SciPy.

Part of the service's content hash: bump it whenever the output for the same input changes, so
cached results of the old pipeline are not served. The zip functions (submit, ingest) import it
from here because their layer carries no SciPy.
"""

PIPELINE_VERSION = "1.2.0"
