"""The base of every pydantic model in facesvg: its validator and serializer are built when it is
first used, not when its module is imported.

Each Lambda function imports the models of every use case but validates only a few of them; building
all of them at import was ~20 ms of each cold start (issue 13, ``make bench-cold``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class LazyModel(BaseModel):
    model_config = ConfigDict(defer_build=True)  # merged into each subclass's own model_config
