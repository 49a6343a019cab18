"""Apply N apps (a repository from a template + its CI file and secret: GitHub Actions on GitHub, GitLab CI on
GitLab) against the stand-in of that system, each API request taking L ms, P plugin calls at a time; then a
no-op plan (what a drift check costs) and a destroy.

    python benchmarks/scm_apps.py [--scm github|gitlab] [--apps 50] [--latency-ms 100] [--parallelism 10]
                                  [--server embedded|real]

Prints, for each phase, the wall time, the API requests it sent (per app), and the speed-up over sending the
same requests one after another (requests x L, DevStream's sequential model). It also prints the share of
the service's rate limit an hourly drift check of these apps would use (GitHub: 5,000 REST requests an hour
per token; gitlab.com: 2,000 a minute per user): the figure a platform team sizes its drift schedule by.

The stand-ins are the ones the tests use (tests/scm_github, tests/scm_gitlab), in-process: each request sleeps
L ms outside a lock (the network) and is then answered under it (the server). Everything else is dtm as a
user runs it: config loading, planning, a Prefect flow run per apply and destroy, local state.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "scm_github"))
sys.path.insert(0, str(HERE.parent / "tests" / "scm_gitlab"))
from _servers import SERVERS, Server, run_on_server  # noqa: E402

TOKENS = {"github": "ghp_benchmark_token", "gitlab": "glpat-benchmark-0123456789"}
BUDGET_PER_HOUR = {"github": 5000, "gitlab": 2000 * 60}  # GitHub's REST limit per token; gitlab.com's per user
TEMPLATE = {
    "README.md.tpl": "# [[ AppName ]]\n\nOwned by [[ team ]].\n",
    "app/main.py.tpl": "PORT = [[ port ]]\nNAME = '[[ AppName ]]'\n",
    "app/__init__.py": "",
    "requirements.txt": "flask==3.0.3\n",
    "Dockerfile": "FROM python:3.12-slim\nCOPY . /app\nCMD [\"python\", \"-m\", \"app.main\"]\n",
}
WORKFLOW = "name: [[ AppName ]]\non: [push]\njobs:\n  test: {runs-on: ubuntu-latest, steps: [{run: make test}]}\n"


def write_config(folder: Path, apps: int, scm: str) -> Path:
    for rel, text in TEMPLATE.items():
        (folder / "template" / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / "template" / rel).write_text(text)
    (folder / "workflows").mkdir()
    (folder / "workflows" / "ci.yml").write_text(WORKFLOW)
    token = '[[ env "DTM_BENCH_TOKEN" ]]'
    secret = '[[ env "DTM_BENCH_DEPLOY_KEY" ]]'
    pipeline = ({"name": "ci", "type": "github-actions", "options": {
                    "configLocation": "workflows", "secrets": {"DEPLOY_KEY": secret}}} if scm == "github" else
                {"name": "ci", "type": "gitlab-ci", "options": {
                    "configContents": {".gitlab-ci.yml": "test:\n  script: [make test]\n"},
                    "variables": {"DEPLOY_KEY": secret}}})
    doc = {
        "config": {"state": {"backend": "local"}},
        "apps": [{"name": f"service-{i:03d}", "spec": {"language": "python", "framework": "flask"},
                  "repo": {"scmType": scm, "org": "acme", "token": token},
                  "repoTemplate": {"url": "./template", "vars": {"port": 8000 + i, "team": "platform"}},
                  "ci": [{"type": "template", "templateName": "ci"}]} for i in range(apps)],
        "pipelineTemplates": [pipeline],
    }
    path = folder / "dtm.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _kind(method: str, path: str) -> str:
    """A request by its endpoint: `GET git/trees` for GET /repos/acme/service-001/git/trees/<sha> (GitHub),
    `GET repository/tree` for GET /api/v4/projects/acme%2Fservice-001/repository/tree (GitLab)."""
    parts = path.strip("/").split("?")[0].split("/")
    if parts[:2] == ["api", "v4"]:
        parts = parts[4:] if parts[2] == "projects" and len(parts) > 4 else parts[2:3]  # e.g. `namespaces`
    else:
        parts = parts[3:]  # after repos/<owner>/<name>
    if parts and parts[0] in ("contents", "compare", "hooks", "files", "variables"):
        return f"{method} {parts[0]}"
    words = [p for p in parts if not (len(p) == 40 or p.isdigit() or p.isupper())][:2]
    return f"{method} {'/'.join(words) or 'repo'}"


class Served:
    """The stand-in of one system, and every request it answered as (method, path)."""

    def __init__(self, scm: str, latency: float) -> None:
        self.requests: list[tuple[str, str]] = []
        self.standin: Any
        if scm == "github":
            from github_standin import GitHubStandIn

            self.standin = GitHubStandIn(token=TOKENS[scm], orgs=("acme",))
            self._answer = self.standin.handler
        else:
            from gitlab_standin import GitLabStandIn

            self.standin = GitLabStandIn(token=TOKENS[scm])
            self.standin.add_namespace("acme")
            self._answer = self.standin
        self._latency = latency
        self._lock = threading.Lock()

    def handler(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self._latency)  # the network: concurrent
        with self._lock:  # the server: one at a time
            self.requests.append((request.method, request.url.raw_path.decode()))
            return self._answer(request)

    def repositories(self) -> int:
        held = getattr(self.standin, "repos", None) or getattr(self.standin, "projects", {})
        return sum(1 for r in held.values() if not getattr(r, "marked_for_deletion", False))


def serve(scm: str, latency: float) -> Served:
    """Make every plugin's HTTP client talk to a stand-in whose requests take `latency` seconds."""
    from devstream.plugin import http as plugin_http
    from devstream.plugin.http import RetryingTransport

    served = Served(scm, latency)
    handler = served.handler

    transport = RetryingTransport(httpx.MockTransport(handler))
    real = plugin_http.http_client

    def patched(**kwargs: object) -> httpx.Client:
        kwargs["transport"] = transport
        return real(**kwargs)  # type: ignore[arg-type]

    plugin_http.http_client = patched  # type: ignore[assignment]
    return served


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scm", choices=("github", "gitlab"), default="github")
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--server", choices=SERVERS, default="embedded")
    args = parser.parse_args()
    return run_on_server(args.server, lambda server: bench(args, server))


def bench(args: argparse.Namespace, server: Server) -> int:
    import os

    from devstream.cli import render, run
    from devstream.cli.prefect_setup import quiet_console_logs
    from devstream.engine import Workspace

    quiet_console_logs()
    render.console.file = io.StringIO()
    os.environ["DTM_BENCH_TOKEN"] = TOKENS[args.scm]
    os.environ["DTM_BENCH_DEPLOY_KEY"] = "deploy-key-for-the-benchmark"
    latency = args.latency_ms / 1000
    served = serve(args.scm, latency)
    ci = "github-actions" if args.scm == "github" else "gitlab-ci"
    print(f"scm_apps on {args.scm}: {args.apps} apps (repo-scaffolding + {ci} each), {args.latency_ms:.0f} ms per "
          f"request, {args.parallelism} at a time; server: {server.description}")

    def phase(name: str, action) -> tuple[float, int]:  # noqa: ANN001
        before = len(served.requests)
        t0 = time.perf_counter()
        result = action()
        wall = time.perf_counter() - t0
        sent = len(served.requests) - before
        sequential = sent * latency
        print(f"  {name:<24} {wall:7.2f} s  {sent:6d} requests ({sent / args.apps:5.1f} per app)  "
              f"sequential {sequential:7.2f} s  speed-up {sequential / wall:5.1f}x")
        kinds = Counter(_kind(method, path) for method, path in served.requests[before:])
        print("      " + ", ".join(f"{kind} {count / args.apps:g}" for kind, count in kinds.most_common()))
        if result not in (0, True):
            print(f"  {name} FAILED ({result})")
        return wall, sent

    with tempfile.TemporaryDirectory(prefix="dtm-bench-scm-") as tmp:
        config = write_config(Path(tmp), args.apps, args.scm)
        phase("apply (create)", lambda: run.apply(config_path=config, yes=True, parallelism=args.parallelism))
        print(f"  repositories: {served.repositories()} of {args.apps}")
        _, sent = phase("plan (drift check)",
                        lambda: Workspace.open(config).current_plan(args.parallelism).empty)
        budget = BUDGET_PER_HOUR[args.scm]
        print(f"  an hourly drift check of these apps: {sent} requests/hour = {sent * 100 / budget:.2f}% of "
              f"{args.scm}'s {budget:,}/hour; {int(budget / max(1, sent / args.apps)):,} apps would use it all")
        phase("destroy", lambda: run.destroy(config_path=config, yes=True, parallelism=args.parallelism))
        print(f"  repositories left: {served.repositories()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
