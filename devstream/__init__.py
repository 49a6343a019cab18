"""dtm: DevStream, the declarative DevOps toolchain manager, on Prefect.

The core (this package, apart from `devstream.flows`, `devstream.tasks` and the CLI's run commands)
never imports prefect: config, graph, plan, outputs, state and the plugin SDK work without it.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """`devstream.__version__`, read from the installed package's metadata on first use (PEP 562): loading
    importlib.metadata and scanning the installed distributions costs `dtm --help` ~0.05 s it does not need."""
    if name != "__version__":
        raise AttributeError(f"module 'devstream' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("dtm")
    except PackageNotFoundError:  # running from a source tree that was not installed
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
