"""The argocdapp plugin's options: DevStream v0.12's (app, destination, source, imageRepo), unchanged, plus
what a platform team needs besides (the chart's target revision, how a delete cascades, the cluster)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator

from devstream.config.checks import RFC1123_RULE, is_rfc1123_subdomain
from devstream.plugin import PluginOptions
from devstream.plugins.kube.options import KubeOptions

__all__ = ["FINALIZERS", "App", "ArgocdAppOptions", "Destination", "ImageRepo", "Source"]

FINALIZERS = {
    "foreground": "resources-finalizer.argocd.argoproj.io",
    "background": "resources-finalizer.argocd.argoproj.io/background",
}
"""Argo CD's finalizers, by the kind of cascading delete they ask for (`cascade` option)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class App(_Strict):
    """The Application resource itself."""

    name: str = Field(description="The Application's name (an RFC 1123 subdomain).")
    namespace: str = Field(default="argocd", description="The namespace of the Application resource: where Argo CD "
                                                         "runs (argocd).")

    @field_validator("name", "namespace")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        if not is_rfc1123_subdomain(value):
            raise ValueError(f"{value!r} must be {RFC1123_RULE}")
        return value


class Destination(_Strict):
    """Where Argo CD deploys the application."""

    server: str = Field(default="https://kubernetes.default.svc",
                        description="The cluster's API server (the default: the one Argo CD runs in).")
    namespace: str = Field(default="default", description="The namespace the application is deployed to.")


class Source(_Strict):
    """The Helm chart in a git repository that Argo CD deploys from."""

    repoURL: str = Field(description="The git repository holding the chart (https or ssh URL).")
    path: str = Field(description="The chart's folder in the repository, such as helm/<app>.")
    valuefile: str = Field(default="values.yaml", description="The chart's values file Argo CD uses.")
    repoBranch: str | None = Field(
        default=None, description="The branch the chart files are pushed to when the path holds none (default: the "
                                  "repository's main branch, master on GitLab).")
    targetRevision: str = Field(default="HEAD", description="The revision Argo CD follows: a branch, tag or commit "
                                                            "(HEAD: the default branch, as DevStream set it).")
    token: SecretStr | None = Field(default=None, description="A token of the repository's system, to push the chart "
                                                              "files; stored only as a fingerprint.")
    scmType: Literal["github", "gitlab", "git"] | None = Field(
        default=None, description="The repository's system when repoURL does not tell (a URL naming github is "
                                  "GitHub, any other GitLab, a local path plain git).")
    apiURL: str | None = Field(default=None, description="The API address of GitHub Enterprise or a self-hosted "
                                                         "GitLab holding the repository.")

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        clean = value.strip().strip("/")
        if not clean or ".." in clean.split("/"):
            raise ValueError(f"source.path {value!r} must be a folder inside the repository, such as helm/myapp")
        return clean


class ImageRepo(_Strict):
    """The image the chart's values name, for the chart dtm pushes when source.path holds none."""

    user: str = Field(description="The image's owner in the registry (the chart's image is <url>/<user>/<app>).")
    url: str | None = Field(default=None, description="The registry's address (Docker Hub when unset).")
    initalTag: str = Field(default="0.0.1", validation_alias=AliasChoices("initalTag", "tag"),
                           description="The first image tag (DevStream's spelling; `tag` is accepted too).")
    password: SecretStr | None = Field(default=None, description="Accepted because an app's CI imageRepo carries it "
                                                                 "over; argocdapp does not use it.")


class ArgocdAppOptions(PluginOptions, KubeOptions):
    """An Argo CD Application deploying a Helm chart from a git repository."""

    app: App = Field(description="The Application's name and namespace.")
    source: Source = Field(description="The chart Argo CD deploys: repository, path, values file, revision.")
    destination: Destination = Field(default_factory=Destination, description="The cluster and namespace deployed to.")
    imageRepo: ImageRepo | None = Field(default=None, description="The image for the chart dtm pushes when "
                                                                  "source.path holds no files.")
    project: str = Field(default="default", description="The Argo CD project the Application belongs to.")
    cascade: Literal["foreground", "background", "none"] = Field(
        default="foreground",
        description="What deleting the Application does to what Argo CD deployed: foreground (DevStream's, Argo CD's "
                    "resources finalizer: the app's resources go first, then the Application), background (the "
                    "Application goes at once, its resources after), none (no finalizer: the resources stay).")
    deleteTimeout: int = Field(default=300, ge=0, description="Seconds a delete waits for Argo CD to finish the "
                                                              "cascade and remove the Application.")

    @property
    def finalizer(self) -> str | None:
        return FINALIZERS.get(self.cascade)
