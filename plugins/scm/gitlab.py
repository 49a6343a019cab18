"""GitLab over its REST API v4: projects, files, one-commit pushes, CI/CD variables and webhooks.

Where the API is: `apiURL` when given, else `<baseURL>/api/v4`, else the host of a non-gitlab.com `url`,
and only when none of these is given `https://gitlab.com/api/v4`. A self-hosted GitLab is therefore never
mistaken for gitlab.com (DevStream's gitlabci-generic POSTed to gitlab.com whatever `baseURL` said, #1019).
An address without the `/api/v4` suffix gets it, as GitLab's own clients do.

Requests carry the token in the `PRIVATE-TOKEN` header, which is never logged and is scrubbed from error
text. They go through the context's retrying client: 429 and 5xx are retried (honouring `Retry-After`) and
a failure that outlasts the retries is a `TransientError`. Lists follow `X-Next-Page` (offset pagination)
or a `Link: rel="next"` header (keyset pagination) to the end.

Whether a commit is still on a branch (its head or an ancestor) is asked of the merge-base API: the commit
is on the branch when it is its own merge base with the branch.

The client is built in three parts: gitlab_core.py (transport, errors, paging, the project),
gitlab_files.py (files and commits) and gitlab_settings.py (CI/CD variables, runners and webhooks).

A project is addressed by its URL-encoded path (`group%2Fsub%2Fname`), so no id lookup is needed.
File identity is the git blob SHA that GitLab reports as `blob_id` (the tree's `id`, the
`X-Gitlab-Blob-Id` header), so what was pushed can be compared with what is there without downloading it.

Project webhooks are found by URL and created (POST) or updated in place (PUT). Their events are GitLab's
`*_events` flags, mapped from dtm's (GitHub's) event names by `WEBHOOK_EVENTS` in base.py: every flag of that
table is sent, true or false, because GitLab turns `push_events` on when it is left out; flags outside the
table are left as they are. The secret is the hook's `token` (sent empty to remove one, since a PUT without
it keeps or drops the old one depending on the GitLab version). GitLab cannot pause a hook, so `active=False`
is refused.
"""

from __future__ import annotations

from devstream.plugins.scm.gitlab_core import GITLAB_COM, api_url, project_path
from devstream.plugins.scm.gitlab_files import GitLabFiles
from devstream.plugins.scm.gitlab_settings import GitLabProjectSettings, gitlab_hook_flags, maskable

__all__ = ["GITLAB_COM", "GitLabClient", "api_url", "gitlab_hook_flags", "maskable", "project_path"]


class GitLabClient(GitLabFiles, GitLabProjectSettings):
    """One GitLab project, through the REST API v4 (an `ScmClient`): the project (the core), files and commits,
    CI/CD variables, runners and webhooks.

    The HTTP client is made on the first request and closed by `close()` (or leaving a `with` block).
    The token comes from `spec.token`, else from the `GITLAB_TOKEN` environment variable, as DevStream did.

    Args:
        spec: where the project is; `scmType` must be `gitlab`.
        ctx: the plugin call's context: its logger and its (retrying) HTTP client.
        timeout: seconds allowed for each request (connecting: at most 10).

    Example:
        >>> with GitLabClient(RepoSpec(scmType="gitlab", org="acme", name="web"), ctx) as gitlab:  # doctest: +SKIP
        ...     gitlab.push_files({".gitlab-ci.yml": b"test: {script: [make]}\\n"}, "ci: add the pipeline")
    """
