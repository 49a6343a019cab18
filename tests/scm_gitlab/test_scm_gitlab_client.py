"""GitLabClient against the stand-in: where it talks to, projects, variables, retries, and the token kept out
of logs and errors. Files and one-commit pushes: test_scm_gitlab_files.py."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from gitlab_standin import GitLabStandIn
from pydantic import SecretStr

from devstream.errors import PermanentError, TransientError
from devstream.plugin.base import PluginContext
from devstream.plugins.scm.base import RepoSpec, ScmClient
from devstream.plugins.scm.factory import scm_client
from devstream.plugins.scm.gitlab import GitLabClient, api_url, maskable, project_path

TOKEN = "glpat-standin-0123456789"


def spec(**kwargs: Any) -> RepoSpec:
    fields: dict[str, Any] = {"scmType": "gitlab", "org": "acme", "name": "web", "token": TOKEN}
    return RepoSpec(**(fields | kwargs))


@pytest.fixture
def client(ctx: PluginContext) -> GitLabClient:
    return GitLabClient(spec(branch="master"), ctx)


# -- where ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "expected"), [
    ({}, "https://gitlab.com/api/v4"),
    ({"baseURL": "https://git.example.internal"}, "https://git.example.internal/api/v4"),
    ({"baseURL": "https://git.example.internal/"}, "https://git.example.internal/api/v4"),
    ({"baseURL": "https://example.com/gitlab"}, "https://example.com/gitlab/api/v4"),
    ({"baseURL": "http://10.0.0.5:8080"}, "http://10.0.0.5:8080/api/v4"),
    ({"apiURL": "https://api.example.internal/api/v4/", "baseURL": "https://git.example.internal"},
     "https://api.example.internal/api/v4"),
    ({"apiURL": "https://git.example.internal"}, "https://git.example.internal/api/v4"),
    ({"url": "https://git.example.internal:8443/acme/web.git"}, "https://git.example.internal:8443/api/v4"),
    ({"url": "git@git.example.internal:acme/web.git"}, "https://git.example.internal/api/v4"),
    ({"url": "https://gitlab.com/acme/web.git"}, "https://gitlab.com/api/v4"),
])
def test_the_api_address_never_falls_back_to_gitlab_com_when_another_is_given(fields: dict[str, Any],
                                                                              expected: str) -> None:
    assert api_url(spec(**fields)) == expected


def test_an_address_that_is_not_http_is_refused() -> None:
    with pytest.raises(PermanentError, match="baseURL 'git.example.internal' is not an http"):
        api_url(spec(baseURL="git.example.internal"))


def test_the_project_path_comes_from_org_or_owner_and_name_or_from_the_url() -> None:
    assert project_path(spec()) == "acme/web"
    assert project_path(spec(org=None, owner="alice")) == "alice/web"
    assert project_path(spec(org="acme/platform")) == "acme/platform/web"
    assert project_path(spec(org=None, name=None, url="https://git.example.internal/acme/sub/web.git")) == \
        "acme/sub/web"
    with pytest.raises(PermanentError, match="cannot tell the GitLab project"):
        project_path(spec(org=None, name=None))


def test_the_factory_gives_a_gitlab_client(ctx: PluginContext) -> None:
    client = scm_client(spec(), ctx)
    assert isinstance(client, GitLabClient)
    _: ScmClient = client  # the protocol is met (checked by type checkers)


def test_every_request_goes_to_the_self_hosted_gitlab(tmp_path: Path) -> None:
    # DevStream #1019: with baseURL set, gitlabci-generic still POSTed to gitlab.com and got 401.
    internal = GitLabStandIn("https://git.example.internal")
    internal.add_namespace("acme")
    ctx = PluginContext(name="gitlab-ci", instance_id="web", workdir=tmp_path, client_factory=internal.client_factory)

    with GitLabClient(spec(baseURL="https://git.example.internal", branch="master"), ctx) as client:
        assert client.describe_repo() is None
        info = client.create_repo()
        client.push_files({"README.md": b"hi\n"}, "init")
        client.list_files()
        client.put_secret("DEPLOY_KEY", "s3cr3t-value-xyz")
        client.list_secrets()
        client.delete_secret("DEPLOY_KEY")
        client.delete_repo()

    assert info.html_url == "https://git.example.internal/acme/web"
    assert len(internal.requests) > 8
    assert internal.hosts() == {"git.example.internal"}
    assert all(str(r.url).startswith("https://git.example.internal/api/v4/") for r in internal.requests)


def test_a_url_alone_locates_a_self_hosted_project(tmp_path: Path) -> None:
    internal = GitLabStandIn("https://git.example.internal")
    internal.add_project("acme/web", {"a.txt": b"a"})
    ctx = PluginContext(name="gitlab-ci", instance_id="web", workdir=tmp_path, client_factory=internal.client_factory)
    located = RepoSpec(scmType="gitlab", url="https://git.example.internal/acme/web.git", token=SecretStr(TOKEN))

    info = GitLabClient(located, ctx).describe_repo()

    assert info is not None and info.full_name == "acme/web"
    assert internal.hosts() == {"git.example.internal"}


# -- projects ------------------------------------------------------------------------------------------------

def test_describe_is_none_for_a_missing_project_and_the_project_otherwise(gitlab: GitLabStandIn,
                                                                         client: GitLabClient) -> None:
    assert client.describe_repo() is None
    project = gitlab.add_project("acme/web", {"a.txt": b"a"}, branch="master")

    info = client.describe_repo()

    assert info is not None
    assert info.model_dump() == {"full_name": "acme/web", "default_branch": "master",
                                 "clone_url": "https://gitlab.com/acme/web.git",
                                 "html_url": "https://gitlab.com/acme/web", "id": str(project.id)}
    # The path is URL-encoded into one segment, as GitLab requires.
    assert gitlab.requests[-1].url.raw_path == b"/api/v4/projects/acme%2Fweb"


def test_create_makes_an_empty_private_project_in_the_group(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    info = client.create_repo(description="the web app")

    project = gitlab.project("acme/web")
    assert info.full_name == "acme/web"
    assert project.namespace.full_path == "acme"
    assert project.visibility == "private" and project.empty and project.description == "the web app"
    create = gitlab.calls("POST", "/projects")[0]
    assert httpx.Response(200, content=create.content).json() == {
        "name": "web", "path": "web", "visibility": "private", "initialize_with_readme": False,
        "description": "the web app", "namespace_id": gitlab.namespaces["acme"].id}


def test_create_for_the_tokens_own_user_uses_the_default_namespace(gitlab: GitLabStandIn, ctx: PluginContext) -> None:
    GitLabClient(spec(org=None, owner="alice"), ctx).create_repo(private=False)

    project = gitlab.project("alice/web")
    assert project.visibility == "public"
    GitLabClient(spec(name="api", visibility="internal"), ctx).create_repo(private=False)
    assert gitlab.project("acme/api").visibility == "internal"  # destinationRepo.visibility decides
    body = httpx.Response(200, content=gitlab.calls("POST", "/projects")[0].content).json()
    assert "namespace_id" not in body


def test_create_in_a_subgroup_read_from_the_url_finds_its_namespace(gitlab: GitLabStandIn,
                                                                     ctx: PluginContext) -> None:
    gitlab.add_namespace("acme/platform")
    located = RepoSpec(scmType="gitlab", url="https://gitlab.com/acme/platform/web.git",
                       token=SecretStr(TOKEN))

    GitLabClient(located, ctx).create_repo()

    assert gitlab.project("acme/platform/web").namespace.full_path == "acme/platform"


def test_create_of_an_existing_project_describes_it(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    existing = gitlab.add_project("acme/web", {"a.txt": b"a"})

    info = client.create_repo()

    assert info.id == str(existing.id)
    assert gitlab.calls("POST", "/projects")  # it was asked, and answered "has already been taken"
    assert len(gitlab.projects) == 1


def test_create_in_an_unknown_group_says_so(client: GitLabClient, gitlab: GitLabStandIn) -> None:
    del gitlab.namespaces["acme"]
    with pytest.raises(PermanentError, match="namespace 'acme' not found"):
        client.create_repo()


def test_delete_is_fine_when_gone_and_a_scheduled_deletion_counts_as_gone(ctx: PluginContext) -> None:
    delayed = GitLabStandIn(delayed_deletion=True)
    delayed.add_project("acme/web", {"a.txt": b"a"})
    ctx.client_factory = delayed.client_factory
    client = GitLabClient(spec(), ctx)

    client.delete_repo()  # 202 Accepted: scheduled
    assert delayed.project("acme/web").marked_for_deletion
    assert client.describe_repo() is None
    with pytest.raises(PermanentError, match="scheduled for deletion"):
        client.create_repo()

    del delayed.projects["acme/web"]
    client.delete_repo()  # 404: already gone


# -- CI/CD variables ------------------------------------------------------------------------------------------

def test_variables_are_created_masked_when_possible_then_updated(gitlab: GitLabStandIn,
                                                                  client: GitLabClient) -> None:
    gitlab.add_project("acme/web")

    client.put_secret("TOKEN", "abcdefgh12345678", description="ours")
    client.put_secret("SHORT", "abc")
    client.put_secret("TOKEN", "other-value-0000")

    token = gitlab.variable("acme/web", "TOKEN")
    assert token == {"key": "TOKEN", "value": "other-value-0000", "variable_type": "env_var", "protected": False,
                     "masked": True, "raw": True, "environment_scope": "*", "description": "ours"}
    short = gitlab.variable("acme/web", "SHORT")
    assert short is not None and short["masked"] is False and short["value"] == "abc"
    assert client.list_secrets() == ["SHORT", "TOKEN"]
    assert [r.method for r in gitlab.calls(contains="/variables")] == ["POST", "POST", "POST", "PUT", "GET"]


@pytest.mark.parametrize(("value", "ok"), [
    ("abcdefgh", True), ("a+b/c=d_e@f:g.h~i-j", True), ("abcdefg", False), ("with space 123", False),
    ("line\nbreak1", False), ("dollar$1234", False), ("quote'12345", False),
])
def test_maskable_follows_gitlabs_rules(value: str, ok: bool) -> None:
    assert maskable(value) is ok


def test_variables_are_listed_across_pages_and_scopes(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    project = gitlab.add_project("acme/web")
    project.variables += [{"key": f"V{i:03}", "value": "v", "environment_scope": "*", "masked": False,
                           "protected": False} for i in range(130)]
    project.variables.append({"key": "V000", "value": "p", "environment_scope": "production", "masked": False,
                              "protected": False})

    names = client.list_secrets()

    assert names == [f"V{i:03}" for i in range(130)]
    assert len(gitlab.calls("GET", "/variables")) == 2


def test_a_key_with_several_scopes_is_updated_and_deleted_in_the_all_scope_only(gitlab: GitLabStandIn,
                                                                               client: GitLabClient) -> None:
    project = gitlab.add_project("acme/web")
    project.variables.append({"key": "K", "value": "prod-value", "environment_scope": "production",
                              "masked": False, "protected": True})

    client.put_secret("K", "all-envs-value")
    client.put_secret("K", "all-envs-value-2")
    client.delete_secret("K")

    assert [(v["key"], v["environment_scope"], v["value"]) for v in project.variables] == [
        ("K", "production", "prod-value")]


def test_deleting_a_missing_variable_is_fine(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.add_project("acme/web")
    client.delete_secret("NEVER")
    client.delete_secret("NEVER")


def test_a_refused_variable_error_does_not_quote_the_value(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.add_project("acme/web")
    secret = "p@ss-w0rd-quoted-back"
    gitlab.fail_next(1, status=422, retry_after=None)
    gitlab._failures[0] = httpx.Response(422, json={"message": {"value": [f"{secret} is not allowed"]}})

    with pytest.raises(PermanentError) as failure:
        client.put_secret("PASSWORD", secret)

    assert secret not in str(failure.value)
    assert "gitlab acme/web" in str(failure.value) and "***" in str(failure.value)


# -- retries, errors, the token -----------------------------------------------------------------------------

def test_a_429_is_retried_after_the_time_gitlab_asks(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.add_project("acme/web")
    gitlab.fail_next(2, status=429, retry_after="3")

    client.put_secret("TOKEN", "abcdefgh12345678")  # a POST: retried because GitLab said when

    assert gitlab.sleeps == [3.0, 3.0]
    assert gitlab.variable("acme/web", "TOKEN") is not None


def test_a_lasting_5xx_becomes_a_transient_error_after_the_retries(gitlab: GitLabStandIn,
                                                                    client: GitLabClient) -> None:
    gitlab.fail_next(10, status=503, retry_after=None)

    with pytest.raises(TransientError, match="gitlab acme/web: GET .*/projects/acme%2Fweb returned 503"):
        client.describe_repo()

    assert len(gitlab.requests) == 5 and len(gitlab.sleeps) == 4


def test_a_wrong_token_is_a_permanent_error_with_a_hint_and_never_shown(gitlab: GitLabStandIn, ctx: PluginContext,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "glpat-wrong-token-abcdef"

    with pytest.raises(PermanentError, match="401.*the token was refused") as failure:
        GitLabClient(spec(token=wrong), ctx).describe_repo()

    assert wrong not in str(failure.value)
    assert gitlab.requests[0].headers["PRIVATE-TOKEN"] == wrong
    assert wrong not in caplog.text and TOKEN not in caplog.text


def test_the_token_never_reaches_the_logs(gitlab: GitLabStandIn, client: GitLabClient,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gitlab.fail_next(1)
    client.create_repo()
    client.push_files({"a": b"a"}, "m")

    assert caplog.text and TOKEN not in caplog.text


def test_without_a_token_it_says_where_to_put_one(ctx: PluginContext) -> None:
    with pytest.raises(PermanentError, match="no access token: set scm.token"):
        GitLabClient(spec(token=None), ctx).describe_repo()


def test_the_gitlab_token_variable_is_the_fallback(gitlab: GitLabStandIn, ctx: PluginContext,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    gitlab.add_project("acme/web")

    assert GitLabClient(spec(token=None), ctx).describe_repo() is not None


def test_a_github_spec_is_refused(ctx: PluginContext) -> None:
    with pytest.raises(PermanentError, match="scmType must be gitlab"):
        GitLabClient(spec(scmType="github"), ctx)


# -- the stand-in answers like GitLab ----------------------------------------------------------------------

def test_the_standin_rejects_what_gitlab_rejects(gitlab: GitLabStandIn) -> None:
    gitlab.add_project("acme/web", {"a.txt": b"a"}, branch="main")
    api = httpx.Client(transport=httpx.MockTransport(gitlab), base_url="https://gitlab.com/api/v4",
                       headers={"PRIVATE-TOKEN": TOKEN})
    commits = "/projects/acme%2Fweb/repository/commits"

    def commit(**body: Any) -> httpx.Response:
        return api.post(commits, json={"commit_message": "m", **body})

    exists = commit(branch="main", actions=[{"action": "create", "file_path": "a.txt", "content": "x"}])
    missing = commit(branch="main", actions=[{"action": "update", "file_path": "b.txt", "content": "x"}])
    no_branch = commit(branch="new", actions=[{"action": "create", "file_path": "b.txt", "content": "x"}])
    assert (exists.status_code, exists.json()["message"]) == (400, "A file with this name already exists")
    assert (missing.status_code, missing.json()["message"]) == (400, "A file with this name doesn't exist")
    assert no_branch.json()["message"] == "You can only create or edit files when you are on a branch"
    assert api.get("/projects/acme/web").status_code == 404  # an unencoded path is not a project
    assert api.get("/projects/acme%2Fweb", headers={"PRIVATE-TOKEN": "wrong"}).status_code == 401
    taken = api.post("/projects", json={"name": "web", "namespace_id": gitlab.namespaces["acme"].id})
    assert taken.status_code == 400 and "has already been taken" in taken.text
    masked = api.post("/projects/acme%2Fweb/variables", json={"key": "K", "value": "short", "masked": True})
    assert masked.status_code == 400
    assert api.put("/projects/acme%2Fweb/variables/NOPE", json={"value": "v"}).status_code == 404
    assert api.get("/projects/acme%2Fweb/repository/tree", params={"ref": "nope"}).status_code == 404


# -- whether a commit is on a branch ---------------------------------------------------------------------------

def test_a_commit_is_on_a_branch_when_it_is_its_own_merge_base_with_it(gitlab: GitLabStandIn,
                                                                       client: GitLabClient) -> None:
    gitlab.add_project("acme/web", {"a.txt": b"1\n"}, branch="master")
    project = gitlab.project("acme/web")
    first = project.branches["master"].sha
    second = client.push_files({"a.txt": b"2\n"}, "second")
    side_client = GitLabClient(spec(branch="feature/side"), client.ctx)
    side = side_client.push_files({"side.txt": b"s\n"}, "on a branch of its own, from master's second commit")
    gitlab.edit("acme/web", "a.txt", b"3\n")  # by hand, on master
    third = project.branches["master"].sha
    unrelated = gitlab.force_push("acme/web", {"b.txt": b"b\n"}, "a root of its own", branch="orphan").sha

    assert client.commit_on_branch(third)  # the head of the spec's branch
    assert client.commit_on_branch(first) and client.commit_on_branch(second)  # ancestors
    assert not client.commit_on_branch(side)  # its merge base with master is master's second commit
    assert side_client.commit_on_branch(second) and side_client.commit_on_branch(side)
    assert not side_client.commit_on_branch(third)
    assert not client.commit_on_branch(unrelated)  # no common history: GitLab answers 404
    assert not client.commit_on_branch("0" * 40)  # unknown: GitLab answers 400 "Could not find ref"
    assert not client.commit_on_branch(first, "no-such-branch")  # likewise
    assert not client.commit_on_branch("master")  # not a SHA: not even asked

    # History rewritten: master force-pushed back to its first commit. GitLab still knows the others by SHA.
    gitlab.force_push("acme/web", {"a.txt": b"1\n"}, "rewritten", parents=(first,), branch="master")
    assert client.commit_on_branch(first)
    assert not client.commit_on_branch(second) and not client.commit_on_branch(third)
    asked = gitlab.calls("GET", "/merge_base")[0].url.params.get_list("refs[]")
    assert asked == [third, "master"]


def test_no_project_or_an_empty_one_has_no_commit_on_it(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    assert not client.commit_on_branch("0" * 40)
    gitlab.add_project("acme/web", branch="master")
    assert not client.commit_on_branch("0" * 40)
