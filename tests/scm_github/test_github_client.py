"""GitHubClient against the stand-in: repositories, files in one commit, secrets, errors and retries."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from github_openapi import OpenAPIChecker
from github_standin import GitHubStandIn, Secret
from github_testkit import TOKEN, client_factory, make_standin

from devstream.errors import PermanentError, RateLimitError, TransientError
from devstream.plugin import PluginContext
from devstream.plugins.scm.base import RepoSpec, ScmClient, git_blob_sha
from devstream.plugins.scm.factory import scm_client
from devstream.plugins.scm.github import GitHubClient, api_url, encrypt_secret


def spec(name: str = "web", **kw: object) -> RepoSpec:
    fields: dict[str, object] = {"scmType": "github", "owner": "octo", "name": name, "token": TOKEN}
    fields.update(kw)
    return RepoSpec.model_validate(fields)


@pytest.fixture
def client(ctx: PluginContext) -> GitHubClient:
    return GitHubClient(spec(), ctx)


def test_the_factory_gives_a_github_client_that_fits_the_protocol(ctx: PluginContext) -> None:
    made = scm_client(spec(), ctx)
    assert isinstance(made, GitHubClient)
    protocol: ScmClient = made  # the type checker's view; the assert below is the runtime one
    assert protocol.spec.name == "web"


def test_api_url_for_github_and_enterprise() -> None:
    assert api_url(spec()) == "https://api.github.com"
    assert api_url(spec(baseURL="https://ghe.example.com/")) == "https://ghe.example.com/api/v3"
    assert api_url(spec(apiURL="https://ghe.example.com/api/v3/", baseURL="x")) == "https://ghe.example.com/api/v3"


def test_create_describe_and_delete_a_repository(client: GitHubClient, standin: GitHubStandIn) -> None:
    assert client.describe_repo() is None
    made = client.create_repo(description="our web app")
    assert made.full_name == "octo/web" and made.default_branch == "main"
    assert made.clone_url == "https://github.com/octo/web.git"
    assert standin.repo("octo/web").private and standin.repo("octo/web").empty
    assert client.describe_repo() == made
    # Idempotent: the name is taken, so the existing repository is returned.
    assert client.create_repo() == made
    client.delete_repo()
    assert client.describe_repo() is None
    client.delete_repo()  # already gone is success
    assert standin.calls("POST") == ["POST /user/repos", "POST /user/repos"]


def test_an_org_repository_is_created_in_the_org(ctx: PluginContext, standin: GitHubStandIn) -> None:
    made = GitHubClient(spec(owner=None, org="acme"), ctx).create_repo(private=False)
    assert made.full_name == "acme/web" and not standin.repo("acme/web").private
    assert standin.calls("POST") == ["POST /orgs/acme/repos"]


def test_destination_visibility_decides_over_the_default(ctx: PluginContext, standin: GitHubStandIn) -> None:
    # DevStream's destinationRepo.visibility (each request is checked against GitHub's OpenAPI description).
    GitHubClient(spec(owner=None, org="acme", visibility="private"), ctx).create_repo(private=False)
    assert standin.repo("acme/web").private
    GitHubClient(spec(name="api", visibility="private"), ctx).create_repo(private=False)
    assert standin.repo("octo/api").private
    GitHubClient(spec(name="docs", visibility="public"), ctx).create_repo()
    assert not standin.repo("octo/docs").private
    # github.com's description has no internal repositories: only GitHub Enterprise's organisations do.
    with pytest.raises(ValueError, match="visibility internal is for an organisation's repository on GitHub Ent"):
        spec(owner=None, org="acme", visibility="internal")
    with pytest.raises(ValueError, match="give `owner` .* or `org` .*, not both"):
        spec(org="acme")


def test_a_user_repository_for_someone_else_is_refused_before_creating(ctx: PluginContext,
                                                                        standin: GitHubStandIn) -> None:
    with pytest.raises(PermanentError, match="the token belongs to 'octo'"):
        GitHubClient(spec(owner="someone-else"), ctx).create_repo()
    assert standin.repos == {}


def test_push_to_an_empty_repository_makes_one_root_commit(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    files = {"README.md": b"# web\n", ".github/workflows/ci.yml": b"on: push\n", "logo.bin": b"\x89PNG\xff\x00"}
    assert client.list_files() == {}
    assert client.get_file("README.md") is None

    head = client.push_files(files, "first")

    assert standin.files("octo/web") == files
    (commit,) = standin.history("octo/web")
    assert commit["sha"] == head and commit["parents"] == [] and commit["message"] == "first"
    assert client.list_files() == {p: git_blob_sha(c) for p, c in files.items()}
    assert client.list_files(".github") == {".github/workflows/ci.yml": git_blob_sha(b"on: push\n")}
    got = client.get_file("logo.bin")
    assert got is not None and got.content == files["logo.bin"] and got.sha == git_blob_sha(files["logo.bin"])


def test_push_one_file_to_an_empty_repository(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    head = client.push_files({"a.txt": b"a\n"}, "just one")
    assert [c["sha"] for c in standin.history("octo/web")] == [head]
    assert client.push_files({}, "nothing", delete=["missing.txt"]) == head


def test_push_writes_and_deletes_in_one_commit_and_skips_what_is_there(client: GitHubClient,
                                                                       standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"keep.txt": b"keep\n", "old.txt": b"old\n", "same.txt": b"same\n"})
    before = standin.history("octo/web")[0]["sha"]

    head = client.push_files({"same.txt": b"same\n", "new/deep/file.txt": b"new\n"}, "change",
                             delete=["old.txt", "never-was.txt"])

    assert standin.files("octo/web") == {"keep.txt": b"keep\n", "same.txt": b"same\n", "new/deep/file.txt": b"new\n"}
    history = standin.history("octo/web")
    assert [c["sha"] for c in history] == [head, before]
    # Unchanged content and nothing to delete: no commit at all.
    assert client.push_files({"same.txt": b"same\n"}, "again", delete=["old.txt"]) == head
    assert len(standin.history("octo/web")) == 2
    assert not standin.calls("POST", "/git/blobs")  # text goes inline in the tree


def test_push_keeps_real_git_object_ids(client: GitHubClient, standin: GitHubStandIn, tmp_path: Path) -> None:
    standin.add_repo("octo/web")
    files = {"a.txt": b"alpha\n", "dir/b.txt": b"beta\n", "dir/sub/c.txt": b"gamma\n", "dir.txt": b"x"}
    head = client.push_files(files, "one")
    # The same files committed by git itself give the same tree.
    for path, data in files.items():
        (tmp_path / "w" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "w" / path).write_bytes(data)
    git = ["git", "-C", str(tmp_path / "w")]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    tree = subprocess.run([*git, "write-tree"], check=True, capture_output=True, text=True).stdout.strip()
    assert standin.git[standin.repo("octo/web").id].commits[head]["tree"] == tree


def test_push_to_a_new_branch_starts_from_the_default_branch(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"a.txt": b"a\n"})
    base = standin.history("octo/web")[0]["sha"]
    head = client.push_files({"b.txt": b"b\n"}, "on a branch", branch="feature/x")
    assert standin.files("octo/web", "feature/x") == {"a.txt": b"a\n", "b.txt": b"b\n"}
    assert standin.files("octo/web") == {"a.txt": b"a\n"}
    assert standin.git[standin.repo("octo/web").id].commits[head]["parents"] == [base]
    assert client.list_files(branch="feature/x") == {"a.txt": git_blob_sha(b"a\n"), "b.txt": git_blob_sha(b"b\n")}


def test_listing_the_files_of_a_branch_is_one_request(client: GitHubClient, standin: GitHubStandIn) -> None:
    """Drift checks list every repository's files each hour: one request each, against GitHub's hourly budget."""
    standin.add_repo("octo/web", files={"a.txt": b"a\n", "src/b.py": b"b\n"})
    client.push_files({"c.txt": b"c\n"}, "on a branch", branch="feature/x")
    sent = len(standin.requests)

    assert client.list_files(branch="feature/x") == {"a.txt": git_blob_sha(b"a\n"), "c.txt": git_blob_sha(b"c\n"),
                                                     "src/b.py": git_blob_sha(b"b\n")}
    assert client.list_files("src", branch="main") == {"src/b.py": git_blob_sha(b"b\n")}
    assert client.list_files(branch="no-such-branch") == {}
    assert [(r.path, r.url.params["recursive"]) for r in standin.requests[sent:]] == [
        ("/repos/octo/web/git/trees/feature/x", "1"), ("/repos/octo/web/git/trees/main", "1"),
        ("/repos/octo/web/git/trees/no-such-branch", "1")]


def test_push_to_a_missing_repository_is_a_permanent_error(client: GitHubClient) -> None:
    with pytest.raises(PermanentError, match="does not exist"):
        client.push_files({"a": b"a"}, "x")


def test_a_branch_moved_meanwhile_is_transient(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"a.txt": b"a\n"})
    standin.inject("PATCH", r"/git/refs/heads/main$", 422, message="Update is not a fast forward")
    with pytest.raises(TransientError, match="moved while dtm was committing"):
        client.push_files({"a.txt": b"b\n"}, "x")


def test_a_truncated_tree_is_read_folder_by_folder(client: GitHubClient, standin: GitHubStandIn) -> None:
    files = {f"src/m{i}.py": b"%d\n" % i for i in range(5)}
    files |= {".github/workflows/ci.yml": b"on: push\n", "docs/index.md": b"# docs\n"}
    standin.add_repo("octo/web", files=files)
    standin.tree_limit = 3
    assert client.list_files(".github/workflows") == {".github/workflows/ci.yml": git_blob_sha(b"on: push\n")}
    assert not any("docs" in c or "src" in c for c in standin.calls("GET", "/git/trees/")[1:])
    head = client.push_files({".github/workflows/ci.yml": b"on: pull_request\n"}, "edit")
    assert standin.files("octo/web")["src/m3.py"] == b"3\n"
    assert standin.history("octo/web")[0]["sha"] == head


def test_a_big_file_is_read_through_the_blobs_api(client: GitHubClient, standin: GitHubStandIn) -> None:
    big = bytes(range(256)) * 5000
    standin.add_repo("octo/web", files={"big.bin": big})
    got = client.get_file("big.bin")
    assert got is not None and got.content == big
    assert standin.calls("GET", "/git/blobs/")


def test_get_file_of_a_folder_or_missing_path_is_none(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"dir/a.txt": b"a"})
    assert client.get_file("dir") is None
    assert client.get_file("nope.txt") is None
    assert client.get_file("dir/a.txt", branch="no-such-branch") is None


def test_secrets_are_sealed_for_the_repository_key(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    client.put_secret("DEPLOY_TOKEN", "s3cr3t-válue")
    client.put_secret("DEPLOY_TOKEN", "rotated")
    assert standin.secret_value("octo/web", "DEPLOY_TOKEN") == "rotated"
    assert client.list_secrets() == ["DEPLOY_TOKEN"]
    assert len(standin.calls("GET", "/public-key")) == 1  # fetched once per client
    client.delete_secret("DEPLOY_TOKEN")
    client.delete_secret("DEPLOY_TOKEN")  # already gone is success
    assert client.list_secrets() == []


def test_secrets_list_follows_the_link_headers(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    names = [f"S{i:03d}" for i in range(230)]
    sealed = encrypt_secret(standin.public_key(), "x")
    when = "2024-01-01T00:00:00Z"  # a date-time, as GitHub's actions-secret schema has it
    standin.repo("octo/web").secrets.update({n: Secret(sealed, when, when) for n in names})
    assert client.list_secrets() == names
    pages = standin.calls("GET", "/actions/secrets")
    assert len(pages) == 3 and pages[1].startswith("GET /repositories/")


@pytest.mark.parametrize("origin", ["http://api.github.com", "https://api.github.com:8443",
                                    "https://api.github.com.evil.example"], ids=["http", "port", "host"])
def test_a_next_page_elsewhere_than_the_api_is_refused_and_never_gets_the_token(
        client: GitHubClient, standin: GitHubStandIn, origin: str) -> None:
    # A proxy or a server that rewrites the pagination links must not get the token, nor have it sent in clear.
    standin.add_repo("octo/web")
    sealed = encrypt_secret(standin.public_key(), "x")
    when = "2024-01-01T00:00:00Z"
    standin.repo("octo/web").secrets.update({f"S{i:03d}": Secret(sealed, when, when) for i in range(150)})
    standin.next_link_origin = origin

    with pytest.raises(PermanentError, match=r"next-page link .* is not on the API's own address "
                                             r"\(https://api\.github\.com\)") as raised:
        client.list_secrets()

    assert origin in str(raised.value)
    assert [(r.url.scheme, r.url.host, r.url.port) for r in standin.requests] == [
        ("https", "api.github.com", None)] * len(standin.requests)  # nothing went anywhere else


def test_secrets_of_a_missing_repository_are_none(client: GitHubClient) -> None:
    assert client.list_secrets() == []


def test_429_is_retried_after_the_time_github_asks(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    standin.inject("GET", r"^/repos/octo/web$", 429, headers={"retry-after": "7"}, times=2)
    assert client.describe_repo() is not None
    assert standin.sleeps == [7.0, 7.0]


def test_a_post_is_retried_when_github_says_when(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.inject("POST", r"^/user/repos$", 429, headers={"retry-after": "2"})
    assert client.create_repo().full_name == "octo/web"
    assert standin.sleeps == [2.0]


def test_429_after_the_retries_is_transient(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.inject("GET", r"^/repos/octo/web$", 429, headers={"retry-after": "1"}, times=10)
    with pytest.raises(TransientError, match="429"):
        client.describe_repo()
    assert len(standin.sleeps) == 2  # 3 attempts in this test's transport


def test_5xx_after_the_retries_is_transient(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.inject("GET", r"/git/trees/", 502, times=10)
    with pytest.raises(TransientError, match="502"):
        client.list_files()


def test_rate_limits_are_waited_out_when_the_reset_is_near(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    standin.inject("GET", r"^/repos/octo/web$", 403, headers={"retry-after": "45"},
                   message="You have exceeded a secondary rate limit")
    assert client.describe_repo() is not None
    reset = str(int(time.time()) + 30)
    standin.inject("GET", r"^/repos/octo/web$", 403, headers={"x-ratelimit-remaining": "0",
                                                              "x-ratelimit-reset": reset},
                   message="API rate limit exceeded")
    assert client.describe_repo() is not None
    assert standin.sleeps[0] == 45.0 and 28 <= standin.sleeps[1] <= 30


def test_a_rate_limit_resetting_later_fails_at_once_naming_the_reset(client: GitHubClient,
                                                                     standin: GitHubStandIn) -> None:
    standin.inject("GET", r"^/repos/octo/web$", 403, headers={"retry-after": "3600"},
                   message="You have exceeded a secondary rate limit")
    with pytest.raises(RateLimitError, match=r"GitHub octo/web: .*rate limited \(403\); the limit resets at .* UTC"):
        client.describe_repo()
    reset = str(int(time.time()) + 1800)
    standin.inject("GET", r"^/repos/octo/web$", 403, headers={"x-ratelimit-remaining": "0",
                                                              "x-ratelimit-reset": reset},
                   message="API rate limit exceeded")
    with pytest.raises(RateLimitError, match=r"\(in 30 min\)"):
        client.describe_repo()
    assert standin.sleeps == []  # nothing waited, nothing asked again


def test_a_plain_403_is_permanent(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web")
    standin.inject("DELETE", r"^/repos/octo/web$", 403, message="Must have admin rights to Repository.")
    with pytest.raises(PermanentError, match="delete_repo scope"):
        client.delete_repo()


def test_a_bad_token_is_permanent_and_never_quoted(ctx: PluginContext, standin: GitHubStandIn) -> None:
    bad = GitHubClient(spec(token="ghp_wrong_token_value"), ctx)
    with pytest.raises(PermanentError, match="refused the token") as raised:
        bad.describe_repo()
    assert "ghp_wrong_token_value" not in str(raised.value)


def test_no_token_at_all_is_an_error_that_says_where_to_put_one(ctx: PluginContext) -> None:
    with pytest.raises(PermanentError, match="GITHUB_TOKEN"):
        GitHubClient(spec(token=None), ctx)


def test_the_token_may_come_from_the_environment(ctx: PluginContext, standin: GitHubStandIn,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    assert GitHubClient(spec(token=None), ctx).describe_repo() is None


def test_enterprise_paths_are_under_api_v3(openapi: OpenAPIChecker, tmp_path: Path) -> None:
    ghe = make_standin(openapi, api="https://ghe.example.com/api/v3")
    ctx = PluginContext(name="t", instance_id="t", workdir=tmp_path, client_factory=client_factory(ghe))
    client = GitHubClient(spec(baseURL="https://ghe.example.com"), ctx)
    client.create_repo()
    client.push_files({"a.txt": b"a"}, "x")
    assert ghe.files("octo/web") == {"a.txt": b"a"}
    assert all(r.url.path.startswith("/api/v3/") for r in ghe.requests)


def test_every_request_has_the_headers_and_a_timeout(client: GitHubClient, standin: GitHubStandIn) -> None:
    client.describe_repo()
    (request,) = standin.requests
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    timeout = client._http.timeout
    assert timeout.read and timeout.connect


def test_without_a_branch_the_repositorys_default_branch_is_used(ctx: PluginContext, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"a.txt": b"a\n"}, branch="master")
    client = GitHubClient(spec(), ctx)  # no `branch` in the spec
    client.push_files({"b.txt": b"b\n"}, "to the default branch")
    assert standin.files("octo/web", "master") == {"a.txt": b"a\n", "b.txt": b"b\n"}
    assert set(client.list_files()) == {"a.txt", "b.txt"}
    assert "refs/heads/main" not in standin.repo("octo/web").refs
    assert len(standin.calls("GET", "/repos/octo/web")) - len(standin.calls("GET", "/repos/octo/web/")) == 1


# -- whether a commit is on a branch ---------------------------------------------------------------------

def test_a_commit_is_on_a_branch_when_it_is_the_head_or_an_ancestor(client: GitHubClient,
                                                                    standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"a.txt": b"1\n"})
    first = standin.repo("octo/web").refs["refs/heads/main"]
    second = standin.commit_files("octo/web", {"a.txt": b"2\n"}, "second")
    third = standin.commit_files("octo/web", {"a.txt": b"3\n"}, "third")
    standin.repo("octo/web").refs["refs/heads/feature/side"] = first
    side = standin.commit_files("octo/web", {"side.txt": b"s\n"}, "on side", branch="feature/side")
    unrelated = standin.force_push("octo/web", {"b.txt": b"b\n"}, "a root of its own", branch="orphan")

    assert client.commit_on_branch(third)  # the head (the spec has no branch: the default one)
    assert client.commit_on_branch(first, "main") and client.commit_on_branch(second, "main")  # ancestors
    assert not client.commit_on_branch(side, "main")  # GitHub says diverged: on another branch only
    assert client.commit_on_branch(first, "feature/side") and client.commit_on_branch(side, "feature/side")
    assert not client.commit_on_branch(third, "feature/side")  # ahead of that branch
    assert not client.commit_on_branch(unrelated, "main")  # no common ancestor: GitHub answers 404
    assert not client.commit_on_branch("0" * 40, "main")  # an unknown SHA: 404
    assert not client.commit_on_branch(first, "no-such-branch")  # 404
    assert not client.commit_on_branch("HEAD", "main")  # not a SHA: not even asked

    # History rewritten: main force-pushed back to its first commit. GitHub still knows the others by SHA.
    standin.force_push("octo/web", {"a.txt": b"1\n"}, "rewritten", parents=(first,))
    assert client.commit_on_branch(first, "main")
    assert not client.commit_on_branch(second, "main") and not client.commit_on_branch(third, "main")
    assert "GET /repos/octo/web/compare/feature/side..." + side in standin.calls("GET", "/compare/")


def test_no_repository_or_an_empty_one_has_no_commit_on_it(client: GitHubClient, standin: GitHubStandIn) -> None:
    assert not client.commit_on_branch("0" * 40, "main")
    standin.add_repo("octo/web")
    assert not client.commit_on_branch("0" * 40, "main")
