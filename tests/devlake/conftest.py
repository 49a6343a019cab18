"""Fixtures for the DevLake tests: the stand-in served on loopback, and a check after each test that DevLake would
have taken every request dtm sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from devlake_standin import DevLakeStandIn
from http_standin import serve


@pytest.fixture
def devlake() -> Iterator[DevLakeStandIn]:
    made = DevLakeStandIn()
    yield made
    assert not made.problems, "requests DevLake would not take:\n" + "\n".join(made.problems)


@pytest.fixture
def devlake_url(devlake: DevLakeStandIn) -> Iterator[str]:
    with serve(devlake) as address:
        yield address.replace("tcp://", "http://", 1)
