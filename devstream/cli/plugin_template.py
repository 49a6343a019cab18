"""The files `dtm develop create-plugin` writes: a plugin package that works, is tested, and installs.

The plugin manages one item of an HTTP API (PUT/GET/DELETE /items/<name>, a bearer token): the shape of
most plugins, and small enough to replace. Its package carries an in-memory stand-in of that API and the
harness the conformance suite needs, registered under `devstream.conformance` so that
`dtm develop validate-plugin NAME` can run the whole suite against the installed plugin.
"""

from __future__ import annotations

from string import Template

__all__ = ["FILES"]

PYPROJECT = Template('''\
[build-system]
requires = ["setuptools>=68", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "The $name plugin for dtm (DevStream on Prefect)"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["dtm>=$dtm_version", "httpx>=0.27"]

[project.optional-dependencies]
test = ["pytest>=8", "jsonschema>=4.18"]

# dtm finds the plugin here; `dtm list plugins` shows it.
[project.entry-points."devstream.plugins"]
$name = "$module:$cls"

# `dtm develop validate-plugin $name` runs the conformance suite with this harness.
[project.entry-points."devstream.conformance"]
$name = "$module.testing:harness"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
''')

INIT = Template('''\
"""The $name plugin for dtm."""

from $module.plugin import $cls, ${cls_base}Options

__all__ = ["$cls", "${cls_base}Options"]
''')

PLUGIN = Template('''\
"""The $name plugin: one item of an HTTP API, created, read, updated and deleted through its REST calls.

Replace the API calls with your system's; keep the contract (see the docstrings of
`devstream.plugin.Plugin`), which `tests/test_conformance.py` checks with dtm's conformance suite.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from devstream.plugin import (
    Field,
    PermanentError,
    Plugin,
    PluginContext,
    PluginOptions,
    ResourceStatus,
    SecretStr,
    raise_for_status,
)


class ${cls_base}Options(PluginOptions):
    """One item of the API at `baseURL`. Every option has a description: editors show it (`dtm schema`)."""

    baseURL: str = Field(description="The API's address, such as https://api.example.com.")
    token: SecretStr = Field(description="The API token; sent to baseURL only, never stored or logged in clear.")
    item: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$$", description="The item's name, its key in the API.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels the item carries.")


class $cls(Plugin[${cls_base}Options]):
    """Manages one item: `PUT /items/<item>` makes it as the options say, `GET` reads it, `DELETE` removes it."""

    name: ClassVar[str] = "$name"
    description: ClassVar[str] = "One item of an HTTP API (a plugin made by dtm develop create-plugin)."
    Options: ClassVar[type[${cls_base}Options]] = ${cls_base}Options
    import_id: ClassVar[str] = "the item's name"  # what `dtm import KEY ID` takes; leave empty if it cannot

    def create(self, options: ${cls_base}Options, ctx: PluginContext) -> ResourceStatus:
        """Make the item and return its status. `ctx.prior` is None for a new tool; the item may exist already
        (made by hand, or by a create that failed half-way): PUT adopts it. Returns what `read` returns next."""
        with _client(options, ctx) as http:
            answer = raise_for_status(http.put(_path(options), json=_body(options)))
        return _status(answer.json())

    def read(self, options: ${cls_base}Options, ctx: PluginContext) -> ResourceStatus | None:
        """The item's live status, or None when it does not exist (never created, or deleted outside dtm).
        Changes nothing. A status that differs from the recorded one (`ctx.prior`) is drift."""
        with _client(options, ctx) as http:
            answer = http.get(_path(options))
            if answer.status_code == 404:
                return None
            raise_for_status(answer)
        return _adopted(_status(answer.json()), ctx.prior)

    def import_resource(self, resource_id: str, options: ${cls_base}Options, ctx: PluginContext
                        ) -> ResourceStatus | None:
        """`dtm import KEY ITEM`: adopt an existing item. Returns the status create would have returned, so the
        next plan shows where the item differs from the options as drift; marked adopted unless `ctx.owned`,
        so that delete leaves it."""
        if resource_id != options.item:
            raise PermanentError(f"{resource_id} is not the item {ctx.key} describes ({options.item})")
        live = self.read(options, ctx)
        if live is None:
            return None
        status = {**live, "labels": dict(options.labels)}
        return status if ctx.owned else {**status, "adopted": True}

    def update(self, options: ${cls_base}Options, ctx: PluginContext) -> ResourceStatus:
        """Make the existing item match the options (changed options, or drift). `ctx.prior` is the status of
        the last create or update. The same options change nothing: PUT of the same body. Returns the status."""
        return _adopted(self.create(options, ctx), ctx.prior)

    def delete(self, options: ${cls_base}Options, ctx: PluginContext) -> None:
        """Remove the item; one already gone is success. Afterwards `read` returns None. An item adopted by
        `dtm import` was not made by dtm: it stays."""
        if (ctx.prior or {}).get("adopted"):
            ctx.logger.warning("%s: item %s was adopted by dtm import, so it is left in place", ctx.key, options.item)
            return
        with _client(options, ctx) as http:
            answer = http.delete(_path(options))
            if answer.status_code != 404:
                raise_for_status(answer)

    def output_keys(self, options: ${cls_base}Options) -> set[str] | None:
        return {"id"}


def _client(options: ${cls_base}Options, ctx: PluginContext) -> httpx.Client:
    # dtm's client: retries 429/5xx and timeouts, keeps tokens out of logs and errors.
    return ctx.http_client(base_url=options.baseURL,
                           headers={"Authorization": f"Bearer {options.token.get_secret_value()}"})


def _path(options: ${cls_base}Options) -> str:
    return f"/items/{options.item}"


def _body(options: ${cls_base}Options) -> dict[str, Any]:
    return {"labels": options.labels}


def _adopted(status: ResourceStatus, prior: ResourceStatus | None) -> ResourceStatus:
    """The status, still marked adopted while the recorded one was."""
    return {**status, "adopted": True} if (prior or {}).get("adopted") else status


def _status(item: dict[str, Any]) -> ResourceStatus:
    return {"item": item["name"], "labels": item.get("labels", {}), "outputs": {"id": item["id"]}}
''')

TESTING = Template('''\
"""A test double of the items API, and the conformance harness for it (`devstream.conformance` entry point)."""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any

import httpx

from devstream.plugin import PluginContext, http_client
from devstream.testing import Harness, http_failures
from $module.plugin import $cls

TOKEN = "token-of-the-test-double"
_ITEM = re.compile(r"^/items/(?P<name>[A-Za-z0-9._-]+)$$")


class ItemsAPI:
    """The items API in memory: PUT/GET/DELETE /items/<name>, bearer token required."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.items: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"message": "bad credentials"})
        match = _ITEM.match(request.url.path)
        if match is None:
            return httpx.Response(404, json={"message": "no such route"})
        name = match["name"]
        if request.method == "GET":
            item = self.items.get(name)
            return httpx.Response(200, json=item) if item else httpx.Response(404, json={"message": "not found"})
        if request.method == "PUT":
            body = json.loads(request.content or b"{}")
            old = self.items.get(name)
            self.items[name] = {"name": name, "id": old["id"] if old else next(self._ids),
                                "labels": dict(body.get("labels") or {})}
            return httpx.Response(200 if old else 201, json=self.items[name])
        if request.method == "DELETE":
            if self.items.pop(name, None) is None:
                return httpx.Response(404, json={"message": "not found"})
            return httpx.Response(204)
        return httpx.Response(405, json={"message": "method not allowed"})

    def client_factory(self, **kwargs: Any) -> httpx.Client:
        """What `ctx.http_client` builds, talking to this double."""
        kwargs["transport"] = httpx.MockTransport(self.handle)
        return http_client(**kwargs)


def harness(workdir: Path) -> Harness:
    """A fresh double and the options, context and failures the conformance suite needs."""
    api = ItemsAPI()
    options = {"baseURL": "https://items.example.com", "token": TOKEN, "item": "demo", "labels": {"team": "a"}}
    ctx = PluginContext(name="$name", instance_id="conformance", workdir=workdir, client_factory=api.client_factory)
    return Harness(plugin=$cls(), options=options, context=ctx, snapshot=lambda: copy.deepcopy(api.items),
                   failures=http_failures(options, ctx), import_id="demo")
''')

TEST_CONFORMANCE = Template('''\
"""dtm's conformance suite against the $name plugin and its test double: one test per rule of the contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstream.testing import Harness, PluginConformance
from $module.testing import harness


class Test${cls_base}Conformance(PluginConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Harness:
        return harness(tmp_path)
''')

README = Template('''\
# $dist: the $name plugin for dtm

A dtm (DevStream on Prefect) plugin that manages one item of an HTTP API. Made by
`dtm develop create-plugin $name`; replace the API calls in `src/$module/plugin.py` with your system's.

```yaml
tools:
- name: $name
  instanceID: demo
  options:
    baseURL: https://api.example.com
    token: "[[ env \\"ITEMS_TOKEN\\" ]]"
    item: demo
    labels: {team: platform}
```

## Develop

    pip install -e ".[test]"        # beside dtm
    pytest                          # the conformance suite, against the in-memory API in testing.py
    dtm develop validate-plugin $name

The contract (`devstream.plugin.Plugin`): `create` and `update` return the status `read` returns next;
`read` returns None when the item does not exist; `delete` of what is gone succeeds; secrets are
`SecretStr` and never appear in a status or an error; failures raise `TransientError` or
`PermanentError` (`raise_for_status` does it for HTTP).

## Publish

Build a wheel (`pip wheel --no-deps .`), put it on an index, and list it in a plugin index so that
`dtm init` installs it (see dtm's README, "Installing plugins").
''')

FILES: dict[str, Template] = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "src/$module/__init__.py": INIT,
    "src/$module/plugin.py": PLUGIN,
    "src/$module/testing.py": TESTING,
    "tests/test_conformance.py": TEST_CONFORMANCE,
}
