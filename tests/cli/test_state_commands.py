"""`dtm state list|show|rm|mv` and `dtm output`, as a Terraform or DevStream user repairs a state.

The story runs on both state backends (the local file and Prefect artifacts): a toolchain of a file and a
noop tool that references the file's output is applied; then the state is looked at, a record is renamed
after an instanceID changed in the config, and one is forgotten after its tool left the config. Each repair
is followed by a plan that shows no change, and no resource was touched. `dtm(...)` runs dtm's real entry
point in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from devstream.secrets import fingerprint

pytestmark = pytest.mark.usefixtures("prefect_server")  # apply runs a flow, whichever backend holds the state


def write_config(folder: Path, backend: str, *, file_id: str = "readme", with_noop: bool = True) -> Path:
    state = {"backend": "local"} if backend == "local" else {"backend": "prefect",
                                                             "options": {"name": f"state-cmds-{folder.name}"}}
    tools = [{"name": "file", "instanceID": file_id, "options": {"path": "out/README.md", "content": "hi\n"}}]
    if with_noop:
        tools.append({"name": "noop", "instanceID": "announce", "dependsOn": [f"file.{file_id}"],
                      "options": {"triggers": {"sha": f"${{{{ file.{file_id}.outputs.sha256 }}}}"},
                                  "outputs": {"greeting": "hello", "count": 3}}})
    path = folder / "dtm.yaml"
    path.write_text(yaml.safe_dump({"config": {"state": state}, "tools": tools}, sort_keys=False))
    return path


@pytest.fixture(params=["local", "prefect"])
def applied(request: pytest.FixtureRequest, tmp_path: Path, dtm) -> Path:
    """A config on the chosen backend, applied."""
    folder = tmp_path / uuid.uuid4().hex[:8]
    folder.mkdir()
    config = write_config(folder, request.param)
    code, out, err = dtm("apply", "-f", str(config), "-y")
    assert code == 0, out + err
    return config


def no_changes(dtm, config: Path) -> None:
    code, out, err = dtm("plan", "-f", str(config), "--json")
    assert code == 0, err
    assert json.loads(out)["changes"] == []


def test_list_show_and_output_read_the_state(dtm, applied: Path) -> None:
    code, out, _ = dtm("state", "list", "-f", str(applied), "--json")
    assert code == 0
    assert [(r["key"], r["inConfig"], r["dependsOn"]) for r in json.loads(out)] == [
        ("file.readme", True, []), ("noop.announce", True, ["file.readme"])]
    code, out, _ = dtm("state", "list", "-f", str(applied))
    assert code == 0 and "file.readme" in out and "noop.announce" in out

    # show: by name.instanceID or by DevStream's state key; the record as stored, outputs and all.
    code, out, _ = dtm("state", "show", "file_readme", "-f", str(applied))
    assert code == 0 and "# file.readme (state key file_readme)" in out
    record = yaml.safe_load(out)
    sha = record["resourceStatus"]["outputs"]["sha256"]
    assert record["options"] == {"path": "out/README.md", "content": "hi\n"}
    code, out, _ = dtm("state", "show", "noop.announce", "-f", str(applied), "--json")
    assert json.loads(out)["options"]["triggers"] == {"sha": sha}  # the reference, resolved as applied

    code, out, _ = dtm("output", "-f", str(applied), "--json")
    assert code == 0 and json.loads(out)["noop.announce"] == {"greeting": "hello", "count": 3}
    code, out, _ = dtm("output", "-f", str(applied), "noop.announce.outputs.greeting")
    assert (code, out) == (0, "hello\n")  # one value, raw, as a script wants it
    code, out, _ = dtm("output", "-f", str(applied), "file.readme.outputs.sha256", "--json")
    assert json.loads(out) == sha
    code, out, _ = dtm("output", "-f", str(applied))
    assert "${{ noop.announce.outputs.greeting }}" in out and "hello" in out

    code, _, err = dtm("state", "show", "file.readmee", "-f", str(applied))
    assert code == 1 and "no such record in the state; did you mean file.readme?" in err
    code, _, err = dtm("output", "-f", str(applied), "file.readme.outputs.nope")
    assert code == 1 and "has no output 'nope'" in err and "path, sha256" in err


def test_mv_follows_a_renamed_instance_id_without_re_creating_it(dtm, applied: Path) -> None:
    write_config(applied.parent, _backend(applied), file_id="docs")  # the instanceID changed in the config
    code, out, _ = dtm("plan", "-f", str(applied), "--json")
    assert {(c["key"], c["action"]) for c in json.loads(out)["changes"]} >= {
        ("file.readme", "delete"), ("file.docs", "create")}

    code, out, err = dtm("state", "mv", "file.readme", "file.docs", "-f", str(applied))
    assert code == 0, err
    assert "Moved file.readme to file.docs." in out

    no_changes(dtm, applied)
    code, out, _ = dtm("state", "show", "noop.announce", "-f", str(applied), "--json")
    assert json.loads(out)["dependsOn"] == ["file.docs"]  # dependents follow, so delete order stays right
    assert (applied.parent / "out" / "README.md").read_text() == "hi\n"

    code, _, err = dtm("state", "mv", "file.docs", "noop.docs", "-f", str(applied))
    assert code == 1 and "a record keeps its plugin" in err
    code, _, err = dtm("state", "mv", "file.docs", "noop.announce", "-f", str(applied))
    assert code == 1 and "keeps its plugin" in err
    code, _, err = dtm("state", "mv", "file.docs", "file.Bad_Id", "-f", str(applied))
    assert code == 1 and "RFC 1123" in err


def test_rm_forgets_a_tool_that_left_the_config_and_leaves_its_resource(dtm, applied: Path) -> None:
    write_config(applied.parent, _backend(applied), with_noop=False)
    code, out, _ = dtm("plan", "-f", str(applied), "--json")
    assert [(c["key"], c["action"]) for c in json.loads(out)["changes"]] == [("noop.announce", "delete")]

    code, out, err = dtm("state", "rm", "noop.announce", "-f", str(applied))
    assert code == 0, err
    assert "Removed noop.announce from the state; the resource itself is left as it is." in out
    no_changes(dtm, applied)

    # Forgetting the file too (the config still has it): the file stays on disk, the plan adopts it again.
    code, out, _ = dtm("state", "rm", "file.readme", "nope.x", "-f", str(applied))
    assert code == 1  # one unknown key: nothing removed
    code, out, _ = dtm("state", "rm", "file.readme", "-f", str(applied))
    assert code == 0 and "the next plan creates it" in out
    assert (applied.parent / "out" / "README.md").exists()
    code, out, _ = dtm("state", "list", "-f", str(applied), "--json")
    assert json.loads(out) == []


def _backend(config: Path) -> str:
    return yaml.safe_load(config.read_text())["config"]["state"]["backend"]


HOLDER = """
import sys
from pathlib import Path
from devstream.state import LocalStateStore

with LocalStateStore(Path(sys.argv[1])).lock("dtm apply"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_rm_and_mv_wait_for_the_state_lock(dtm, tmp_path: Path) -> None:
    config = write_config(tmp_path, "local", with_noop=False)
    assert dtm("apply", "-f", str(config), "-y")[0] == 0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "devstream.state")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        for args in (("rm", "file.readme"), ("mv", "file.readme", "file.docs")):
            code, _, err = dtm("state", *args, "-f", str(config))
            assert code == 1 and "locked" in err and "dtm apply" in err
    finally:
        holder.communicate("done\n", timeout=30)
    code, out, _ = dtm("state", "list", "-f", str(config), "--json")
    assert [r["key"] for r in json.loads(out)] == ["file.readme"]  # nothing changed while it was held


def test_show_fingerprints_a_secret_that_devstream_stored_in_clear(dtm, tmp_path: Path) -> None:
    token = "ghp_devstreamCleartextToken0042"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": [
        {"name": "noop", "instanceID": "other"}]}))
    options = {"ci": {"type": "generic", "configContents": {"ci.yml": "name: build\n"}},
               "projectRepo": {"scmType": "git", "url": "app.git", "name": "app", "token": token},
               "instanceID": "app"}
    (tmp_path / "devstream.state").write_text(yaml.safe_dump({"ci-generic_app": {
        "name": "ci-generic", "instanceID": "app", "dependsOn": [], "options": options, "resourceStatus": {}}}))

    for args in (("state", "show", "ci-generic.app"), ("state", "show", "ci-generic.app", "--json"),
                 ("state", "list"), ("output",)):
        code, out, err = dtm(*args, "-f", str(config))
        assert code == 0, err
        assert token not in out + err
    assert fingerprint(token) in dtm("state", "show", "ci-generic.app", "-f", str(config))[1]


def test_f_defaults_to_config_yaml_in_the_working_folder(dtm, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = dtm("state", "list")
    assert code == 2 and "there is no config.yaml in the current folder" in err
    write_config(tmp_path, "local", with_noop=False).rename(tmp_path / "config.yaml")
    code, out, err = dtm("validate")
    assert code == 0, err
    assert dtm("apply", "-y")[0] == 0
    code, out, _ = dtm("state", "list", "--json")
    assert [r["key"] for r in json.loads(out)] == ["file.readme"]


def test_the_installed_dtm_command_repairs_a_state_in_the_working_folder(tmp_path: Path) -> None:
    """The console script as a shell runs it, in a folder with DevStream's config.yaml (so no -f)."""
    dtm = str(Path(sys.executable).with_name("dtm"))
    noop = {"outputs": {"url": "https://example.com"}, "triggers": {}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"config": {"state": {"backend": "local"}}, "tools": [
        {"name": "noop", "instanceID": "renamed", "options": noop},
        {"name": "noop", "instanceID": "adopted", "options": noop}]}))
    (tmp_path / "devstream.state").write_text(yaml.safe_dump({"noop_original": {
        "name": "noop", "instanceID": "original", "dependsOn": [], "options": noop, "resourceStatus": noop}}))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([dtm, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    assert "noop.original" in run("state", "list").stdout
    assert run("output", "noop.original.outputs.url").stdout == "https://example.com\n"
    assert run("state", "mv", "noop.original", "noop.renamed").returncode == 0
    result = run("import", "noop.adopted", "adopted")
    assert result.returncode == 0, result.stderr
    result = run("plan", "--detailed-exitcode")
    assert result.returncode == 0 and "No changes." in result.stdout, result.stdout + result.stderr
