"""GitClient and webhooks: plain git has none, so there is nothing to list or delete, and putting one says what
to do instead."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.scm.base import RepoSpec, Webhook
from devstream.plugins.scm.factory import scm_client
from devstream.plugins.scm.git import GitClient


def test_plain_git_has_no_webhooks_and_says_what_to_use_instead(ctx: PluginContext) -> None:
    repo = scm_client(RepoSpec(scmType="git", url="web.git"), ctx)
    assert isinstance(repo, GitClient)
    repo.create_repo()

    assert repo.list_webhooks() == []
    repo.delete_webhook("https://ci.example.com/hook")  # nothing to delete: success
    with pytest.raises(PermanentError) as refused:
        repo.put_webhook(Webhook(url="https://ci.example.com/hook?token=url-cred-0815", secret=SecretStr("whsec-4711")))

    message = str(refused.value)
    assert message.startswith("scmType git has no webhooks: cannot add one for https://ci.example.com/hook to ")
    assert "use a github or gitlab repository" in message and "post-receive hook" in message
    assert "url-cred-0815" not in message and "whsec-4711" not in message
