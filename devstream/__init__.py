"""dtm: DevStream, the declarative DevOps toolchain manager, on Prefect.

The core (this package, apart from `devstream.flows`, `devstream.tasks` and the CLI's run commands)
never imports prefect: config, graph, plan, outputs, state and the plugin SDK work without it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dtm")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
