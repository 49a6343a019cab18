"""Opt-in: the Jira client against a real Jira Cloud site.

Runs only when `DTM_LIVE_JIRA_URL` (https://<site>.atlassian.net), `DTM_LIVE_JIRA_EMAIL`, `DTM_LIVE_JIRA_TOKEN`
(an API token of that account) and `DTM_LIVE_JIRA_PROJECT` (the key of a project it can see) are set. It only
reads: the project is found, a key that cannot exist is not, and a wrong token is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.jira.client import JiraClient

URL = os.environ.get("DTM_LIVE_JIRA_URL", "")
EMAIL = os.environ.get("DTM_LIVE_JIRA_EMAIL", "")
TOKEN = os.environ.get("DTM_LIVE_JIRA_TOKEN", "")
PROJECT = os.environ.get("DTM_LIVE_JIRA_PROJECT", "")

pytestmark = pytest.mark.skipif(not (URL and EMAIL and TOKEN and PROJECT),
                                reason="live Jira test: set DTM_LIVE_JIRA_URL, DTM_LIVE_JIRA_EMAIL, "
                                       "DTM_LIVE_JIRA_TOKEN and DTM_LIVE_JIRA_PROJECT to run it")


def test_live_project_lookup(tmp_path: Path) -> None:
    ctx = PluginContext(name="jira", instance_id="live", workdir=tmp_path)
    with JiraClient(ctx, URL, EMAIL, TOKEN) as jira:
        found = jira.project(PROJECT)
        assert found is not None and found.key == PROJECT
        assert jira.project("DTMNOSUCHPROJECT") is None
    with JiraClient(ctx, URL, EMAIL, "not-a-token") as jira, pytest.raises(PermanentError, match="refused"):
        jira.project(PROJECT)
