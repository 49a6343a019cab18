"""Fixtures for the Docker tests: the Engine API stand-in on a real unix socket, and its official description.

After each test, every request dtm sent to the stand-in, and every answer it gave to dtm or to the real `docker`
CLI, is checked against the Engine API's description; anything it does not allow fails the test.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_standin import GITLAB_IMAGE, DockerStandIn
from docker_swagger import fetch
from http_standin import serve
from swagger2 import Swagger2

from devstream.plugin import PluginContext


@pytest.fixture(scope="session")
def engine_api() -> Swagger2:
    # image names hold slashes (gitlab/gitlab-ce): the description's `{name}` takes them whole
    return Swagger2.load(fetch(), slashed=frozenset({"name"}))


def nonconforming(standin: DockerStandIn, api: Swagger2) -> list[str]:
    problems: list[str] = []
    for seen in standin.requests:
        # dtm's requests are held to the description; the docker CLI's are not (it sends newer fields, which an
        # engine of this API version ignores), but every answer, to any client, is
        if not seen.client.startswith("Docker-Client/"):
            problems += api.request_problems(seen.method, seen.path, seen.query, seen.body)
        if seen.method != "HEAD":  # a JSON answer is held to its schema; a stream or text to its status only
            answer = seen.answer if isinstance(seen.answer, dict | list) else None  # not text, bytes or a stream
            problems += api.response_problems(seen.method, seen.path, seen.status, answer)
    return problems


@pytest.fixture
def standin(engine_api: Swagger2) -> Iterator[DockerStandIn]:
    made = DockerStandIn(registry={GITLAB_IMAGE: True, "gitlab/gitlab-ce:16.11.2-ce.0": True})
    yield made
    problems = nonconforming(made, engine_api)
    assert not problems, "requests or answers the Engine API's description does not allow:\n" + "\n".join(problems)


@pytest.fixture
def docker_host(standin: DockerStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The stand-in on a unix socket (a short path: sockets allow about 100 bytes), as DOCKER_HOST."""
    folder = Path(tempfile.mkdtemp(prefix="dtm-docker-", dir="/tmp"))
    try:
        with serve(standin, folder / "docker.sock") as host:
            monkeypatch.setenv("DOCKER_HOST", host)
            yield host
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def ctx(tmp_path: Path) -> PluginContext:
    return PluginContext(name="gitlab-ce-docker", instance_id="default", workdir=tmp_path)
