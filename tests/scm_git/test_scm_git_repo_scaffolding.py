"""repo-scaffolding on plain git: create, read, drift, update and delete against real bare repositories."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
from plugin_calls import recorded
from scm_git_helpers import bare_repo, git, hand_edit, history, remote_files, write_tree

from devstream.errors import PermanentError
from devstream.jsonish import diff_paths, normalize
from devstream.plugin import PluginContext
from devstream.plugins.repo_scaffolding import RepoScaffoldingOptions, RepoScaffoldingPlugin
from devstream.plugins.repo_scaffolding.plugin import render_template
from devstream.plugins.scm.base import git_blob_sha
from devstream.plugins.scm.git import GitClient

PLUGIN = RepoScaffoldingPlugin()

RENDERED = {
    "README.md": b"# plain readme, [[ not rendered ]]\n",  # kept (DevStream dropped it), not rendered
    "main.go": b"package main // web by acme\n",
    "cmd/web/config.yaml": b"name: web\nport: 8080\n",  # _app_name_ replaced; Go's leading dot accepted
    "tpl/notes.txt": b"rendered because the path has tpl: web\n",
    "static/logo.bin": b"\x89PNG\x00\xff[[ untouched ]]",
    ".github/dependabot.yml": b"version: 2  # ${{ not jinja }}\n",
}


def options(**over: Any) -> RepoScaffoldingOptions:
    raw: dict[str, Any] = {
        "sourceRepo": "template",  # the fixture's folder, relative to the config's folder
        "destinationRepo": {"scmType": "git", "url": "repos/web.git", "owner": "acme", "name": "web",
                            "branch": "main"},
        "vars": {"port": 8080},
    }
    raw.update(over)
    return RepoScaffoldingOptions.model_validate(raw)


def head(bare: Path, branch: str = "main") -> str:
    return git("--git-dir", str(bare), "rev-parse", f"refs/heads/{branch}").strip()


def drift(stored: dict[str, Any], live: dict[str, Any] | None) -> list[str]:
    """What the planner sees: the status fields that differ (JSON-normalised, as it compares them)."""
    assert live is not None
    return diff_paths(normalize(stored), normalize(live))


@pytest.mark.usefixtures("template")
def test_create_read_drift_update_delete(ctx: PluginContext, tmp_path: Path) -> None:
    bare = tmp_path / "repos" / "web.git"
    assert PLUGIN.read(options(), ctx) is None

    status = PLUGIN.create(options(), ctx)

    assert remote_files(bare) == RENDERED
    [first] = history(bare)
    outputs = {"repo": "web", "owner": "acme", "org": "", "repoURL": bare.as_uri(), "cloneURL": bare.as_uri()}
    assert status == {**outputs, "branch": "main", "created": True, "commit": head(bare), "outputs": outputs,
                      "files": {p: git_blob_sha(c) for p, c in sorted(RENDERED.items())}}
    assert first.startswith(status["commit"])
    assert set(status["outputs"]) == PLUGIN.output_keys(options())
    assert drift(status, PLUGIN.read(options(), recorded(ctx, status))) == []  # apply again: nothing to do

    # Something else pushes to the branch (a CI file): not drift of the scaffolding.
    GitClient(options().destinationRepo, ctx).push_files({".gitlab-ci.yml": b"x: 1\n"}, "ci")
    assert drift(status, PLUGIN.read(options(), recorded(ctx, status))) == []

    # A hand edit of a scaffolded file is drift; update puts it back in a new commit.
    hand_edit(bare, tmp_path / "edit", {"main.go": "package hacked\n", "README.md": None})
    assert drift(status, PLUGIN.read(options(), recorded(ctx, status))) == ["files.README.md", "files.main.go"]
    again = PLUGIN.update(options(), recorded(ctx, status))
    assert again == {**status, "commit": head(bare)}  # the new commit is the one dtm's status names now
    assert remote_files(bare)["main.go"] == RENDERED["main.go"]
    assert remote_files(bare)["README.md"] == RENDERED["README.md"]

    # A var change is an update: one new commit on the same repository, never a new repository.
    changed = PLUGIN.update(options(vars={"port": 9090}), recorded(ctx, again))
    assert remote_files(bare)["cmd/web/config.yaml"] == b"name: web\nport: 9090\n"
    assert changed["files"]["cmd/web/config.yaml"] == git_blob_sha(b"name: web\nport: 9090\n")
    log = history(bare)
    assert log[-1] == first and len(log) == 5  # scaffold, ci, hand edit, restore, port
    assert log[0].endswith("Update web from template")
    assert drift(changed, PLUGIN.read(options(vars={"port": 9090}), recorded(ctx, changed))) == []

    PLUGIN.delete(options(), ctx)
    assert not bare.exists()
    PLUGIN.delete(options(), ctx)  # already gone is success
    assert PLUGIN.read(options(), ctx) is None


@pytest.mark.usefixtures("template")
def test_a_repository_that_existed_before_is_filled_but_never_deleted(ctx: PluginContext, tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "repos" / "web.git", files={"LICENSE": "MIT\n"})

    status = PLUGIN.create(options(), ctx)

    assert status["created"] is False
    assert remote_files(bare) == {"LICENSE": b"MIT\n", **RENDERED}
    assert drift(status, PLUGIN.read(options(), recorded(ctx, status))) == []
    PLUGIN.delete(options(), ctx)
    assert remote_files(bare) == {"LICENSE": b"MIT\n", **RENDERED}  # left as it was


@pytest.mark.usefixtures("template")
def test_a_failed_first_push_takes_the_new_repository_away(ctx: PluginContext, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> str:
        raise PermanentError("push refused")

    monkeypatch.setattr(GitClient, "push_files", fail)
    with pytest.raises(PermanentError, match="push refused"):
        PLUGIN.create(options(), ctx)
    assert not (tmp_path / "repos" / "web.git").exists()


def test_a_broken_template_creates_nothing(ctx: PluginContext, tmp_path: Path) -> None:
    write_tree(tmp_path / "template", {"main.go.tpl": "[[ missing ]]\n"})

    with pytest.raises(PermanentError, match=r"template template: main\.go\.tpl.*missing"):
        PLUGIN.create(options(), ctx)
    assert not (tmp_path / "repos").exists()


def test_a_template_reaching_for_python_internals_creates_nothing_and_runs_nothing(ctx: PluginContext,
                                                                                  tmp_path: Path) -> None:
    # Repository templates come from other people's repositories: they render in jinja2's sandbox.
    marker = tmp_path / "pwned"
    write_tree(tmp_path / "template", {"main.go.tpl": (
        "package main\n"
        f"// [[ cycler.__init__.__globals__.os.system('touch {marker}') ]]\n")})

    with pytest.raises(PermanentError, match=r"template template: main\.go\.tpl:2: cannot render: unsafe access "
                                             r"refused by the template sandbox: .*'__init__'"):
        PLUGIN.create(options(), ctx)
    assert not marker.exists()
    assert not (tmp_path / "repos").exists()


@pytest.mark.parametrize("source", ["bare-url", "bare-map", "work-tree"])
def test_the_template_may_be_a_git_repository(ctx: PluginContext, tmp_path: Path, source: str) -> None:
    files = {"app.txt.tpl": "[[ AppName ]] on [[ Repo.Name ]]\n", "keep.txt": "as is\n"}
    if source == "work-tree":  # a folder with .git: read from disk, .git left out
        template = write_tree(tmp_path / "tpl-src", files)
        (template / ".git").mkdir()
        (template / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
        sourceRepo: Any = "tpl-src"
    else:
        template = bare_repo(tmp_path / "tpl.git", branch="trunk", files=files)
        sourceRepo = template.as_uri() if source == "bare-url" else {"scmType": "git", "url": "tpl.git"}

    PLUGIN.create(options(sourceRepo=sourceRepo), ctx)

    assert remote_files(tmp_path / "repos" / "web.git") == {"app.txt": b"web on web\n", "keep.txt": b"as is\n"}


def test_a_missing_template_is_a_clear_error(ctx: PluginContext) -> None:
    with pytest.raises(PermanentError, match="template nowhere: no such folder"):
        PLUGIN.create(options(sourceRepo="nowhere"), ctx)


def test_rendering_follows_devstream() -> None:
    tree = {
        "_app_name_/_app_name_.py.tpl": b"NAME = '[[ AppName ]]'  # [[ Repo.Owner ]]\n",
        "docs/README.md.tpl": b"[[ greeting ]], [[ AppName ]]\n",
        "tpl-data/raw.json": b'{"x": "[[ AppName ]]"}',
        "main.tpl.go": b"// [[ AppName ]]\n",  # tpl in the name, no .tpl suffix: rendered, name kept
        ".git/config": b"ignored",
        "sub/.git/HEAD": b"ignored",
    }
    variables = {"AppName": "shop", "Repo": {"Name": "shop", "Owner": "acme"}, "greeting": "hi",
                 "AppName_unused": 1}

    out = render_template(tree, variables, "shop", "t")

    assert out == {
        "shop/shop.py": b"NAME = 'shop'  # acme\n",
        "docs/README.md": b"hi, shop\n",
        "tpl-data/raw.json": b'{"x": "shop"}',
        "main.tpl.go": b"// shop\n",
    }
    with pytest.raises(PermanentError, match="both become README.md"):
        render_template({"README.md": b"a", "README.md.tpl": b"b"}, variables, "shop", "t")
    with pytest.raises(PermanentError, match="not UTF-8"):
        render_template({"logo.tpl.png": b"\xff\xfe"}, variables, "shop", "t")


@pytest.mark.usefixtures("template")
def test_user_vars_win_over_the_defaults(ctx: PluginContext, tmp_path: Path) -> None:
    PLUGIN.create(options(vars={"port": 1, "AppName": "Custom"}), ctx)

    assert remote_files(tmp_path / "repos" / "web.git")["main.go"] == b"package main // Custom by acme\n"


def test_options_are_strict() -> None:
    with pytest.raises(ValueError, match="destinationRepo"):
        RepoScaffoldingOptions.model_validate({"sourceRepo": "x"})
    with pytest.raises(ValueError, match="typo"):
        options(typo=1)
    for name, field in RepoScaffoldingOptions.model_fields.items():
        assert field.description and field.description.endswith("."), name


@pytest.mark.usefixtures("template")
def test_a_repository_re_made_by_hand_where_dtms_was_is_never_deleted(ctx: PluginContext, tmp_path: Path) -> None:
    """The record says dtm created the repository at this path, but the one there now lacks dtm's mark."""
    status = PLUGIN.create(options(), ctx)
    bare = tmp_path / "repos" / "web.git"
    shutil.rmtree(bare)
    bare_repo(bare, files={"LICENSE": "MIT\n"})
    later = dataclasses.replace(ctx, prior=status)

    PLUGIN.delete(options(), later)

    assert remote_files(bare) == {"LICENSE": b"MIT\n"}


# -- the commit dtm wrote --------------------------------------------------------------------------------

@pytest.mark.usefixtures("template")
def test_commits_pushed_on_top_of_dtms_are_not_drift(ctx: PluginContext, tmp_path: Path) -> None:
    bare = tmp_path / "repos" / "web.git"
    status = PLUGIN.create(options(), ctx)
    assert status["commit"] == head(bare)  # the commit dtm's push made

    # A developer commits on top: the head moves, dtm's commit is still on the branch.
    hand_edit(bare, tmp_path / "dev", {"CONTRIBUTING.md": "be nice\n"})
    assert head(bare) != status["commit"]

    assert PLUGIN.read(options(), recorded(ctx, status)) == status


@pytest.mark.usefixtures("template")
def test_a_reset_that_drops_dtms_commit_is_drift_and_the_update_pushes_again(ctx: PluginContext,
                                                                             tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "repos" / "web.git", files={"LICENSE": "MIT\n"})
    seed = head(bare)
    status = PLUGIN.create(options(), ctx)
    assert status["commit"] != seed

    # Somebody resets the branch to before dtm's commit (and force-pushes).
    git("--git-dir", str(bare), "update-ref", "refs/heads/main", seed)

    live = PLUGIN.read(options(), recorded(ctx, status))
    assert live is not None and live["commit"] is None  # the plan line: commit: "<dtm's sha>" -> null
    assert sorted(drift(status, live)) == sorted(["commit", *(f"files.{p}" for p in RENDERED)])  # files gone too

    again = PLUGIN.update(options(), recorded(ctx, status))

    assert again == {**status, "commit": head(bare)}
    assert again["commit"] not in (status["commit"], seed)  # a new commit, on top of what is there now
    assert git("--git-dir", str(bare), "rev-parse", f"{again['commit']}^").strip() == seed
    assert remote_files(bare) == {"LICENSE": b"MIT\n", **RENDERED}
    assert PLUGIN.read(options(), recorded(ctx, again)) == again


@pytest.mark.usefixtures("template")
def test_a_rewrite_that_keeps_the_files_is_drift_of_the_commit_only(ctx: PluginContext, tmp_path: Path) -> None:
    """dtm's commit is amended (same files, another message) and force-pushed: nothing to push again, so the
    update records the new head as the commit that holds dtm's files."""
    bare = tmp_path / "repos" / "web.git"
    status = PLUGIN.create(options(), ctx)
    tree = git("--git-dir", str(bare), "rev-parse", "main^{tree}").strip()
    amended = git("--git-dir", str(bare), "commit-tree", tree, "-m", "amended").strip()
    git("--git-dir", str(bare), "update-ref", "refs/heads/main", amended)

    assert drift(status, PLUGIN.read(options(), recorded(ctx, status))) == ["commit"]
    again = PLUGIN.update(options(), recorded(ctx, status))

    assert again == {**status, "commit": amended}
    assert history(bare) == [f"{amended} amended"]  # no new commit
    assert PLUGIN.read(options(), recorded(ctx, again)) == again


@pytest.mark.usefixtures("template")
def test_a_record_from_before_commit_was_kept_is_not_drift(ctx: PluginContext, tmp_path: Path) -> None:
    status = PLUGIN.create(options(), ctx)
    old: dict[str, Any] = {k: v for k, v in status.items() if k != "commit"}

    assert PLUGIN.read(options(), recorded(ctx, old)) == old
    assert PLUGIN.update(options(), recorded(ctx, old))["commit"] == head(tmp_path / "repos" / "web.git")
