"""The config.xml documents Jenkins takes for the items dtm makes: a folder, a Pipeline job whose Jenkinsfile
comes from a git repository, and a username/password credential. Built with ElementTree, so every value is
escaped whatever it holds."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal

__all__ = ["PipelineJob", "folder_config", "password_credential"]


def _tree(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def folder_config(description: str) -> bytes:
    root = ET.Element("com.cloudbees.hudson.plugins.folder.Folder", {"plugin": "cloudbees-folder"})
    _add(root, "description", description)
    return _tree(root)


def password_credential(credential_id: str, description: str, username: str, password: str) -> bytes:
    root = ET.Element("com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl")
    for tag, text in (("scope", "GLOBAL"), ("id", credential_id), ("description", description),
                      ("username", username), ("password", password)):
        _add(root, tag, text)
    return _tree(root)


@dataclass(frozen=True)
class PipelineJob:
    """A Pipeline job that runs `script_path` from `branch` of the repository at `clone_url`, read with the
    credential `credential_id`, triggered by the repository's webhook (GitHub's push trigger, or the GitLab
    plugin's trigger checking `secret_token`)."""

    description: str
    clone_url: str
    branch: str
    credential_id: str
    scm: Literal["github", "gitlab"]
    secret_token: str
    script_path: str = "Jenkinsfile"

    def config(self) -> bytes:
        root = ET.Element("flow-definition", {"plugin": "workflow-job"})
        _add(root, "description", self.description)
        _add(root, "keepDependencies", "false")
        properties = _add(root, "properties")
        triggers = _add(_add(properties, "org.jenkinsci.plugins.workflow.job.properties.PipelineTriggersJobProperty"),
                        "triggers")
        if self.scm == "github":
            _add(_add(triggers, "com.cloudbees.jenkins.GitHubPushTrigger", plugin="github"), "spec", "")
        else:
            trigger = _add(triggers, "com.dabsquared.gitlabjenkins.GitLabPushTrigger", plugin="gitlab-plugin")
            for tag, text in (("spec", ""), ("triggerOnPush", "true"), ("triggerOnMergeRequest", "true"),
                              ("branchFilterType", "All"), ("secretToken", self.secret_token)):
                _add(trigger, tag, text)
        definition = _add(root, "definition", **{"class": "org.jenkinsci.plugins.workflow.cps.CpsScmFlowDefinition",
                                                  "plugin": "workflow-cps"})
        scm = _add(definition, "scm", **{"class": "hudson.plugins.git.GitSCM", "plugin": "git"})
        _add(scm, "configVersion", "2")
        remote = _add(_add(scm, "userRemoteConfigs"), "hudson.plugins.git.UserRemoteConfig")
        _add(remote, "url", self.clone_url)
        _add(remote, "credentialsId", self.credential_id)
        _add(_add(_add(scm, "branches"), "hudson.plugins.git.BranchSpec"), "name", f"*/{self.branch}")
        _add(definition, "scriptPath", self.script_path)
        _add(definition, "lightweight", "true")
        _add(root, "disabled", "false")
        return _tree(root)
