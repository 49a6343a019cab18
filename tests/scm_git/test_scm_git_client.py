"""GitClient: the ScmClient protocol over the git CLI, against real bare repositories (file:// remotes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scm_git_helpers import bare_repo, git, hand_edit, history, remote_files

from devstream.errors import PermanentError, TransientError
from devstream.plugin import PluginContext
from devstream.plugins.scm.base import RepoSpec, git_blob_sha
from devstream.plugins.scm.factory import scm_client
from devstream.plugins.scm.git import GitClient, local_path, strip_userinfo


def client(ctx: PluginContext, url: str, **spec: object) -> GitClient:
    made = scm_client(RepoSpec(scmType="git", url=url, **spec), ctx)
    assert isinstance(made, GitClient)
    return made


def test_a_local_remote_is_created_bare_marked_and_described(ctx: PluginContext, tmp_path: Path) -> None:
    repo = client(ctx, "repos/web.git")  # relative to the config's folder

    assert repo.describe_repo() is None
    info = repo.create_repo(description="made by a test")

    bare = tmp_path / "repos" / "web.git"
    assert git("--git-dir", str(bare), "rev-parse", "--is-bare-repository").strip() == "true"
    assert git("--git-dir", str(bare), "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert (info.full_name, info.default_branch, info.clone_url) == ("web", "main", bare.as_uri())
    assert repo.describe_repo() == info  # an empty repository (unborn HEAD) is described the same
    assert repo.created_by_dtm()
    assert repo.create_repo() == info  # idempotent
    assert repo.list_files() == {} and repo.get_file("x") is None

    repo.delete_repo()
    assert not bare.exists()
    repo.delete_repo()  # gone already is success


def test_an_empty_folder_is_where_the_repository_goes(ctx: PluginContext, tmp_path: Path) -> None:
    (tmp_path / "empty.git").mkdir()
    repo = client(ctx, "empty.git", branch="trunk")

    assert repo.describe_repo() is None
    assert repo.create_repo().default_branch == "trunk"
    assert git("--git-dir", str(tmp_path / "empty.git"), "symbolic-ref", "HEAD").strip() == "refs/heads/trunk"


def test_the_default_branch_comes_from_the_remote(ctx: PluginContext, tmp_path: Path) -> None:
    bare_repo(tmp_path / "old.git", branch="trunk", files={"a.txt": "a\n"})

    repo = client(ctx, (tmp_path / "old.git").as_uri())

    assert repo.describe_repo().default_branch == "trunk"  # type: ignore[union-attr]
    assert repo.list_files() == {"a.txt": git_blob_sha(b"a\n")}
    assert not repo.created_by_dtm()  # made by hand: dtm must never delete it on a guess


def test_push_writes_one_commit_and_nothing_to_change_makes_none(ctx: PluginContext, tmp_path: Path) -> None:
    repo = client(ctx, "web.git", branch="main")
    repo.create_repo()
    bare = tmp_path / "web.git"

    first = repo.push_files({"a.txt": b"a\n", "dir/b c.txt": b"b", 'q"x.txt': b"q"}, "first")
    assert history(bare) == [f"{first} first"]
    assert remote_files(bare) == {"a.txt": b"a\n", "dir/b c.txt": b"b", 'q"x.txt': b"q"}
    assert git("--git-dir", str(bare), "log", "-1", "--format=%an <%ae>").strip() == "dtm tests <tests@dtm.invalid>"

    assert repo.push_files({"a.txt": b"a\n"}, "again") == first  # same content: no commit
    assert len(history(bare)) == 1

    fresh = client(ctx, "web.git")  # another client (another process, as far as it knows)
    second = fresh.push_files({"a.txt": b"A\n"}, "second", delete=["dir/b c.txt", "never-there.txt"])
    assert history(bare) == [f"{second} second", f"{first} first"]
    assert remote_files(bare) == {"a.txt": b"A\n", 'q"x.txt': b"q"}
    assert fresh.get_file("a.txt").content == b"A\n"  # type: ignore[union-attr]
    assert fresh.list_files("dir") == {}
    assert fresh.list_files("", branch="nope") == {}


def test_a_new_branch_starts_from_the_default_branch(ctx: PluginContext, tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "r.git", files={"a.txt": "a\n"})
    repo = client(ctx, bare.as_uri())

    commit = repo.push_files({"b.txt": b"b\n"}, "on dev", branch="dev")

    assert remote_files(bare, "dev") == {"a.txt": b"a\n", "b.txt": b"b\n"}
    assert history(bare, "dev")[0] == f"{commit} on dev" and len(history(bare, "dev")) == 2
    assert remote_files(bare, "main") == {"a.txt": b"a\n"}


def test_an_executable_file_keeps_its_mode(ctx: PluginContext, tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "r.git")
    work = tmp_path / "work"
    git("clone", "--quiet", bare.as_uri(), str(work))
    (work / "run.sh").write_text("echo 1\n")
    (work / "run.sh").chmod(0o755)
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "x", cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)

    client(ctx, bare.as_uri()).push_files({"run.sh": b"echo 2\n"}, "change")

    assert git("--git-dir", str(bare), "ls-tree", "main", "run.sh").split()[0] == "100755"


def test_a_branch_that_moved_during_a_push_is_a_transient_error(ctx: PluginContext, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    bare = bare_repo(tmp_path / "r.git", files={"a.txt": "a\n"})
    repo = client(ctx, bare.as_uri())
    commit = repo._commit

    def commit_then_someone_pushes(*args: object, **kwargs: object) -> str:
        sha = commit(*args, **kwargs)  # type: ignore[arg-type]
        hand_edit(bare, tmp_path / "other", {"a.txt": "someone else\n"})
        return sha

    monkeypatch.setattr(repo, "_commit", commit_then_someone_pushes)
    with pytest.raises(TransientError, match="branch moved"):
        repo.push_files({"b.txt": b"b"}, "mine")
    assert remote_files(bare) == {"a.txt": b"someone else\n"}  # nothing of ours, nothing lost


def test_paths_outside_the_repository_are_refused(ctx: PluginContext) -> None:
    repo = client(ctx, "r.git")
    repo.create_repo()
    for bad in ("../x", "/etc/passwd", ".git/config", ""):
        with pytest.raises(PermanentError, match="not a file path inside a repository"):
            repo.push_files({bad: b"x"}, "bad")


def test_network_remotes_are_neither_created_nor_deleted_and_credentials_never_show(ctx: PluginContext) -> None:
    url = "https://someone:s3cr3t-token@git.example.invalid/team/web.git"
    repo = client(ctx, url, token="another-s3cr3t")

    with pytest.raises(PermanentError) as deleting:
        repo.delete_repo()
    assert str(deleting.value) == ("git remotes cannot be deleted by dtm; delete "
                                   "https://git.example.invalid/team/web.git yourself")
    with pytest.raises(PermanentError) as describing:  # GIT_ALLOW_PROTOCOL=file: https is refused
        repo.describe_repo()
    with pytest.raises(PermanentError) as putting:
        repo.put_secret("TOKEN", "v")
    for error in (deleting, describing, putting):
        assert "s3cr3t" not in str(error.value) and "someone" not in str(error.value)
    assert "scmType git has no CI secrets" in str(putting.value)
    assert repo.list_secrets() == []
    repo.delete_secret("TOKEN")  # nothing to delete is success

    # The token travels as a basic-auth header in git's environment, scoped to the host: never in argv.
    env = repo._environment()
    keys = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert keys["http.https://git.example.invalid/.extraHeader"].startswith("Authorization: Basic ")
    assert env["GIT_TERMINAL_PROMPT"] == "0"


def test_a_missing_network_remote_cannot_be_created(ctx: PluginContext, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = client(ctx, "ssh://git@git.example.invalid/team/web.git")
    monkeypatch.setattr(GitClient, "describe_repo", lambda self: None)

    with pytest.raises(PermanentError, match="dtm creates only local"):
        repo.create_repo()


def test_a_folder_that_is_not_a_repository_is_never_removed(ctx: PluginContext, tmp_path: Path) -> None:
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "data.txt").write_text("keep me")
    repo = client(ctx, "precious")

    with pytest.raises(PermanentError, match="not a git repository"):
        repo.describe_repo()
    with pytest.raises(PermanentError, match="not a git repository"):
        repo.delete_repo()
    assert (tmp_path / "precious" / "data.txt").read_text() == "keep me"


def test_urls_and_paths() -> None:
    work = Path("/cfg")
    assert local_path("file:///srv/r.git", work) == Path("/srv/r.git")
    assert local_path("file://localhost/srv/r.git", work) == Path("/srv/r.git")
    assert local_path("file://./build/r.git", work) == Path("/cfg/build/r.git")
    assert local_path("../r.git", work) == Path("/r.git")
    for remote in ("ssh://git@h/x.git", "git@h:x.git", "https://h/x.git", "h:x.git"):
        assert local_path(remote, work) is None
    with pytest.raises(PermanentError):
        local_path("file://otherhost/x.git", work)
    assert strip_userinfo("see https://u:p@h/x and ssh://git@h/y") == "see https://h/x and ssh://h/y"


@pytest.mark.parametrize(("stderr", "kind"), [
    ("fatal: unable to access 'https://u:s3cr3t@h/x.git/': Could not resolve host: h", TransientError),
    ("fatal: unable to access 'https://h/x.git/': The requested URL returned error: 503", TransientError),
    ("fatal: unable to access 'https://h/x.git/': The requested URL returned error: 403", PermanentError),
    ("git@h: Permission denied (publickey).\nfatal: Could not read from remote repository.", PermanentError),
    ("fatal: Authentication failed for 'https://h/x.git/'", PermanentError),
    ("fatal: couldn't find remote ref refs/heads/nope", PermanentError),
])
def test_git_failures_are_told_apart(ctx: PluginContext, stderr: str, kind: type[Exception]) -> None:
    import subprocess

    repo = client(ctx, "https://h/x.git", token="s3cr3t")
    error = repo._failure("fetch", subprocess.CompletedProcess(["git"], 128, b"", stderr.encode()))

    assert type(error) is kind
    assert "s3cr3t" not in str(error) and "u:" not in str(error)
    assert str(error).startswith("git fetch (https://h/x.git) failed: ")


# -- whether a commit is on a branch ---------------------------------------------------------------------

def _history_of_three(ctx: PluginContext, tmp_path: Path) -> tuple[GitClient, Path, list[str]]:
    """A repository whose main has three commits (oldest first) and a branch `side` off the first."""
    repo = client(ctx, "web.git", branch="main")
    repo.create_repo()
    commits = [repo.push_files({"n.txt": f"{i}\n".encode()}, f"commit {i}") for i in range(3)]
    bare = tmp_path / "web.git"
    git("--git-dir", str(bare), "branch", "side", commits[0])
    side = client(ctx, "web.git", branch="side").push_files({"side.txt": b"s\n"}, "on side")
    return repo, bare, [*commits, side]


def test_a_commit_is_on_a_branch_when_it_is_the_head_or_an_ancestor(ctx: PluginContext, tmp_path: Path) -> None:
    repo, bare, (first, second, third, side) = _history_of_three(ctx, tmp_path)

    assert repo.commit_on_branch(third)  # the head
    assert repo.commit_on_branch(first) and repo.commit_on_branch(second)  # ancestors
    assert not repo.commit_on_branch(side)  # on another branch only
    assert repo.commit_on_branch(side, "side") and repo.commit_on_branch(first, "side")
    assert not repo.commit_on_branch(third, "side")
    assert not repo.commit_on_branch("0" * 40)  # a SHA the repository does not know
    assert not repo.commit_on_branch("not a sha")
    assert not repo.commit_on_branch(first, "no-such-branch")

    # History rewritten: main reset to its first commit. The later ones are still in the repository's
    # objects, but no longer on the branch.
    git("--git-dir", str(bare), "update-ref", "refs/heads/main", first)
    assert repo.commit_on_branch(first)
    assert not repo.commit_on_branch(third) and not repo.commit_on_branch(second)


def test_no_repository_no_commit_on_it(ctx: PluginContext) -> None:
    assert not client(ctx, "nowhere.git", branch="main").commit_on_branch("0" * 40)


def test_a_network_remote_fetches_history_only_as_deep_as_it_must(ctx: PluginContext, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A remote dtm can only fetch from (not a local folder): the branch's last commits first, the rest only
    when the commit is not among them."""
    _, bare, (first, second, third, side) = _history_of_three(ctx, tmp_path)
    monkeypatch.setattr("devstream.plugins.scm.git._HISTORY_STEP", 2)
    fetches: list[list[str]] = []
    real = GitClient._git

    def recording(self: GitClient, args: list[str], **kwargs: object):  # type: ignore[no-untyped-def]
        if args[0] == "fetch":
            fetches.append(args)
        return real(self, args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(GitClient, "_git", recording)

    def remote() -> GitClient:
        made = client(ctx, bare.as_uri(), branch="main")
        made.path = None  # reached as a network remote is: by fetching
        return made

    assert remote().commit_on_branch(third) and fetches == []  # the head: ls-remote alone tells
    assert remote().commit_on_branch(second)
    assert [f[3] for f in fetches] == ["--depth=2"]  # within the last two commits: found
    fetches.clear()
    assert remote().commit_on_branch(first)
    assert [f[3] for f in fetches] == ["--depth=2", "--unshallow"]  # deeper: the whole history
    fetches.clear()
    assert not remote().commit_on_branch(side)
    assert not remote().commit_on_branch("0" * 40)
    assert not remote().commit_on_branch(first, "no-such-branch")
