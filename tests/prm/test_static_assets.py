"""Every file a static asset refers to exists: `collectstatic` with the hashed-name
storage (Dockerfile, DEBUG=0) fails on a source map or a CSS url() that is not there, as
the vendored chart library's source-map comment once made it do."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

SOURCE_MAP = re.compile(r"^//# sourceMappingURL=(\S+)\s*$", re.M)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")


def references(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = SOURCE_MAP.findall(text)
    if path.suffix == ".css":
        found += CSS_URL.findall(text)
    return [
        ref.split("?")[0].split("#")[0]
        for ref in found
        if not ref.startswith(("data:", "http:", "https:", "//", "#"))
    ]


def test_every_file_a_static_asset_refers_to_exists() -> None:
    missing = []
    for root in settings.STATICFILES_DIRS:
        for path in Path(root).rglob("*"):
            if path.suffix not in (".js", ".css"):
                continue
            for ref in references(path):
                target = (
                    (Path(root) / ref.lstrip("/")) if ref.startswith("/") else path.parent / ref
                )
                if not target.exists():
                    missing.append(f"{path.relative_to(root)} -> {ref}")
    assert missing == []
