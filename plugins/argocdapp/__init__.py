"""The argocdapp plugin: an Argo CD Application for a Helm chart in the app's repository (DevStream v0.12's)."""

from devstream.plugins.argocdapp.options import ArgocdAppOptions
from devstream.plugins.argocdapp.plugin import ArgocdAppPlugin

__all__ = ["ArgocdAppOptions", "ArgocdAppPlugin"]
