"""helm-installer: a Helm chart as a release, with DevStream's ten instance defaults (see `plugin`)."""

from __future__ import annotations

from devstream.plugins.helm_installer.defaults import INSTANCES, instance_for
from devstream.plugins.helm_installer.options import HelmInstallerOptions
from devstream.plugins.helm_installer.plugin import HelmInstallerPlugin, release_spec

__all__ = ["INSTANCES", "HelmInstallerOptions", "HelmInstallerPlugin", "instance_for", "release_spec"]
