"""Opt-in: the Jenkins client against a real Jenkins.

Runs only when `DTM_LIVE_JENKINS_URL` is set (e.g. http://127.0.0.1:8080), with `DTM_LIVE_JENKINS_USER`
(default admin) and `DTM_LIVE_JENKINS_TOKEN` (that user's API token or password). The Jenkins needs the
cloudbees-folder, workflow-job, workflow-cps, git and credentials plugins. It makes a folder with a Pipeline job
and a credential, all with unique names, rewrites the job in place, and deletes them at the end, whatever happens.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from devstream.plugin import PluginContext
from devstream.plugins.jenkins.client import JenkinsClient
from devstream.plugins.jenkins.config import PipelineJob, folder_config, password_credential

URL = os.environ.get("DTM_LIVE_JENKINS_URL", "")
USER = os.environ.get("DTM_LIVE_JENKINS_USER", "admin")
TOKEN = os.environ.get("DTM_LIVE_JENKINS_TOKEN", "")

pytestmark = pytest.mark.skipif(not URL, reason="live Jenkins test: set DTM_LIVE_JENKINS_URL (and "
                                                "DTM_LIVE_JENKINS_USER, DTM_LIVE_JENKINS_TOKEN) to run it")


def test_live_folder_job_credential(tmp_path: Path) -> None:
    ctx = PluginContext(name="jenkins-pipeline", instance_id="live", workdir=tmp_path)
    folder, credential = f"dtm-live-{uuid.uuid4().hex[:8]}", f"dtm-live-{uuid.uuid4().hex[:8]}"
    job = PipelineJob(description="dtm live test; safe to delete", clone_url="https://github.com/octo/none.git",
                      branch="main", credential_id=credential, scm="github", secret_token="unused")
    with JenkinsClient(ctx, URL, USER, TOKEN) as jenkins:
        assert {"workflow-job", "git"} <= set(jenkins.plugins())
        jenkins.create_item(folder, folder_config("dtm live test"))
        try:
            assert jenkins.put_credential(credential, password_credential(credential, "dtm live", "u", "p"), ["p"])
            jenkins.create_item(f"{folder}/job", job.config())
            first = jenkins.job_config(f"{folder}/job")
            assert first is not None and b"octo/none.git" in first
            jenkins.update_item(f"{folder}/job", PipelineJob(**{**job.__dict__, "branch": "dev"}).config())
            assert b"*/dev" in (jenkins.job_config(f"{folder}/job") or b"")
            assert jenkins.children(folder) == ["job"]
        finally:
            jenkins.delete_item(folder)
            jenkins.delete_credential(credential)
        assert jenkins.job_config(folder) is None and not jenkins.has_credential(credential)
