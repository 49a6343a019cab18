"""`dtm init` installs the plugins a config names, as a platform team runs it: two plugins (made by `dtm develop
create-plugin`, built into wheels) listed with their hashes in the config's plugin index, installed with pip
from a folder of wheels and from a simple index served on loopback, then applied. A wrong hash and an unknown
plugin fail clearly and install nothing."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from http_standin import loopback
from plugin_packages import DTM, build_wheel, create_plugin, items_api, run, serve_items

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The two plugins' packages and wheels (built once for the module), and an index entry for each."""
    root = tmp_path_factory.mktemp("plugins")
    wheels = root / "wheels"
    packages, index = {}, {}
    for name in ("alpha", "beta"):
        packages[name] = create_plugin(name, root / "src")
        wheel = build_wheel(packages[name], wheels)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        index[name] = {"distribution": f"dtm-plugin-{name}", "versions": ">=0.1,<0.2",
                       "hashes": {"0.1.0": [f"sha256:{digest}"]}}
    return {"wheels": wheels, "packages": packages, "index": index}


@pytest.fixture
def env() -> dict[str, str]:
    """The environment without this machine's pip settings (its own indexes and wheel folders)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return {**clean, "PIP_CONFIG_FILE": os.devnull}


def write_config(folder: Path, index: dict[str, Any], url: str, **settings: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugins.yaml").write_text(yaml.safe_dump({"plugins": index}))
    config = folder / "dtm.yaml"
    config.write_text(yaml.safe_dump({
        "config": {"state": {"backend": "local"}, "pluginIndex": "plugins.yaml", **settings},
        "tools": [{"name": name, "instanceID": "demo", "options": {
            "baseURL": url, "token": "token-of-the-test-double", "item": f"{name}-item"}}
            for name in ("alpha", "beta")]}))
    return config


def installed(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


def test_init_installs_from_a_folder_of_wheels_and_apply_uses_them(built, env, tmp_path: Path) -> None:
    api = items_api(built["packages"]["alpha"])
    with serve_items(api) as url:
        config = write_config(tmp_path / "team", built["index"], url, pluginDir="plugins")

        refused = run(DTM, "apply", "-f", config, "-y", env=env)
        message = " ".join(refused.stderr.split())
        assert refused.returncode == 1
        assert "plugin 'alpha' is not installed" in message and "plugin 'beta' is not installed" in message
        assert f"`dtm init -f {config}`" in message
        assert not (tmp_path / "team" / "devstream.state").exists()  # nothing ran

        done = run(DTM, "init", "-f", config, "--find-links", built["wheels"], env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "installed alpha, beta into" in " ".join(done.stdout.split())
        assert {"dtm_plugin_alpha", "dtm_plugin_beta"} <= set(installed(tmp_path / "team" / "plugins"))

        again = run(DTM, "init", "-f", config, env=env)  # nothing missing: nothing to do
        assert again.returncode == 0 and "all 2 plugins are installed" in again.stdout

        applied = run(DTM, "apply", "-f", config, "-y", env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
    assert sorted(api.items) == ["alpha-item", "beta-item"]


@contextmanager
def simple_index(wheels: Path, root: Path) -> Iterator[str]:
    """A PEP 503 simple index of the wheels, served on loopback."""
    for wheel in wheels.glob("*.whl"):
        project = root / "simple" / wheel.name.split("-")[0].replace("_", "-")
        project.mkdir(parents=True, exist_ok=True)
        (project / wheel.name).write_bytes(wheel.read_bytes())
        (project / "index.html").write_text(f'<html><body><a href="{wheel.name}">{wheel.name}</a></body></html>')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    with loopback(handler) as port:
        yield f"http://127.0.0.1:{port}/simple/"


def test_init_installs_from_a_simple_index_into_a_plugin_dir_every_command_uses(built, env, tmp_path: Path) -> None:
    config = write_config(tmp_path / "team", built["index"], "http://127.0.0.1:9")
    plugins = tmp_path / "shared-plugins"
    with simple_index(built["wheels"], tmp_path / "served") as index_url:
        done = run(DTM, "init", "-f", config, "-d", plugins, "--index-url", index_url, env=env)
    assert done.returncode == 0, done.stdout + done.stderr

    assert run(DTM, "validate", "-f", config, env=env).returncode == 1  # dtm's environment has no such plugins
    assert run(DTM, "--plugin-dir", plugins, "validate", "-f", config, env=env).returncode == 0
    listed = run(DTM, "list", "plugins", env={**env, "DTM_PLUGIN_DIR": str(plugins)})
    assert "alpha" in listed.stdout and "dtm-plugin-beta 0.1.0" in listed.stdout


def test_download_only_fetches_the_wheels(built, env, tmp_path: Path) -> None:
    done = run(DTM, "init", "-p", "alpha", "--index", built_index(built, tmp_path), "--download-only",
               "-d", tmp_path / "downloads", "--find-links", built["wheels"], env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert installed(tmp_path / "downloads") == ["dtm_plugin_alpha-0.1.0-py3-none-any.whl"]


def built_index(built: dict[str, Any], tmp_path: Path, **override: Any) -> Path:
    path = tmp_path / "index.yaml"
    path.write_text(yaml.safe_dump({"plugins": {**built["index"], **override}}))
    return path


def test_a_wrong_hash_installs_nothing(built, env, tmp_path: Path) -> None:
    wrong = {**built["index"]["beta"], "hashes": {"0.1.0": ["sha256:" + "0" * 64]}}
    index = built_index(built, tmp_path, beta=wrong)
    done = run(DTM, "init", "-p", "alpha,beta", "--index", index, "-d", tmp_path / "plugins",
               "--find-links", built["wheels"], env=env)
    message = " ".join(done.stderr.split())
    assert done.returncode == 1
    assert "pip could not install the plugins (nothing was installed" in message
    assert "do not match the hashes" in message.lower() or "hash" in message.lower()
    assert installed(tmp_path / "plugins") == []  # not even alpha, whose hash is right


def test_an_unknown_plugin_installs_nothing(built, env, tmp_path: Path) -> None:
    done = run(DTM, "init", "-p", "alpha,gamma", "--index", built_index(built, tmp_path), "-d", tmp_path / "plugins",
               "--find-links", built["wheels"], env=env)
    message = " ".join(done.stderr.split())
    assert done.returncode == 1
    assert "unknown plugin(s) gamma: not installed and not in the plugin index" in message
    assert installed(tmp_path / "plugins") == []
