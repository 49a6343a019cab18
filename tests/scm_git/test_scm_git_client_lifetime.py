"""The git client's lifetime: its scratch folder goes when it is closed, and every plugin closes the clients it
makes, after create, read, update and delete, and after a call that fails midway.

`scratch` (conftest.py) holds every client made, so the garbage collector cannot tidy up for a plugin that
forgot: only `close()` removes a scratch folder here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_calls import recorded
from scm_git_helpers import ScratchWatch, bare_repo, reject_pushes, remote_files, write_tree

from devstream.errors import PermanentError, PluginError
from devstream.plugin import PluginContext
from devstream.plugins.ci_generic import CIGenericOptions, CIGenericPlugin
from devstream.plugins.repo_scaffolding import RepoScaffoldingOptions, RepoScaffoldingPlugin
from devstream.plugins.scm.base import RepoSpec
from devstream.plugins.scm.factory import scm_client
from devstream.plugins.scm.git import GitClient


# -- the client ------------------------------------------------------------------------------------------------
def test_close_removes_the_scratch_folder_and_a_closed_client_can_be_used_again(
        ctx: PluginContext, tmp_path: Path, scratch: ScratchWatch) -> None:
    bare_repo(tmp_path / "web.git", files={"app.py": "print()\n"})
    client = GitClient(RepoSpec(scmType="git", url="web.git"), ctx)
    assert client.list_files() == {"app.py": client.get_file("app.py").sha}  # type: ignore[union-attr]
    [folder] = scratch.left()
    assert (folder / "repo").is_dir()  # the fetched commit is in it

    client.close()
    assert scratch.left() == []
    client.close()  # twice is harmless

    assert client.get_file("app.py").content == b"print()\n"  # type: ignore[union-attr]  # a new scratch folder
    assert len(scratch.left()) == 1
    client.close()
    scratch.assert_tidy()


def test_scm_client_is_a_context_manager_that_closes_on_error(ctx: PluginContext, tmp_path: Path,
                                                              scratch: ScratchWatch) -> None:
    bare_repo(tmp_path / "web.git", files={"app.py": "print()\n"})
    with scm_client(RepoSpec(scmType="git", url="web.git"), ctx) as client:
        assert isinstance(client, GitClient)
        client.push_files({"b.txt": b"b\n"}, "b")
        assert scratch.left()
    scratch.assert_tidy()

    with pytest.raises(RuntimeError, match="midway"), scm_client(RepoSpec(scmType="git", url="web.git"), ctx) as c:
        c.list_files()
        assert scratch.left()
        raise RuntimeError("midway")
    scratch.assert_tidy()
    assert remote_files(tmp_path / "web.git") == {"app.py": b"print()\n", "b.txt": b"b\n"}


def test_the_ssh_key_file_goes_with_the_scratch_folder(ctx: PluginContext, scratch: ScratchWatch) -> None:
    spec = RepoSpec(scmType="git", url="ssh://git.example.com/web.git", sshPrivateKey="-----BEGIN KEY-----\nk\n")
    # The tests allow file:// only (conftest.py): git refuses ssh at once, after the key file was written.
    with pytest.raises(PluginError), GitClient(spec, ctx) as client:
        client.describe_repo()
    assert scratch.made and not scratch.left()
    scratch.assert_tidy()


# -- repo-scaffolding ------------------------------------------------------------------------------------------
SCAFFOLDING = RepoScaffoldingPlugin()


def scaffolding(port: int = 8080) -> RepoScaffoldingOptions:
    """A template in a bare repository (read through a git client of its own) scaffolded into repos/web.git."""
    return RepoScaffoldingOptions.model_validate({
        "sourceRepo": "template.git",
        "destinationRepo": {"scmType": "git", "url": "repos/web.git", "name": "web", "branch": "main"},
        "vars": {"port": port}})


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    return bare_repo(tmp_path / "template.git", files={"README.md": "# hi\n", "app.py.tpl": "PORT = [[ port ]]\n"})


def test_repo_scaffolding_closes_its_clients_after_every_call(ctx: PluginContext, template_repo: Path,
                                                              tmp_path: Path, scratch: ScratchWatch) -> None:
    status = SCAFFOLDING.create(scaffolding(), ctx)
    assert remote_files(tmp_path / "repos/web.git")["app.py"] == b"PORT = 8080\n"
    assert len(scratch.clients) == 2  # the template's and the destination's
    scratch.assert_tidy()

    assert SCAFFOLDING.read(scaffolding(), recorded(ctx, status)) == status
    scratch.assert_tidy()

    status = SCAFFOLDING.update(scaffolding(port=9090), recorded(ctx, status))
    assert remote_files(tmp_path / "repos/web.git")["app.py"] == b"PORT = 9090\n"
    scratch.assert_tidy()

    SCAFFOLDING.delete(scaffolding(port=9090), recorded(ctx, status))
    assert not (tmp_path / "repos/web.git").exists()
    scratch.assert_tidy(scratch=False)  # deleting a local repository needs no fetch

    assert SCAFFOLDING.read(scaffolding(), ctx) is None  # gone: the client stops at describe_repo
    scratch.assert_tidy(scratch=False)


def test_repo_scaffolding_closes_its_clients_when_the_push_fails(ctx: PluginContext, template_repo: Path,
                                                                 tmp_path: Path, scratch: ScratchWatch) -> None:
    reject_pushes(bare_repo(tmp_path / "repos/web.git", files={"LICENSE": "MIT\n"}))  # adopted, then refused

    with pytest.raises(PermanentError, match="pushes are closed today"):
        SCAFFOLDING.create(scaffolding(), ctx)

    assert remote_files(tmp_path / "repos/web.git") == {"LICENSE": b"MIT\n"}
    scratch.assert_tidy()


def test_repo_scaffolding_closes_the_template_client_when_the_template_cannot_be_read(
        ctx: PluginContext, tmp_path: Path, scratch: ScratchWatch) -> None:
    bare_repo(tmp_path / "template.git")  # no commit: no branch to read

    with pytest.raises(PermanentError, match="no branch"):
        SCAFFOLDING.create(scaffolding(), ctx)

    assert not (tmp_path / "repos/web.git").exists()  # the template is read before anything is made
    scratch.assert_tidy(scratch=False)


# -- ci-generic ------------------------------------------------------------------------------------------------
CI = CIGenericPlugin()


def ci(python: str = "3.12") -> CIGenericOptions:
    return CIGenericOptions.model_validate({
        "projectRepo": {"scmType": "git", "url": "web.git", "name": "web", "branch": "main"},
        "ci": {"type": "github", "configLocation": "ci", "vars": {"python": python}}})


@pytest.fixture
def ci_repo(tmp_path: Path) -> Path:
    write_tree(tmp_path / "ci", {"ci.yml": "on: push\nenv: {V: '[[ python ]]'}\n"})
    return bare_repo(tmp_path / "web.git", files={"app.py": "print()\n"})


def test_ci_generic_closes_its_client_after_every_call(ctx: PluginContext, ci_repo: Path,
                                                       scratch: ScratchWatch) -> None:
    status = CI.create(ci(), ctx)
    assert remote_files(ci_repo)[".github/workflows/ci.yml"] == b"on: push\nenv: {V: '3.12'}\n"
    scratch.assert_tidy()

    assert CI.read(ci(), recorded(ctx, status)) == status
    scratch.assert_tidy()

    status = CI.update(ci("3.13"), recorded(ctx, status))
    scratch.assert_tidy()

    CI.delete(ci("3.13"), recorded(ctx, status))
    assert remote_files(ci_repo) == {"app.py": b"print()\n"}
    scratch.assert_tidy()


def test_ci_generic_closes_its_client_when_the_push_fails(ctx: PluginContext, ci_repo: Path,
                                                          scratch: ScratchWatch) -> None:
    status = CI.create(ci(), ctx)
    scratch.assert_tidy()
    reject_pushes(ci_repo)

    with pytest.raises(PermanentError, match="pushes are closed today"):
        CI.update(ci("3.13"), recorded(ctx, status))
    scratch.assert_tidy()

    with pytest.raises(PermanentError, match="pushes are closed today"):
        CI.delete(ci(), recorded(ctx, status))
    scratch.assert_tidy()


def test_ci_generic_closes_its_client_when_the_repository_is_missing(ctx: PluginContext, tmp_path: Path,
                                                                     scratch: ScratchWatch) -> None:
    write_tree(tmp_path / "ci", {"ci.yml": "on: push\n"})

    with pytest.raises(PermanentError, match="does not exist"):
        CI.create(ci(), ctx)
    scratch.assert_tidy(scratch=False)
