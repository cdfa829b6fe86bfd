"""The shared cache, fail-soft: Redis being away never turns a request into a 500.

Everything the cache holds (tenant host lookups, the tracking hot path's facts, rate
limit counters) can be recomputed or skipped, so while Redis is unreachable reads miss
and writes are dropped, and the short connect timeout keeps each miss cheap.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class ResilientRedisCache(RedisCache):
    def _miss(self, operation: str, exc: Exception) -> None:
        log.warning("cache %s skipped, Redis unavailable: %s", operation, exc)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except RedisError as exc:
            self._miss("get", exc)
            return default

    def get_many(self, keys: Any, version: int | None = None) -> dict[str, Any]:
        try:
            return super().get_many(keys, version)
        except RedisError as exc:
            self._miss("get_many", exc)
            return {}

    def set(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().set(*args, **kwargs)
        except RedisError as exc:
            self._miss("set", exc)

    def set_many(self, *args: Any, **kwargs: Any) -> list[Any]:
        try:
            return super().set_many(*args, **kwargs)
        except RedisError as exc:
            self._miss("set_many", exc)
            return []

    def add(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return super().add(*args, **kwargs)
        except RedisError as exc:
            self._miss("add", exc)
            # As if first: allauth's rate-limit lock is an add, and refusing it would make
            # every sign-in wait for the lock's timeout while Redis is away (fail open).
            return True

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return super().delete(*args, **kwargs)
        except RedisError as exc:
            self._miss("delete", exc)
            return False

    def delete_many(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().delete_many(*args, **kwargs)
        except RedisError as exc:
            self._miss("delete_many", exc)
