"""The API's JSON parser: prm.inputs.parse_json (depth limit, cleaned strings) in DRF.

Kept apart from prm.api because DRF's settings import it while prm.api imports DRF's
settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from prm.inputs import InputError, parse_json


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = stream.read(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) if stream else b""
        try:
            return parse_json(body, max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        except InputError as exc:
            raise ParseError(exc.message) from None
