"""dtm saves Prefect one concurrency-limit lookup per tagged task (flows/execute.py `_skip_tag_limit_lookups`).

Prefect offers no public way to do that, so dtm writes to a private Prefect cache, in that one function. These
tests watch Prefect's public client method that asks the server for a task's tag limits: after dtm has said
the tags have no limit, a tagged task runs without asking. If a Prefect upgrade renames the cache or stops
reading it, they fail, and the shortcut is never lost silently.
"""

from __future__ import annotations

import time
import uuid

import pytest
from prefect import flow, task
from prefect.client.orchestration import PrefectClient

from devstream.flows.execute import (
    TaskVariants,
    _skip_tag_limit_lookups,
    _tell_prefect_no_limits,
    telling_prefect_no_limits,
)

pytestmark = pytest.mark.usefixtures("prefect_server")


@task
def touch() -> str:
    return "done"


def count_limit_lookups(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The tag sets Prefect asks the server about (its public client call), as a list that fills as it asks."""
    asked: list[object] = []
    real = PrefectClient.increment_concurrency_slots_with_lease

    async def counting(self: PrefectClient, *args: object, **kwargs: object) -> object:
        asked.append(kwargs.get("names"))
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(PrefectClient, "increment_concurrency_slots_with_lease", counting)
    return asked


def lookups_made_by_a_task_tagged(tags: list[str], monkeypatch: pytest.MonkeyPatch, dtm_says_no_limit: bool) -> int:
    """How often Prefect asked the server for the tags' limits while running one task with those tags."""
    asked = count_limit_lookups(monkeypatch)

    @flow
    def one_tagged_task() -> str:
        # Right before the task, as dtm does when it submits one (Prefect forgets the answer after 5 s).
        if dtm_says_no_limit:
            assert _skip_tag_limit_lookups(tags) is True
        return touch.with_options(tags=tags)()

    assert one_tagged_task() == "done"
    return len(asked)


def test_a_tagged_task_asks_prefect_for_its_limits_when_dtm_said_nothing(monkeypatch):
    # The control: without dtm's word, Prefect looks the tags up (so the next test can fail).
    tags = [f"dtm-plugin-{uuid.uuid4().hex[:8]}"]
    assert lookups_made_by_a_task_tagged(tags, monkeypatch, dtm_says_no_limit=False) >= 1


def test_after_dtm_says_the_tags_have_no_limit_the_task_does_not_ask(monkeypatch):
    tags = [f"dtm-plugin-{uuid.uuid4().hex[:8]}", "dtm-system-github"]
    assert lookups_made_by_a_task_tagged(tags, monkeypatch, dtm_says_no_limit=True) == 0


def test_dtm_keeps_telling_prefect_while_a_run_outlasts_prefects_memory(monkeypatch):
    # Prefect forgets a "no limit" answer after 5 s; a run of 500 changes lasts longer, and every task that
    # started later asked the server again, one at a time (38 s of a 49 s apply on a busy machine).
    tags = [f"dtm-plugin-{uuid.uuid4().hex[:8]}"]
    asked = count_limit_lookups(monkeypatch)

    @flow
    def a_long_run() -> str:
        variants = TaskVariants()
        tagged = variants(touch, tags[0].removeprefix("dtm-plugin-"))
        with telling_prefect_no_limits(variants, every=1.0):
            time.sleep(6.5)  # the changes that start after Prefect's memory of dtm's first word ran out
            return tagged()

    assert a_long_run() == "done"
    assert asked == []


def test_a_tag_shared_by_several_tag_sets_is_looked_up_once(monkeypatch):
    # GitHub's plugins share `dtm-system-github`: each period asks the server once per distinct tag.
    from prefect.client.orchestration import SyncPrefectClient

    looked_up: list[str] = []
    real = SyncPrefectClient.read_global_concurrency_limit_by_name

    def counting(self: SyncPrefectClient, name: str) -> object:
        looked_up.append(name)
        return real(self, name)

    monkeypatch.setattr(SyncPrefectClient, "read_global_concurrency_limit_by_name", counting)
    plugins = [f"dtm-plugin-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    sets = [frozenset({plugin, "dtm-system-github"}) for plugin in plugins]
    assert _tell_prefect_no_limits(sets) == set(sets)
    assert sorted(looked_up) == sorted(f"tag:{tag}" for tag in [*plugins, "dtm-system-github"])
