"""dtm configs with one app, as the end-to-end SCM tests write them: the app's repository scaffolded from the
template folder beside the config, and its CI from one pipeline template, with a local state.

(A module of its own, beside tests/conftest.py, so that every test folder can import it by name.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def write_app_config(path: Path, *, app: str, repo: dict[str, Any], pipeline: dict[str, Any]) -> Path:
    """Write the config to `path` and return it: the app `app` (a Python Flask service) in the repository `repo`,
    scaffolded from ./template, with CI from the pipeline template `pipeline` (its `name`, `type` and
    `options`)."""
    path.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}},
        "apps": [{"name": app, "spec": {"language": "python", "framework": "flask"},
                  "repo": repo,
                  "repoTemplate": {"url": "./template"},
                  "ci": [{"type": "template", "templateName": pipeline["name"]}]}],
        "pipelineTemplates": [pipeline],
    }, sort_keys=False))
    return path
