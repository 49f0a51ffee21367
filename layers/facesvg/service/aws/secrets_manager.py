"""The webhook signing secret in Secrets Manager. AWS errors leave as the service's errors."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from facesvg import names
from facesvg.service.aws.errors import translated
from facesvg.service.errors import StoreError

SECRET_CACHE_SECONDS = 300


@dataclass
class SecretsManagerSecret:
    """The webhook signing secret, cached for a few minutes (a rotated secret is picked up)."""

    client: Any
    secret_id: str
    _cached: tuple[float, bytes] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @translated("Secrets Manager: reading the webhook secret")
    def get(self) -> bytes:
        if not self.secret_id:
            raise StoreError(f"{names.ENV_WEBHOOK_SECRET_ID} is not set")
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < SECRET_CACHE_SECONDS:
                return self._cached[1]
            value = self.client.get_secret_value(SecretId=self.secret_id)["SecretString"].encode()
            self._cached = (time.monotonic(), value)
            return value
