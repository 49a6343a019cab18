"""Options as DevStream's users wrote them, through the installed `dtm`: keys in another letter case (DevStream's
decoder matched them so), blank dependsOn entries, DevStream's default workflow location; and what DevStream
refused (a repository with both owner and org) refused here too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DTM = str(Path(sys.executable).with_name("dtm"))

CONFIG = """\
config: {state: {backend: local}}
tools:
- name: gitlab-ci
  instanceID: ci
  dependsOn: ["", "  "]
  options:
    SCM: {scmType: gitlab, Owner: alice, name: web, baseUrl: "https://gitlab.example.com", Visibility: private}
    pipeline: {}
"""


def dtm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DTM, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200"}, timeout=120)


def test_devstreams_spellings_are_taken_as_devstream_took_them(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG)

    planned = dtm("plan", "--json", cwd=tmp_path)

    assert planned.returncode == 0, planned.stderr
    (change,) = json.loads(planned.stdout)["changes"]
    assert change["after"]["options"]["scm"] == {"scmType": "gitlab", "owner": "alice", "name": "web",
                                                 "baseURL": "https://gitlab.example.com", "visibility": "private"}
    checked = dtm("validate", "--json", cwd=tmp_path)
    assert json.loads(checked.stdout)["tools"][0]["dependsOn"] == []  # blank entries name nothing


def test_a_repository_with_both_owner_and_org_is_refused_as_devstream_refused_it(tmp_path: Path) -> None:
    both = CONFIG.replace("SCM:", "scm:").replace("Owner: alice", "owner: alice, org: acme")
    (tmp_path / "config.yaml").write_text(both)

    checked = dtm("validate", cwd=tmp_path)

    assert checked.returncode == 1
    assert "config.yaml:7" in checked.stderr and "not both" in checked.stderr
