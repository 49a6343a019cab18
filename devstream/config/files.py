"""Finding and reading a config's files: one YAML file, or every *.yaml/*.yml under a folder.

What a path is decides the message when it cannot be a config: a named pipe or a device (`/dev/null`)
is never read (a pipe would block, a device never ends), a symbolic link that loops is named as one, and
an error of the file system (a permission, a missing folder) names the path and the cause.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from devstream.config.limits import Budget, Limits
from devstream.config.source import Part, parse_text
from devstream.errors import ConfigError, Issue, describe_os_error

__all__ = ["config_files", "read_parts"]

_NOT_A_FILE = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _missing(path: Path) -> str:
    if path.is_symlink():
        return (f"config path {str(path)!r} is a symbolic link to {os.readlink(path)!r}, which does not exist; "
                f"fix the link or give the file itself")
    return f"config path {str(path)!r} does not exist; give a YAML file or a folder of them"


def _kind(mode: int) -> str | None:
    """What a path that is neither a file nor a folder is, e.g. "a named pipe (FIFO)"."""
    return next((name for test, name in _NOT_A_FILE if test(mode)), None)


def config_files(path: Path) -> list[Path]:
    """The YAML files of a config: the file itself, or every *.yaml/*.yml under a folder, sorted."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(Issue(_missing(path), str(path))) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(Issue(f"config path {str(path)!r} is a symbolic link that loops (it points, "
                                    f"directly or through other links, back at itself); fix or remove the link "
                                    f"and give a YAML file or a folder", str(path))) from None
        raise ConfigError(Issue(describe_os_error(exc, "open the config"), str(path))) from None
    if stat.S_ISREG(mode):
        return [path]
    if not stat.S_ISDIR(mode):
        kind = _kind(mode) or "not a regular file"
        raise ConfigError(Issue(f"config path {str(path)!r} is {kind}, not a config file; dtm reads the config "
                                f"from a YAML file or a folder of them: save it to a file and give that",
                                str(path)))
    files: list[Path] = []
    unreadable: list[Issue] = []

    def report(exc: OSError) -> None:
        unreadable.append(Issue(describe_os_error(exc, "list the config folder"), exc.filename))

    for folder, _dirs, names in os.walk(path, onerror=report):
        for name in names:
            candidate = Path(folder) / name
            if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
                files.append(candidate)
    if unreadable:
        raise ConfigError(unreadable)
    if not files:
        raise ConfigError(Issue("the folder holds no *.yaml or *.yml file; add a config file to it", str(path)))
    return sorted(files)


def read_parts(files: list[Path]) -> list[Part]:
    """Parse every file; YAML errors of all files are reported together.

    The files together may hold at most DTM_MAX_CONFIG_BYTES, and what they expand to is bounded by the
    same budget (see limits.py).
    """
    limits = Limits()
    if limits.errors:
        raise ConfigError([Issue(message) for message in limits.errors])
    budget = Budget(limits)
    allowed = limits.config_bytes.value
    parts: list[Part] = []
    issues: list[Issue] = []
    for f in files:
        try:
            with f.open("rb") as stream:
                raw = stream.read(allowed + 1)  # never more than the limit, even from a file that grows
        except OSError as exc:
            issues.append(Issue(describe_os_error(exc, "read the config file"), str(f)))
            continue
        allowed -= len(raw)
        if allowed < 0:
            what = "the config file" if len(files) == 1 else "the config files together"
            issues.append(Issue(limits.config_bytes.exceeded(what), str(f)))
            break
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            issues.append(Issue("the file is not UTF-8 text; save it as UTF-8", str(f), line))
            continue
        try:
            parts.extend(parse_text(text, str(f), budget))
        except ConfigError as exc:
            issues.extend(exc.issues)
    if issues:
        raise ConfigError(issues)
    return parts
