"""The built-in `jenkins-pipeline` plugin: a Jenkins Pipeline job for a GitHub or GitLab repository."""

from __future__ import annotations

from devstream.plugins.jenkins_pipeline.options import JenkinsPipelineOptions
from devstream.plugins.jenkins_pipeline.plugin import JenkinsPipelinePlugin

__all__ = ["JenkinsPipelineOptions", "JenkinsPipelinePlugin"]
