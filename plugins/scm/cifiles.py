"""CI files for the CI plugins: fetched from `configLocation` or given inline, then rendered.

`configLocation` may be a local file or folder (relative to the config's folder), an http(s) URL of one
file, or a git source `git::<url>[//<subdir>][?ref=<branch or tag>]` (as DevStream's go-getter wrote it).
Files are rendered with jinja2 using DevStream's `[[ ]]` delimiters, so `${{ }}` GitHub expressions and
`{{ }}` in the files pass through untouched.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from devstream.errors import PermanentError
from devstream.plugin import PluginContext, raise_for_status

__all__ = ["load_ci_files", "render"]

_ENV = jinja2.Environment(variable_start_string="[[", variable_end_string="]]", block_start_string="[%",
                          block_end_string="%]", comment_start_string="[#", comment_end_string="#]",
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


# DevStream's templates are Go templates: `[[ .AppName ]]` names a variable with a leading dot. Only the dot
# goes, so what stands between `[[` and it (a line break too) is kept and error line numbers stay true.
_GO_DOT = re.compile(r"(\[\[-?\s*)\.(?=[A-Za-z_])")


def render(text: str, variables: dict[str, Any], where: str) -> str:
    try:
        return _ENV.from_string(_GO_DOT.sub(r"\1", text)).render(**variables)
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise PermanentError(f"{where}{f':{line}' if line else ''}: cannot render: {exc}") from None


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
