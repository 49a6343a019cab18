"""The file plugin: one local file, written from inline content or a jinja2 template (rendered in jinja2's sandbox)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, ClassVar

import jinja2
from pydantic import Field, field_validator, model_validator

from devstream.errors import PermanentError
from devstream.osutil import write_atomically
from devstream.plugin.base import Plugin, PluginContext, PluginOptions, ResourceStatus
from devstream.templates import failure, sandboxed_environment, template_line

__all__ = ["FileOptions", "FilePlugin"]

_MODE = re.compile(r"(?:0o)?([0-7]{3,4})")


class FileOptions(PluginOptions):
    """Where the file goes, what it holds and its permissions."""

    path: str = Field(min_length=1, description="The file's path, relative to the config's folder.")
    content: str | None = Field(default=None, description="The file's content; or use template.")
    template: str | None = Field(
        default=None,
        description="A jinja2 template file, relative to the config's folder, rendered into the file.",
    )
    vars: dict[str, Any] = Field(
        default_factory=dict,
        description="Variables for the template; a variable it uses but that is missing is an error.",
    )
    mode: str = Field(default="0644", description='The permission bits, as an octal string such as "0644".')

    @field_validator("mode", mode="before")
    @classmethod
    def _octal_mode(cls, value: Any) -> str:
        # YAML reads an unquoted 0644 as the number 420: refuse numbers rather than guess.
        if not isinstance(value, str):
            raise ValueError(f'mode must be a quoted octal string such as "0644", not {value!r}')
        match = _MODE.fullmatch(value.strip())
        if not match:
            raise ValueError(f'mode must be octal permission bits such as "0644" or "0755", not {value!r}')
        return f"{int(match.group(1), 8):04o}"  # one spelling, so "644" and "0644" compare equal

    @model_validator(mode="after")
    def _one_source(self) -> FileOptions:
        if (self.content is None) == (self.template is None):
            raise ValueError("set exactly one of content (the text itself) or template (a jinja2 file)")
        if self.vars and self.template is None:
            raise ValueError("vars is only used with template; remove it or use template instead of content")
        return self


class FilePlugin(Plugin[FileOptions]):
    """Writes the file atomically; `read` hashes what is on disk, so a hand edit shows as drift.

    The status dtm recorded (`ctx.prior`) says where the file is: an update that changes `path` moves the
    file (the new one is written, then the recorded one removed), and delete removes the recorded file.
    A file adopted by `dtm import` (without --owned) is marked `adopted` in its status: dtm writes its content
    as the options say, but never removes it (neither delete nor a move does).
    """

    name: ClassVar[str] = "file"
    Options: ClassVar[type[FileOptions]] = FileOptions
    description: ClassVar[str] = "A local file from inline content or a jinja2 template."
    import_id: ClassVar[str] = "the file's path (as the options' path, relative to the config's folder)"

    def create(self, options: FileOptions, ctx: PluginContext) -> ResourceStatus:
        target = _target(options, ctx)
        data = _render(options, ctx, target).encode("utf-8")
        _write_atomically(target, data, int(options.mode, 8))
        return _status(target, hashlib.sha256(data).hexdigest(), options.mode)

    def read(self, options: FileOptions, ctx: PluginContext) -> ResourceStatus | None:
        target = _target(options, ctx)
        status = _read(target)
        return None if status is None else _keep_adopted(status, ctx)

    def import_resource(self, resource_id: str, options: FileOptions, ctx: PluginContext) -> ResourceStatus | None:
        target, given = _target(options, ctx), Path(os.path.abspath(ctx.path(resource_id)))
        if given != target:
            raise PermanentError(f"file {given} is not the file {ctx.key} describes ({target}); import that path, "
                                 f"or change the tool's path in the config")
        if _read(target) is None:
            return None
        # As create would have written it: the next read shows a content or mode that differs as drift.
        data = _render(options, ctx, target).encode("utf-8")
        status = _status(target, hashlib.sha256(data).hexdigest(), options.mode)
        return status if ctx.owned else {**status, "adopted": True}

    def update(self, options: FileOptions, ctx: PluginContext) -> ResourceStatus:
        status = self.create(options, ctx)
        recorded = _recorded(ctx)
        if recorded is not None and recorded != _target(options, ctx):
            if _adopted(ctx):  # dtm did not make it: it stays, and the file at the new path is dtm's own
                ctx.logger.info("file %s was adopted by dtm import, so it is left in place; %s is dtm's now",
                                recorded, status["path"])
                return status
            _remove(recorded)  # the path changed: the file moved, the old one goes
            ctx.logger.info("file %s moved to %s", recorded, status["path"])
        return _keep_adopted(status, ctx)

    def delete(self, options: FileOptions, ctx: PluginContext) -> None:
        recorded = _recorded(ctx)
        if _adopted(ctx):
            ctx.logger.warning("file %s was adopted by dtm import, not created by dtm, so it is left in place; remove "
                               "it yourself if it should go", recorded)
            return
        _remove(recorded if recorded is not None else _target(options, ctx))
        # Parent folders are left alone: they may hold other files.

    def output_keys(self, options: FileOptions) -> set[str] | None:
        return {"path", "sha256"}


def _adopted(ctx: PluginContext) -> bool:
    return bool((ctx.prior or {}).get("adopted"))


def _keep_adopted(status: ResourceStatus, ctx: PluginContext) -> ResourceStatus:
    """The status, still marked adopted when the recorded one was and the file is the same one."""
    if _adopted(ctx) and _recorded(ctx) == Path(status["path"]):
        status["adopted"] = True
    return status


def _read(target: Path) -> ResourceStatus | None:
    try:
        with target.open("rb") as f:
            mode = os.fstat(f.fileno()).st_mode & 0o7777
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PermanentError(f"file {target}: cannot read it: {_reason(exc)}") from exc
    return _status(target, digest, f"{mode:04o}")


def _target(options: FileOptions, ctx: PluginContext) -> Path:
    # abspath, not resolve: a symlinked folder stays as the user wrote it.
    return Path(os.path.abspath(ctx.path(options.path)))


def _recorded(ctx: PluginContext) -> Path | None:
    """The file dtm wrote last, as its recorded status says (None without a record)."""
    path = (ctx.prior or {}).get("path")
    return Path(path) if isinstance(path, str) and os.path.isabs(path) else None


def _remove(target: Path) -> None:
    """Remove the file; already gone is what we want. A folder there is not dtm's file, and is refused."""
    try:
        target.unlink()
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        raise PermanentError(f"file {target}: it is a folder now, not the file dtm wrote; remove it yourself "
                             f"if it should go") from None
    except OSError as exc:
        raise PermanentError(f"file {target}: cannot remove it: {_reason(exc)}") from exc


def _status(target: Path, sha256: str, mode: str) -> ResourceStatus:
    return {
        "path": str(target),
        "sha256": sha256,
        "mode": mode,
        "outputs": {"path": str(target), "sha256": sha256},
    }


def _render(options: FileOptions, ctx: PluginContext, target: Path) -> str:
    if options.template is None:
        return options.content or ""
    template_path = Path(os.path.abspath(ctx.path(options.template)))
    if not template_path.is_file():
        raise PermanentError(f"file {target}: template {template_path} not found")
    folder = template_path.parent
    env = sandboxed_environment(loader=jinja2.FileSystemLoader(folder))  # so {% include %} works beside it
    try:
        return env.get_template(template_path.name).render(options.vars)
    except Exception as exc:  # anything the template's own code raises: unsafe access, undefined names, 1/0
        found = template_line(exc, lambda name: Path(name).is_relative_to(folder))
        where = f"{found[0]}:{found[1]}" if found else str(template_path)
        hint = "; pass it under vars" if isinstance(exc, jinja2.UndefinedError) else ""
        raise PermanentError(f"file {target}: template {where}: {failure(exc)}{hint}") from exc


def _write_atomically(target: Path, data: bytes, mode: int) -> None:
    """Write to a temporary file beside the target, then rename: a reader never sees half a file."""
    try:
        write_atomically(target, data, mode)
    except OSError as exc:
        raise PermanentError(f"file {target}: cannot write it: {_reason(exc)}") from exc


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
