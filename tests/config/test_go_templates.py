"""DevStream's Go-template functions in `[[ ]]` render in dtm as they did in DevStream, still in jinja2's sandbox.

The config is a user's: vars, and a noop tool whose options use printf, default, if/else if/else/end, range
over a list var (and over a map), eq/ne, the leading-dot form, a pipeline, env, and a templated map key.
`dtm plan --json` (the installed command) shows the options as dtm will apply them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstream.errors import PermanentError
from devstream.plugins.scm.cifiles import render as render_ci_file

DTM = str(Path(sys.executable).with_name("dtm"))

CONFIG = """\
config:
  state: {backend: local}
vars:
  app: shop
  stage: ""
  replicas: 3
  regions: [eu, us]
  owners: {b: bob, a: ann}
  users:
  - {name: ann, admin: true}
  - {name: bob, admin: false}
tools:
- name: noop
  instanceID: go
  options:
    triggers:
      name: [[ printf "%s-%03d" .app .replicas ]]
      piped: [[ .app | printf "%s-web" ]]
      stage: [[ default "dev" .stage ]]
      kept: [[ default "dev" .app ]]
      size: [[ if gt .replicas 2 ]]large[[ else if eq .replicas 2 ]]pair[[ else ]]single[[ end ]]
      shop: [[ if ne .app "shop" ]]other[[ else ]]the shop[[ end ]]
      regions: "[[ range .regions ]][[ . ]];[[ end ]]"
      indexed: "[[ range $i, $r := .regions ]][[ $i ]]=[[ $r ]] [[ end ]]"
      admins: "[[ range .users ]][[ if .admin ]][[ .name ]][[ end ]][[ end ]]"
      owners: "[[ range .owners ]][[ . ]] [[ end ]]"
      count: [[ len .regions ]]
      token: [[ env DTM_GO_TEST_VALUE ]]
      "[[ .app ]]-url": https://[[ .app ]].example.com
"""


def dtm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DTM, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200", "DTM_GO_TEST_VALUE": "from-env"}, timeout=120)


def test_devstreams_go_template_functions_render_as_devstream_rendered_them(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG)

    planned = dtm("plan", "--json", cwd=tmp_path)

    assert planned.returncode == 0, planned.stderr
    (change,) = json.loads(planned.stdout)["changes"]
    assert change["after"]["options"]["triggers"] == {
        "name": "shop-003",
        "piped": "shop-web",
        "stage": "dev",
        "kept": "shop",
        "size": "large",
        "shop": "the shop",
        "regions": "eu;us;",
        "indexed": "0=eu 1=us ",
        "admins": "ann",
        "owners": "ann bob ",  # a map's values in key order, as Go ranges over a map
        "count": 2,
        "token": "from-env",
        "shop-url": "https://shop.example.com",  # the key is rendered too
    }


BAD = [  # (value, what the error says), one per line from line 8 on
    ('[[ upper .app ]]', "`upper` is not a function dtm renders in [[ ]]; dtm renders printf"),
    ('[[ template "other" ]]', "Go's `template` is not rendered by dtm"),
    ('"[[ if .app ]]open"', "[[ if ]] is never closed: add [[ end ]]"),
    ('[[ printf "%s" .app.__class__ ]]', "unsafe access refused by the template sandbox"),
    ('"[[ range .app.__class__.__mro__ ]][[ . ]][[ end ]]"', "unsafe access refused by the template sandbox"),
]


def test_what_dtm_does_not_render_fails_with_the_line_and_a_hint(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "vars:\n  app: shop\ntools:\n- name: noop\n  instanceID: bad\n  options:\n    triggers:\n"
        + "".join(f"      x{i}: {value}\n" for i, (value, _) in enumerate(BAD)))

    checked = dtm("validate", cwd=tmp_path)

    assert checked.returncode == 1
    problems = [line for line in checked.stderr.replace("\n  ", " ").splitlines() if "config.yaml:" in line]
    for i, (_, says) in enumerate(BAD):
        assert any(f"config.yaml:{8 + i}:" in p and says in p for p in problems), (says, checked.stderr)


def test_ci_files_render_go_templates_but_may_not_read_the_environment() -> None:
    text = "jobs:\n[[ range .Stages ]]  - [[ printf \"%s-%s\" $.AppName . ]]\n[[ end ]]"
    assert render_ci_file(text, {"AppName": "shop", "Stages": ["build", "test"]}, "ci.yml") == (
        "jobs:\n  - shop-build\n  - shop-test\n")
    with pytest.raises(PermanentError, match="ci.yml:1: .*`env` is not available"):
        render_ci_file('token: [[ env "GITHUB_TOKEN" ]]', {}, "ci.yml")
