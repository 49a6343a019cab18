"""The Helm layer: the helm 3 CLI with a home of dtm's own (`cli`), and a release declared, installed, read back
for drift and removed (`release`), shared by every plugin that installs a chart (helm-installer, gitlab-ci's
runner)."""

from __future__ import annotations

from devstream.plugins.helm.cli import HELM_ENV, HELM_HOME_ENV, Helm, helm_home
from devstream.plugins.helm.release import (
    ReleaseSpec,
    ensure_release,
    release_resources,
    release_status,
    remove_release,
    values_digest,
)

__all__ = [
    "HELM_ENV",
    "HELM_HOME_ENV",
    "Helm",
    "ReleaseSpec",
    "ensure_release",
    "helm_home",
    "release_resources",
    "release_status",
    "remove_release",
    "values_digest",
]
