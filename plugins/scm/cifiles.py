"""CI files for the CI plugins: fetched from `configLocation` or given inline, then rendered.

`configLocation` may be a local file or folder (relative to the config's folder), an http(s) URL of one
file, or a git source `git::<url>[//<subdir>][?ref=<branch or tag>]` (as DevStream's go-getter wrote it).
Files are rendered in jinja2's sandbox (`devstream.templates`: they are untrusted) using DevStream's `[[ ]]`
delimiters, so `${{ }}` GitHub expressions and `{{ }}` in the files pass through untouched.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devstream.errors import PermanentError
from devstream.gotemplate import register, translate
from devstream.plugin import PluginContext, raise_for_status
from devstream.templates import STRING_TEMPLATE, failure, sandboxed_environment, template_line

__all__ = ["load_ci_files", "render"]

_ENV = sandboxed_environment(brackets=True)
register(_ENV)  # DevStream's templates are Go templates: see devstream/gotemplate.py


def render(text: str, variables: dict[str, Any], where: str) -> str:
    """`text` rendered with `variables`; any failure (an unsafe access, an undefined name, a syntax error) is a
    PermanentError naming `where` (the template) and the line."""
    try:
        # No `env` here: a CI template is someone else's text, and must not read dtm's environment (tokens).
        return _ENV.from_string(translate(text, env_function=None)).render(**variables)
    except Exception as exc:  # anything the template's own code raises: undefined names, filters, 1/0
        found = template_line(exc, lambda name: name == STRING_TEMPLATE)
        raise PermanentError(f"{where}{f':{found[1]}' if found else ''}: cannot render: {failure(exc)}") from None


def _read_folder(root: Path) -> dict[str, str]:
    if root.is_file():
        return {root.name: root.read_text()}
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def _from_git(source: str) -> dict[str, str]:
    url, _, ref = source.removeprefix("git::").partition("?ref=")
    scheme_split = url.find("://")
    sub = ""
    if "//" in url[scheme_split + 3:]:
        head, sub = url[scheme_split + 3:].split("//", 1)
        url = url[: scheme_split + 3] + head
    with tempfile.TemporaryDirectory(prefix="dtm-ci-") as tmp:
        cmd = ["git", "clone", "--depth", "1", *(["--branch", ref] if ref else []), url, tmp]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise PermanentError(f"cannot clone {url}: {done.stderr.strip()[-300:]}")
        return _read_folder(Path(tmp) / sub)


def load_ci_files(ctx: PluginContext, *, config_location: str | None = None,
                  config_contents: dict[str, str] | None = None) -> dict[str, str]:
    """File name (relative) -> unrendered text. Exactly one of the two sources must be given."""
    if bool(config_location) == bool(config_contents):
        raise PermanentError("give exactly one of `configLocation` and `configContents`")
    if config_contents:
        return dict(config_contents)
    assert config_location is not None
    if config_location.startswith("git::"):
        return _from_git(config_location)
    if urlsplit(config_location).scheme in ("http", "https"):
        with ctx.http_client(timeout=30.0) as client:
            response = raise_for_status(client.get(config_location, follow_redirects=True))
        return {Path(urlsplit(config_location).path).name or "ci.yml": response.text}
    root = ctx.path(config_location)
    if not root.exists():
        raise PermanentError(f"configLocation {config_location}: no such file or folder ({root})")
    return _read_folder(root)
