"""README's test command on a fresh machine runs every test: what the tests need from npm they fetch themselves.

A fresh machine is a new, empty DTM_NPM_CACHE. The `npm` the tests find is a stand-in that records how it was
called and then installs the package from this machine's copy (so the test needs no download of 385 MB),
falling back to the real npm when there is none.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fetched import FetchError, npm_file

REPO = Path(__file__).parents[1]
OPENAPI = "node_modules/@octokit/openapi"

FAKE_NPM = """#!/bin/sh
echo "$@" >> "{calls}"
prefix="" previous=""
for arg in "$@"; do
  [ "$previous" = "--prefix" ] && prefix="$arg"
  previous="$arg"
done
if [ -n "{source}" ] && [ -d "{source}" ]; then
  mkdir -p "$prefix/node_modules/@octokit" && cp -rs "{source}" "$prefix/{openapi}"
  exit 0
fi
exec "{real}" "$@"
"""


def fake_npm(tmp_path: Path, calls: Path, source: Path | None) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    real = subprocess.run(["sh", "-c", "command -v npm"], capture_output=True, text=True).stdout.strip() or "false"
    script = bin_dir / "npm"
    script.write_text(FAKE_NPM.format(calls=calls, source=source or "", openapi=OPENAPI, real=real))
    script.chmod(0o755)
    return bin_dir


def machine_copy() -> Path | None:
    folder = Path(os.environ.get("DTM_NPM_CACHE") or Path.home() / ".cache" / "dtm" / "npm").expanduser()
    found = folder / OPENAPI
    return found if (found / "package.json").is_file() else None


def test_the_github_tests_fetch_githubs_openapi_description_into_an_empty_cache_and_run(tmp_path: Path):
    cache, calls = tmp_path / "npm-cache", tmp_path / "npm-calls.txt"
    bin_dir = fake_npm(tmp_path, calls, machine_copy())
    env = {k: v for k, v in os.environ.items() if k not in ("DTM_GITHUB_OPENAPI", "CI")}
    env |= {"DTM_NPM_CACHE": str(cache), "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}
    test = "tests/scm_github/test_github_openapi_check.py::test_a_malformed_request_sent_to_the_stand_in_is_caught"

    runs = [subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-rs",
                            test], cwd=REPO,
                           env=env, capture_output=True, text=True, timeout=600) for _ in range(2)]

    for done in runs:
        assert done.returncode == 0 and "1 passed" in done.stdout and "skipped" not in done.stdout, done.stdout
    assert (cache / OPENAPI / "generated" / "api.github.com.json").is_file()
    # Fetched once, the version .ci/run pins, into the cache: the second run found it there.
    installs = calls.read_text().splitlines()
    assert len(installs) == 1 and f"--prefix {cache}" in installs[0] and "@octokit/openapi@23.0.2" in installs[0]


def test_a_fetch_that_fails_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text("#!/bin/sh\necho 'npm ERR! network unreachable' >&2\nexit 1\n")
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("DTM_NPM_CACHE", str(tmp_path / "cache"))

    with pytest.raises(FetchError) as failed:
        npm_file("@octokit/openapi", "23.0.2", f"{OPENAPI}/generated/api.github.com.json")

    message = str(failed.value)
    assert "network unreachable" in message and "npm install --prefix" in message
    assert "@octokit/openapi@23.0.2" in message
