"""GitHub's side of the SCM layer: repositories, files, Actions secrets and webhooks over the REST API.

Every call goes through the plugin context's retrying httpx client (`ctx.http_client`), with a timeout, the
`2022-11-28` API version and the token as a Bearer header; the token is never logged or quoted. What the
transport gives up on (429 and 5xx after its retries) leaves as `TransientError`, so the engine may try
again later. GitHub's rate limits (a 403 or 429 with `Retry-After`, or with `X-RateLimit-Remaining: 0`) are
waited out by the transport when the reset is near (`DTM_RATE_LIMIT_WAIT`); a reset further away leaves as
`RateLimitError`, naming when it comes. A 401, a 404 where a resource must exist, or a 422 leave as
`PermanentError`.

The client is built in three parts: github_core.py (transport, errors, paging, repositories),
github_files.py (files and commits) and github_settings.py (Actions secrets and webhooks).
"""

from __future__ import annotations

from devstream.plugins.scm.github_core import API_URL, API_VERSION, TOKEN_ENV, api_url
from devstream.plugins.scm.github_files import GitHubFiles
from devstream.plugins.scm.github_settings import GitHubRepoSettings, encrypt_secret

__all__ = ["API_URL", "API_VERSION", "TOKEN_ENV", "GitHubClient", "api_url", "encrypt_secret"]


class GitHubClient(GitHubFiles, GitHubRepoSettings):
    """One GitHub repository, implementing the `ScmClient` protocol over the REST API: repositories (the
    core), files and commits, Actions secrets and webhooks."""
