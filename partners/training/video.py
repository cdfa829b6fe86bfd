"""Video links a lesson may embed: YouTube, Vimeo and RuTube only. The embed address is
built from the id parsed out of the link, never taken from it, so a lesson can frame
nothing but these players (the lesson page's CSP allows exactly their hosts)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

FRAME_HOSTS = ["https://www.youtube-nocookie.com", "https://player.vimeo.com", "https://rutube.ru"]
YOUTUBE = "https://www.youtube-nocookie.com/embed/"
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_VIMEO_ID = re.compile(r"^\d{1,12}$")
_RUTUBE_ID = re.compile(r"^[0-9a-f]{32}$")


def embed_url(link: str) -> str | None:
    """The player address for ``link``, or None when it is not a video we embed."""
    parts = urlsplit((link or "").strip())
    if parts.scheme not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    segments = [s for s in parts.path.split("/") if s]
    if host in ("youtube.com", "youtube-nocookie.com"):
        if segments[:1] == ["watch"]:
            video = (parse_qs(parts.query).get("v") or [""])[0]
        elif len(segments) >= 2 and segments[0] in ("embed", "shorts", "live"):
            video = segments[1]
        else:
            return None
        return (
            f"https://www.youtube-nocookie.com/embed/{video}" if _YOUTUBE_ID.match(video) else None
        )
    if host == "youtu.be" and segments and _YOUTUBE_ID.match(segments[0]):
        return YOUTUBE + segments[0]
    if host in ("vimeo.com", "player.vimeo.com"):
        video = segments[-1] if segments else ""
        return f"https://player.vimeo.com/video/{video}" if _VIMEO_ID.match(video) else None
    if host == "rutube.ru" and len(segments) >= 2 and segments[0] in ("video", "play"):
        video = segments[-1].lower()
        return f"https://rutube.ru/play/embed/{video}" if _RUTUBE_ID.match(video) else None
    return None
