"""What an app (DevStream v0.12's `apps`) hands the plugin its `ci`/`cd` entries become.

An app's `ci`/`cd` entry of type `github-actions` becomes a tool of the github-actions plugin, and so on. The
config layer knows no plugin's option shape: it asks the plugin (`Plugin.options_for_app`), giving the
entry's options and the app (`AppInfo`), and the plugin answers with its tool's options. The helpers here are
the shapes several plugins share.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AppInfo", "ci_pipeline_options", "deep_merge"]


@dataclass(frozen=True)
class AppInfo:
    """An app, as the tools its `ci`/`cd` entries become see it.

    Attributes:
        name: the app's name (also the instanceID of its tools).
        language: `spec.language`.
        framework: `spec.framework`.
        repo: the app's repository, DevStream's RepoInfo keys with its defaults filled in (owner, name,
            scmType, branch and url always; see devstream.repourl.normalise_repo). Copy it before keeping it.
        image_repo: the `imageRepo` of the app's CI entries before this one (the last one set), or None: what
            a CD tool deploys.
    """

    name: str
    language: str
    framework: str
    repo: Mapping[str, Any] = field(default_factory=dict)
    image_repo: Any = None


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `over` merged in (maps recursively; any other value of `over` wins). Mutates `base`."""
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def ci_pipeline_options(options: dict[str, Any], app: AppInfo, config_location: str,
                        lifted: str | None = None) -> dict[str, Any]:
    """The options of a CI pipeline plugin (github-actions, gitlab-ci, jenkins-pipeline) for an app, as
    DevStream shaped them: the entry's options under `pipeline` (with DevStream's `configLocation` and the
    app's language by default), the app's repository under `scm`, and the `lifted` key of the pipeline's
    options (jenkins-pipeline's `jenkins`, gitlab-ci's `runner`) at the top as well. Mutates `options`."""
    options.setdefault("configLocation", config_location)
    options.setdefault("language", {"name": app.language, "framework": app.framework})
    out: dict[str, Any] = {"pipeline": options, "scm": copy.deepcopy(dict(app.repo))}
    if lifted and lifted in options:
        out[lifted] = copy.deepcopy(options[lifted])
    return out
