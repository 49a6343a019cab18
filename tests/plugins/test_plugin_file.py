"""The file plugin: a local file from content or a template, with drift seen on disk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from devstream.errors import PermanentError
from devstream.plugin.base import PluginContext
from devstream.plugins.file import FileOptions, FilePlugin


@pytest.fixture
def ctx(tmp_path: Path) -> PluginContext:
    return PluginContext(name="file", instance_id="readme", workdir=tmp_path)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_create_writes_the_content_with_its_mode_in_new_folders(ctx: PluginContext, tmp_path: Path) -> None:
    options = FileOptions(path="docs/deep/README.md", content="# hello\n", mode="0640")

    status = FilePlugin().create(options, ctx)

    target = tmp_path / "docs" / "deep" / "README.md"
    assert target.read_bytes() == b"# hello\n"
    assert oct(target.stat().st_mode & 0o7777) == "0o640"
    assert status == {
        "path": str(target),
        "sha256": sha(b"# hello\n"),
        "mode": "0640",
        "outputs": {"path": str(target), "sha256": sha(b"# hello\n")},
    }
    assert os.listdir(target.parent) == ["README.md"]  # no temporary file left behind
    # What create returned is what read sees: no drift right after apply.
    assert FilePlugin().read(options, ctx) == status
    assert FilePlugin().output_keys(options) == set(status["outputs"])


def test_a_template_is_rendered_with_vars(ctx: PluginContext, tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "footer.j2").write_text("-- {{ team }}\n")
    (tmp_path / "templates" / "app.yaml.j2").write_text(
        "name: {{ app }}\nreplicas: {{ replicas * 2 }}\n{% include 'footer.j2' %}"
    )
    options = FileOptions(
        path="out/app.yaml", template="templates/app.yaml.j2", vars={"app": "web", "replicas": 2, "team": "ops"}
    )

    status = FilePlugin().create(options, ctx)

    assert (tmp_path / "out" / "app.yaml").read_text() == "name: web\nreplicas: 4\n-- ops\n"
    assert status["outputs"]["sha256"] == sha(b"name: web\nreplicas: 4\n-- ops\n")


def test_a_hand_edit_is_drift_and_update_puts_the_file_back(ctx: PluginContext, tmp_path: Path) -> None:
    options = FileOptions(path="motd", content="welcome\n")
    created = FilePlugin().create(options, ctx)

    (tmp_path / "motd").write_text("welcome, hacker\n")
    edited = FilePlugin().read(options, ctx)
    assert edited is not None
    assert edited["sha256"] == sha(b"welcome, hacker\n") != created["sha256"]

    (tmp_path / "motd").chmod(0o600)
    assert FilePlugin().read(options, ctx)["mode"] == "0600"  # type: ignore[index]

    assert FilePlugin().update(options, ctx) == created
    assert FilePlugin().read(options, ctx) == created


def test_a_deleted_file_reads_as_none_and_delete_twice_is_fine(ctx: PluginContext, tmp_path: Path) -> None:
    options = FileOptions(path="sub/gone.txt", content="x")
    FilePlugin().create(options, ctx)

    (tmp_path / "sub" / "gone.txt").unlink()
    assert FilePlugin().read(options, ctx) is None  # the plan will create it again

    FilePlugin().create(options, ctx)
    FilePlugin().delete(options, ctx)
    FilePlugin().delete(options, ctx)
    assert not (tmp_path / "sub" / "gone.txt").exists()
    assert (tmp_path / "sub").is_dir()  # folders are left alone


def test_an_absolute_path_is_used_as_it_is(ctx: PluginContext, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "abs.txt"
    status = FilePlugin().create(FileOptions(path=str(target), content="a"), ctx)
    assert status["path"] == str(target)


def test_a_missing_template_is_a_permanent_error_naming_both_paths(ctx: PluginContext, tmp_path: Path) -> None:
    options = FileOptions(path="out.txt", template="missing.j2")
    with pytest.raises(PermanentError) as caught:
        FilePlugin().create(options, ctx)
    assert str(tmp_path / "out.txt") in str(caught.value)
    assert f"template {tmp_path / 'missing.j2'} not found" in str(caught.value)


def test_an_undefined_template_variable_is_an_error_with_its_line(ctx: PluginContext, tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("line one\nhello {{ who }}\n")
    with pytest.raises(PermanentError) as caught:
        FilePlugin().create(FileOptions(path="out.txt", template="t.j2", vars={"whom": "x"}), ctx)
    message = str(caught.value)
    assert f"template {tmp_path / 't.j2'}:2" in message
    assert "'who' is undefined; pass it under vars" in message
    assert not (tmp_path / "out.txt").exists()


def test_a_template_syntax_error_names_its_line(ctx: PluginContext, tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("ok\n{% if x %}\nno endif\n")
    with pytest.raises(PermanentError, match=r"t\.j2:\d+: Unexpected end of template"):
        FilePlugin().create(FileOptions(path="out.txt", template="t.j2", vars={"x": 1}), ctx)


def test_a_file_that_cannot_be_written_is_a_permanent_error(ctx: PluginContext, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    options = FileOptions(path="blocker/x.txt", content="x")
    with pytest.raises(PermanentError, match=f"file {tmp_path / 'blocker' / 'x.txt'}: cannot write it"):
        FilePlugin().create(options, ctx)
    with pytest.raises(PermanentError, match="cannot read it"):
        FilePlugin().read(FileOptions(path="blocker/x.txt/y", content="x"), ctx)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"path": "a", "content": "x", "template": "t.j2"}, "exactly one of content"),
        ({"path": "a"}, "exactly one of content"),
        ({"path": "a", "content": "x", "vars": {"k": 1}}, "vars is only used with template"),
        ({"path": "a", "content": "x", "mode": "0999"}, "octal permission bits"),
        ({"path": "a", "content": "x", "mode": "rw-r--r--"}, "octal permission bits"),
        ({"path": "a", "content": "x", "mode": 420}, 'quoted octal string such as "0644"'),
        ({"path": "", "content": "x"}, "at least 1 character"),
        ({"path": "a", "content": "x", "owner": "root"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_options_fail_validation(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FileOptions.model_validate(options)


def test_mode_is_normalised_and_empty_content_is_allowed() -> None:
    assert FileOptions(path="a", content="", mode="755").mode == "0755"
    assert FileOptions(path="a", content="", mode="0o600").mode == "0600"
    for name, field in FileOptions.model_fields.items():
        assert field.description and field.description.endswith("."), name


def test_an_update_to_a_new_path_moves_the_file(tmp_path: Path) -> None:
    first = FilePlugin().create(FileOptions(path="a/old.txt", content="x\n"),
                                PluginContext(name="file", instance_id="f", workdir=tmp_path))
    moved = PluginContext(name="file", instance_id="f", workdir=tmp_path, prior=first)

    status = FilePlugin().update(FileOptions(path="b/new.txt", content="x\n"), moved)

    assert status["path"] == str(tmp_path / "b" / "new.txt")
    assert (tmp_path / "b" / "new.txt").read_text() == "x\n"
    assert not (tmp_path / "a" / "old.txt").exists()
    assert (tmp_path / "a").is_dir()  # folders are left alone


def test_delete_removes_the_file_the_state_records(tmp_path: Path) -> None:
    recorded = FilePlugin().create(FileOptions(path="where-it-is.txt", content="x"),
                                   PluginContext(name="file", instance_id="f", workdir=tmp_path))
    ctx = PluginContext(name="file", instance_id="f", workdir=tmp_path, prior=recorded)

    FilePlugin().delete(FileOptions(path="somewhere-else.txt", content="x"), ctx)

    assert not (tmp_path / "where-it-is.txt").exists()


def test_a_folder_where_the_recorded_file_was_is_left_alone(tmp_path: Path) -> None:
    recorded = FilePlugin().create(FileOptions(path="thing", content="x"),
                                   PluginContext(name="file", instance_id="f", workdir=tmp_path))
    (tmp_path / "thing").unlink()
    (tmp_path / "thing").mkdir()
    ctx = PluginContext(name="file", instance_id="f", workdir=tmp_path, prior=recorded)

    with pytest.raises(PermanentError, match="it is a folder now"):
        FilePlugin().delete(FileOptions(path="thing", content="x"), ctx)
    assert (tmp_path / "thing").is_dir()
