"""Where dtm remembers what it applied: state records, their backends, and the lock around them.

`open_store(config)` picks the backend named in `config.state`: `local` (DevStream's YAML state file),
`prefect` (one Prefect artifact per record, on the server at PREFECT_API_URL), `s3` (DevStream's state object
in an S3 bucket) or `k8s` (DevStream's ConfigMap, locked by a Lease).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from devstream.config.models import NOT_YET_BACKENDS, Config, S3StateOptions, backend_not_available
from devstream.errors import StateError
from devstream.state.base import StateRecord, StateStore
from devstream.state.local import LocalStateStore
from devstream.state.lock import FileLock
from devstream.state.lock_protocol import describe_holder

__all__ = ["FileLock", "LocalStateStore", "StateRecord", "StateStore", "describe_holder", "open_store"]

DEFAULT_STATE_FILE = "devstream.state"
_LOCAL_OPTIONS = ("stateFile", "name")
_PREFECT_OPTIONS = ("name",)


def _check_options(backend: str, options: Mapping[str, object], accepted: Sequence[str], note: str = "") -> None:
    unknown = sorted(k for k in options if k not in accepted)
    if unknown:
        raise StateError(f"unknown option(s) {', '.join(unknown)} for state backend `{backend}`; "
                         f"it accepts: {', '.join(accepted)}{note}")


def open_store(config: Config) -> StateStore:
    """The state store the config names; StateError if it cannot be used."""
    backend = config.state.backend
    options = config.state.options
    if backend == "local":
        _check_options("local", options, _LOCAL_OPTIONS)
        state_file = options.get("stateFile", DEFAULT_STATE_FILE)
        if not isinstance(state_file, str) or not state_file.strip():
            raise StateError("state option stateFile must be a non-empty file path")
        path = Path(state_file)
        # As in DevStream, a relative stateFile is relative to the config's folder.
        if not path.is_absolute():
            path = config.workdir / path
        return LocalStateStore(path, config_path=config.path)
    if backend == "prefect":
        _check_options("prefect", options, _PREFECT_OPTIONS, " (the server is PREFECT_API_URL from the environment)")
        name = options.get("name") or config.name
        if not isinstance(name, str) or not name.strip():
            raise StateError("state option name must be a non-empty string")
        from devstream.prefect_boundary.state_store import PrefectStateStore  # the boundary imports this package

        return PrefectStateStore(name, config_path=config.path)
    if backend == "s3":
        return _open_s3(config)
    if backend in ("k8s", "kubernetes"):
        return _k8s_store(config)
    if backend in NOT_YET_BACKENDS:
        raise StateError(backend_not_available(backend))
    raise StateError(f"unknown state backend `{backend}`; use `prefect`, `local`, `s3` or `k8s`")


def _open_s3(config: Config) -> StateStore:
    from pydantic import ValidationError

    from devstream.state.s3 import S3StateStore  # boto3 is imported only by configs that use it

    _check_options("s3", config.state.options, tuple(S3StateOptions.model_fields))
    try:
        options = S3StateOptions.model_validate(config.state.options)
    except ValidationError as exc:
        raise StateError(f"state backend `s3`: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']} "
                         "(it needs bucket, region and key)") from None

    def locate(option: str) -> str:
        where = config.state.location_of(option)
        place = ":".join(str(p) for p in (where.file, where.line) if p is not None)
        return f"{place}: {where.field}:" if place else f"{where.field}:"

    return S3StateStore(bucket=options.bucket, region=options.region, key=options.key, endpoint=options.endpoint,
                        path_style=options.pathStyle, profile=options.profile, config_path=config.path, locate=locate)


def _k8s_store(config: Config) -> StateStore:
    """The `k8s` store; its module (and the Kubernetes client) is imported only for a k8s state."""
    from pydantic import ValidationError

    from devstream.config.models import K8sStateOptions
    from devstream.errors import ConfigError
    from devstream.plugins.kube.config import resolve_target
    from devstream.state.k8s import K8sStateStore

    try:
        options = K8sStateOptions.model_validate(config.state.options)
    except ValidationError as exc:
        raise StateError(f"state backend k8s: {exc.errors()[0]['msg']}") from None
    try:
        target = resolve_target(options, workdir=config.workdir)
    except ConfigError as exc:
        raise StateError(f"state backend k8s: {exc}") from None
    return K8sStateStore(target, namespace=options.namespace, configmap=options.configmap, config_path=config.path,
                         lease_seconds=options.leaseSeconds)
