"""GitLabClient's files against the stand-in: blob SHAs read, listings paged, and one-commit pushes."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from gitlab_standin import GitLabStandIn

from devstream.errors import PermanentError
from devstream.plugin.base import PluginContext
from devstream.plugins.scm.base import RepoSpec, git_blob_sha
from devstream.plugins.scm.gitlab import GitLabClient

TOKEN = "glpat-standin-0123456789"


def spec(**kwargs: Any) -> RepoSpec:
    return RepoSpec(**({"scmType": "gitlab", "org": "acme", "name": "web", "token": TOKEN} | kwargs))


@pytest.fixture
def client(ctx: PluginContext) -> GitLabClient:
    return GitLabClient(spec(branch="master"), ctx)


def test_a_push_to_an_empty_project_creates_the_branch_in_one_commit(gitlab: GitLabStandIn,
                                                                      client: GitLabClient) -> None:
    gitlab.add_project("acme/web")

    sha = client.push_files({"README.md": b"# web\n", "ci/build.sh": b"make\n"}, "init")

    project = gitlab.project("acme/web")
    assert project.commits == 1
    assert project.branches["master"].sha == sha
    assert project.default_branch == "master"  # the first branch pushed becomes the default
    assert gitlab.file("acme/web", "ci/build.sh") == b"make\n"
    commit = httpx.Response(200, content=gitlab.calls("POST", "/commits")[0].content).json()
    assert "start_branch" not in commit
    assert [a["action"] for a in commit["actions"]] == ["create", "create"]
    assert base64.b64decode(commit["actions"][0]["content"]) == b"# web\n"


def test_get_and_list_report_git_blob_shas(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.add_project("acme/web", {"a.txt": b"alpha\n", "docs/b.md": b"beta\n", "docs/x/c.md": b"gamma\n"},
                       branch="master")

    found = client.get_file("docs/b.md")

    assert found is not None and found.content == b"beta\n" and found.sha == git_blob_sha(b"beta\n")
    assert client.blob_id("docs/b.md") == git_blob_sha(b"beta\n")
    assert client.get_file("nope.txt") is None
    assert client.get_file("a.txt", branch="missing") is None
    assert client.list_files() == {"a.txt": git_blob_sha(b"alpha\n"), "docs/b.md": git_blob_sha(b"beta\n"),
                                   "docs/x/c.md": git_blob_sha(b"gamma\n")}
    assert client.list_files("docs/") == {"docs/b.md": git_blob_sha(b"beta\n"),
                                          "docs/x/c.md": git_blob_sha(b"gamma\n")}
    assert client.list_files("docs/x") == {"docs/x/c.md": git_blob_sha(b"gamma\n")}
    assert client.list_files("nothing/") == {}


def test_a_listing_is_of_a_folder_not_of_a_string_prefix(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    gitlab.add_project("acme/web", {"docs/a.md": b"a\n", "docs2/b.md": b"b\n", "docs.md": b"c\n"}, branch="master")
    assert client.list_files("docs") == {"docs/a.md": git_blob_sha(b"a\n")}  # as GitHub's and git's clients list


def test_listing_an_empty_project_or_a_missing_one_is_empty(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    assert client.list_files() == {}
    gitlab.add_project("acme/web")
    assert client.list_files() == {}


@pytest.mark.parametrize("keyset", [False, True], ids=["x-next-page", "link-header"])
def test_listing_follows_every_page(ctx: PluginContext, keyset: bool) -> None:
    paged = GitLabStandIn(keyset_pagination=keyset)
    files = {f"src/f{i:03}.txt": f"{i}\n".encode() for i in range(250)}
    paged.add_project("acme/web", files, branch="master")
    ctx.client_factory = paged.client_factory

    listed = GitLabClient(spec(branch="master"), ctx).list_files()

    assert listed == {p: git_blob_sha(c) for p, c in files.items()}
    tree_calls = paged.calls("GET", "/repository/tree")
    assert len(tree_calls) == 3  # 250 files and 1 folder at 100 a page
    assert all(dict(r.url.params)["per_page"] == "100" for r in tree_calls)


@pytest.mark.parametrize("origin", ["http://gitlab.com", "https://gitlab.com:8443", "https://gitlab.com.evil.example"],
                         ids=["http", "port", "host"])
def test_a_next_page_elsewhere_than_the_api_is_refused_and_never_gets_the_token(ctx: PluginContext,
                                                                               origin: str) -> None:
    # Keyset pagination gives only a `Link` header: a proxy rewriting it must not get the token.
    paged = GitLabStandIn(keyset_pagination=True)
    paged.add_project("acme/web", {f"f{i:03}.txt": b"x" for i in range(150)}, branch="master")
    paged.next_link_origin = origin
    ctx.client_factory = paged.client_factory

    with pytest.raises(PermanentError, match=r"next-page link .* is not on the API's own address "
                                             r"\(https://gitlab\.com\)") as raised:
        GitLabClient(spec(branch="master"), ctx).list_files()

    assert origin in str(raised.value)
    assert {(r.url.scheme, r.url.host, r.url.port) for r in paged.requests} == {("https", "gitlab.com", None)}


def test_a_push_updates_creates_and_deletes_in_one_commit_and_skips_what_is_there(gitlab: GitLabStandIn,
                                                                                  client: GitLabClient) -> None:
    gitlab.add_project("acme/web", {"same.txt": b"same\n", "old.txt": b"old\n", "gone.txt": b"bye\n"},
                       branch="master")

    client.push_files({"same.txt": b"same\n", "old.txt": b"new\n", "added.txt": b"added\n"}, "change",
                      delete=["gone.txt", "never-was.txt"])

    project = gitlab.project("acme/web")
    assert project.commits == 2
    assert project.branches["master"].files == {"same.txt": b"same\n", "old.txt": b"new\n", "added.txt": b"added\n"}
    actions = httpx.Response(200, content=gitlab.calls("POST", "/commits")[0].content).json()["actions"]
    assert [(a["action"], a["file_path"]) for a in actions] == [
        ("create", "added.txt"), ("update", "old.txt"), ("delete", "gone.txt")]


def test_a_push_with_nothing_to_change_makes_no_commit_and_returns_the_head(gitlab: GitLabStandIn,
                                                                            client: GitLabClient) -> None:
    gitlab.add_project("acme/web", {"a.txt": b"a"}, branch="master")
    head = gitlab.project("acme/web").branches["master"].sha

    assert client.push_files({"a.txt": b"a"}, "again", delete=["missing.txt"]) == head
    assert gitlab.project("acme/web").commits == 1
    assert not gitlab.calls("POST")


def test_a_push_to_a_new_branch_starts_from_the_default_branch(gitlab: GitLabStandIn, ctx: PluginContext) -> None:
    gitlab.add_project("acme/web", {"a.txt": b"a", "b.txt": b"b"}, branch="main")
    client = GitLabClient(spec(branch="feature"), ctx)

    client.push_files({"a.txt": b"A"}, "on a new branch")

    project = gitlab.project("acme/web")
    assert project.branches["feature"].files == {"a.txt": b"A", "b.txt": b"b"}
    assert project.branches["main"].files == {"a.txt": b"a", "b.txt": b"b"}
    body = httpx.Response(200, content=gitlab.calls("POST", "/commits")[0].content).json()
    assert body["start_branch"] == "main"
    assert body["actions"][0]["action"] == "update"  # a.txt is on the branch it starts from


def test_a_new_branch_with_nothing_to_change_is_still_created(gitlab: GitLabStandIn, ctx: PluginContext) -> None:
    gitlab.add_project("acme/web", {"a.txt": b"a"}, branch="main")

    sha = GitLabClient(spec(branch="feature"), ctx).push_files({"a.txt": b"a"}, "nothing new")

    assert gitlab.project("acme/web").branches["feature"].sha == sha == gitlab.project("acme/web").branches["main"].sha


def test_without_a_branch_the_projects_default_branch_is_used(gitlab: GitLabStandIn, ctx: PluginContext) -> None:
    gitlab.add_project("acme/web", {"a.txt": b"a"}, branch="trunk")

    GitLabClient(spec(), ctx).push_files({"b.txt": b"b"}, "default branch")

    assert set(gitlab.project("acme/web").branches) == {"trunk"}


def test_a_large_push_reads_the_tree_once_instead_of_each_file(gitlab: GitLabStandIn, client: GitLabClient) -> None:
    files = {f"f{i:02}.txt": b"x" for i in range(30)}
    gitlab.add_project("acme/web", {"f00.txt": b"x"}, branch="master")

    client.push_files(files, "many")

    assert not gitlab.calls("HEAD")
    assert len(gitlab.calls("GET", "/repository/tree")) == 1
    assert len(gitlab.project("acme/web").branches["master"].files) == 30


def test_a_push_to_a_missing_project_says_to_create_it(client: GitLabClient) -> None:
    with pytest.raises(PermanentError, match="does not exist .* create it first"):
        client.push_files({"a.txt": b"a"}, "m")
