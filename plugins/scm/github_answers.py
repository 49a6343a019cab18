"""Reading GitHub's answers as data from elsewhere: checked, never trusted to have the shape dtm hopes for.

GitHub's OpenAPI description leaves many fields optional (a file commit's `commit.sha` among them), content
comes base64-encoded and may be mangled on the way, and a tree is whatever the server lists. A field that
is missing, content that is not valid base64, or a tree deeper than any real repository (or one that holds
itself) is a PermanentError naming what dtm asked and what is wrong: never a KeyError, a binascii.Error or
a RecursionError.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from devstream.errors import PermanentError

__all__ = ["MAX_TREE_DEPTH", "TreeItem", "decode_base64", "field", "tree_items"]

MAX_TREE_DEPTH = 1024
"""Folders within folders that dtm follows in a tree read folder by folder. Real repositories stay far
below (a path of 1024 folders is over 2 KB even with one-letter names); git's own ceiling is 4096."""


def field(data: Any, where: str, *keys: str) -> str:
    """`data[keys[0]][keys[1]]...` as a string.

    Raises:
        PermanentError: the answer lacks it (or holds null there), naming the field.
    """
    value = data
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            raise PermanentError(f"{where}: GitHub's answer has no {'.'.join(keys)}; it may be a GitHub (Enterprise) "
                                 f"version or a proxy dtm does not know; try again, and report it if it persists")
    if isinstance(value, Mapping | list):
        raise PermanentError(f"{where}: GitHub's answer holds {type(value).__name__} in {'.'.join(keys)}, not a value")
    return str(value)


def decode_base64(text: Any, where: str) -> bytes:
    """Content as GitHub sends it: base64 in lines of 60 characters.

    Raises:
        PermanentError: it is not text, or not valid base64 (not silently decoded into other bytes).
    """
    if not isinstance(text, str):
        raise PermanentError(f"{where}: GitHub's answer holds {type(text).__name__} as the content, not base64 text")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise PermanentError(f"{where}: GitHub's answer holds content that is not valid base64; try again, and "
                             f"check any proxy between dtm and GitHub") from None


@dataclass(frozen=True)
class TreeItem:
    """One entry of a tree listing."""

    path: str
    type: str  # blob, tree or commit (a submodule)
    mode: str
    sha: str


def tree_items(data: Any, where: str) -> list[TreeItem]:
    """The entries of a tree listing (`GET .../git/trees/{sha}`), each checked.

    Raises:
        PermanentError: the listing or one of its entries lacks what every entry has.
    """
    entries = data.get("tree") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise PermanentError(f"{where}: GitHub's answer has no tree list")
    return [TreeItem(field(e, where, "path"), field(e, where, "type"), field(e, where, "mode"), field(e, where, "sha"))
            for e in entries]


def error_message(response: httpx.Response) -> str:
    """GitHub's `message` (and the `errors` it lists), or the reason phrase."""
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(data, dict):
        return response.reason_phrase
    text = str(data.get("message") or response.reason_phrase)
    details = [str(e.get("message") or e.get("code")) for e in data.get("errors") or [] if isinstance(e, dict)]
    return f"{text} ({'; '.join(details)})" if details else text
