"""Option types the Docker plugins share."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["Hostname"]

_HOSTNAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                       r"[A-Za-z0-9])?)*")


def _hostname(value: str) -> str:
    if not _HOSTNAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a hostname (letters, digits, hyphens and dots)")
    return value


Hostname = Annotated[str, AfterValidator(_hostname)]
"""A DNS hostname (RFC 1123), as DevStream's `validate:"hostname"` took it."""
