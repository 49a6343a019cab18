"""Apply N apps (a repository from a template + its GitHub Actions workflow and secret) against the GitHub
stand-in, each API request taking L ms, P plugin calls at a time; then a no-op plan (what a drift check
costs) and a destroy.

    python benchmarks/scm_apps.py [--apps 50] [--latency-ms 100] [--parallelism 10] [--server embedded|real]

Prints, for each phase, the wall time, the API requests it sent (per app), and the speed-up over sending the
same requests one after another (requests x L, DevStream's sequential model). It also prints the share of
GitHub's REST budget (5,000 requests an hour per token) an hourly drift check of these apps would use: the
figure a platform team sizes its drift schedule by.

The stand-in is the one the tests use (tests/scm_github/github_standin.py), in-process: each request sleeps
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

import httpx
import yaml

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "scm_github"))
from _servers import SERVERS, Server, run_on_server  # noqa: E402

TOKEN = "ghp_benchmark_token"
BUDGET_PER_HOUR = 5000  # GitHub's REST rate limit for a user token
TEMPLATE = {
    "README.md.tpl": "# [[ AppName ]]\n\nOwned by [[ team ]].\n",
    "app/main.py.tpl": "PORT = [[ port ]]\nNAME = '[[ AppName ]]'\n",
    "app/__init__.py": "",
    "requirements.txt": "flask==3.0.3\n",
    "Dockerfile": "FROM python:3.12-slim\nCOPY . /app\nCMD [\"python\", \"-m\", \"app.main\"]\n",
}
WORKFLOW = "name: [[ AppName ]]\non: [push]\njobs:\n  test: {runs-on: ubuntu-latest, steps: [{run: make test}]}\n"


def write_config(folder: Path, apps: int) -> Path:
    for rel, text in TEMPLATE.items():
        (folder / "template" / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / "template" / rel).write_text(text)
    (folder / "workflows").mkdir()
    (folder / "workflows" / "ci.yml").write_text(WORKFLOW)
    token = '[[ env "DTM_BENCH_GITHUB_TOKEN" ]]'
    doc = {
        "config": {"state": {"backend": "local"}},
        "apps": [{"name": f"service-{i:03d}", "spec": {"language": "python", "framework": "flask"},
                  "repo": {"scmType": "github", "org": "acme", "token": token},
                  "repoTemplate": {"url": "./template", "vars": {"port": 8000 + i, "team": "platform"}},
                  "ci": [{"type": "template", "templateName": "gh"}]} for i in range(apps)],
        "pipelineTemplates": [{"name": "gh", "type": "github-actions", "options": {
            "configLocation": "workflows", "secrets": {"DEPLOY_KEY": '[[ env "DTM_BENCH_DEPLOY_KEY" ]]'}}}],
    }
    path = folder / "dtm.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _kind(method: str, path: str) -> str:
    """A request by its endpoint: `GET git/trees` for GET /repos/acme/service-001/git/trees/<sha>."""
    parts = path.strip("/").split("?")[0].split("/")[3:]  # after repos/<owner>/<name>
    if parts and parts[0] in ("contents", "compare", "hooks"):
        return f"{method} {parts[0]}"
    words = [p for p in parts if not (len(p) == 40 or p.isdigit() or p.isupper())][:2]
    return f"{method} {'/'.join(words) or 'repo'}"


def serve(latency: float):  # -> GitHubStandIn
    """Make every plugin's HTTP client talk to a stand-in whose requests take `latency` seconds."""
    from github_standin import GitHubStandIn

    from devstream.plugin import RetryingTransport
    from devstream.plugin import http as plugin_http

    standin = GitHubStandIn(token=TOKEN, orgs=("acme",))
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        time.sleep(latency)
        with lock:
            return standin.handler(request)

    transport = RetryingTransport(httpx.MockTransport(handler))
    real = plugin_http.http_client

    def patched(**kwargs: object) -> httpx.Client:
        kwargs["transport"] = transport
        return real(**kwargs)  # type: ignore[arg-type]

    plugin_http.http_client = patched  # type: ignore[assignment]
    return standin


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    os.environ["DTM_BENCH_GITHUB_TOKEN"] = TOKEN
    os.environ["DTM_BENCH_DEPLOY_KEY"] = "deploy-key-for-the-benchmark"
    latency = args.latency_ms / 1000
    standin = serve(latency)
    print(f"scm_apps: {args.apps} apps (repo-scaffolding + github-actions each), {args.latency_ms:.0f} ms per "
          f"request, {args.parallelism} at a time; server: {server.description}")

    def phase(name: str, action) -> tuple[float, int]:  # noqa: ANN001
        before = len(standin.requests)
        t0 = time.perf_counter()
        result = action()
        wall = time.perf_counter() - t0
        sent = len(standin.requests) - before
        sequential = sent * latency
        print(f"  {name:<24} {wall:7.2f} s  {sent:6d} requests ({sent / args.apps:5.1f} per app)  "
              f"sequential {sequential:7.2f} s  speed-up {sequential / wall:5.1f}x")
        kinds = Counter(_kind(r.method, r.path) for r in standin.requests[before:])
        print("      " + ", ".join(f"{kind} {count / args.apps:g}" for kind, count in kinds.most_common()))
        if result not in (0, True):
            print(f"  {name} FAILED ({result})")
        return wall, sent

    with tempfile.TemporaryDirectory(prefix="dtm-bench-scm-") as tmp:
        config = write_config(Path(tmp), args.apps)
        phase("apply (create)", lambda: run.apply(config_path=config, yes=True, parallelism=args.parallelism))
        made = sum(1 for r in standin.repos.values() if r.refs)
        print(f"  repositories with content: {made} of {args.apps}")
        _, sent = phase("plan (drift check)",
                        lambda: Workspace.open(config).current_plan(args.parallelism).empty)
        share = sent * 100 / BUDGET_PER_HOUR
        print(f"  an hourly drift check of these apps: {sent} requests/hour = {share:.1f}% of GitHub's "
              f"{BUDGET_PER_HOUR:,}/hour; {int(BUDGET_PER_HOUR / max(1, sent / args.apps))} apps would use it all")
        phase("destroy", lambda: run.destroy(config_path=config, yes=True, parallelism=args.parallelism))
        print(f"  repositories left: {len(standin.repos)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
