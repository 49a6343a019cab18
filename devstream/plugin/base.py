"""The Plugin base class and the context every plugin call receives."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from devstream.errors import ImportNotSupportedError
from devstream.plugin.apps import AppInfo

__all__ = ["ConvergingPlugin", "Plugin", "PluginContext", "PluginOptions", "ResourceStatus"]

ResourceStatus = dict[str, Any]
"""What create/update/read return: JSON-able; `outputs` holds what other tools may reference."""


class PluginOptions(BaseModel):
    """Base for plugin options: unknown keys are errors, so a typo fails at load time."""

    model_config = ConfigDict(extra="forbid")


OptionsT = TypeVar("OptionsT", bound=BaseModel)


@dataclass
class PluginContext:
    """What a plugin call gets besides its options.

    Attributes:
        name: the plugin name of the tool (its `name` in the config).
        instance_id: the tool's instanceID.
        workdir: the folder of the config; relative paths in options are taken from here.
        logger: where to log; never log secrets.
        action: the action being run (create, read, update, delete).
        attempt: 1 for the first try, 2 for the first retry...
        prior: the status dtm recorded for this tool after its last create or update (None when the tool has
            no record). Read, update and delete use it to know what dtm itself made: the files it wrote,
            whether it created a repository or adopted one, the secrets it set, so that an update removes
            what the options dropped and a delete removes only what dtm created.
        owned: for `import_resource` only: the user said dtm owns the resource it adopts (`dtm import
            --owned`), so a later delete removes it as if dtm had created it.
    """

    name: str
    instance_id: str
    workdir: Path
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("devstream.plugin"))
    action: str = ""
    attempt: int = 1
    client_factory: Callable[..., httpx.Client] | None = None
    prior: ResourceStatus | None = None
    owned: bool = False

    @property
    def key(self) -> str:
        return f"{self.name}.{self.instance_id}"

    def path(self, value: str | Path) -> Path:
        """A path from the options, relative to the config's folder unless absolute."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.workdir / p

    def http_client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client that retries 429, 5xx and timeouts with backoff, honouring Retry-After."""
        from devstream.plugin.http import http_client

        return (self.client_factory or http_client)(**kwargs)


class Plugin(ABC, Generic[OptionsT]):
    """Subclass this, set `name`, `description` and `Options`, and implement the four methods.

    The four methods are abstract: the registry refuses a plugin class that lacks one when it loads it (at
    `dtm validate`, `dtm plan` or `dtm list plugins`), not when a change first calls it.

    Every method gets the options validated by `Options` (references to other tools' outputs already
    resolved) and a `PluginContext`; `ctx.prior` is the status dtm recorded after this tool's last create or
    update, or None when dtm has no record of it. A status is a JSON-able dict; its `outputs` dict holds
    what other tools may reference as `${{ name.instanceID.outputs.key }}`. A status never holds a secret
    in clear. A failure raises `TransientError` (retrying may help) or `PermanentError` (it will not).

    `output_keys` may say which outputs the plugin returns for given options, so that a reference to an
    output that will never exist fails at load time rather than at apply time.
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = PluginOptions
    description: ClassVar[str] = ""
    import_id: ClassVar[str] = ""
    """What `dtm import KEY ID` takes as ID for this plugin's resource ("the file's path", "the repository as
    owner/name"); empty when the plugin cannot import (then `import_resource` is not overridden)."""

    @abstractmethod
    def create(self, options: OptionsT, ctx: PluginContext) -> ResourceStatus:
        """Make the resource the options describe, and return its status.

        Receives: `ctx.prior` is None for a tool dtm never made, or the last recorded status when the
        resource went missing outside dtm (dtm recreates it). The resource may already exist (made by hand,
        or by a create that failed half-way): adopt it rather than fail, where the system allows.
        Returns: the status, equal to what `read` returns right after (otherwise the next plan sees drift).
        """

    @abstractmethod
    def read(self, options: OptionsT, ctx: PluginContext) -> ResourceStatus | None:
        """Return the live status of the resource, or None when it does not exist.

        Receives: `ctx.prior`, the recorded status (None when dtm has no record, e.g. for a tool never
        applied); use it to know what dtm made (files, secrets, whether a repository was adopted). Must
        not change anything. Returns: the same dict `create`/`update` returned while nothing changed outside
        dtm; a status that differs is drift, which the next apply repairs with `update`.
        """

    @abstractmethod
    def update(self, options: OptionsT, ctx: PluginContext) -> ResourceStatus:
        """Make the existing resource match the options (changed options, or drift), and return its status.

        Receives: `ctx.prior`, the status recorded after the last create or update: what the previous
        options made, so that an update removes what the options no longer ask for. Updating to the options
        the resource already has changes nothing in the system. Returns: the new status, equal to what
        `read` returns right after.
        """

    @abstractmethod
    def delete(self, options: OptionsT, ctx: PluginContext) -> None:
        """Remove the resource; a resource already gone is success.

        Receives: `ctx.prior`, the recorded status (None for `dtm delete --force` of a tool not in state):
        remove only what dtm made, which the prior says. Returns nothing; after it, `read` returns None.
        """

    def import_resource(self, resource_id: str, options: OptionsT, ctx: PluginContext) -> ResourceStatus | None:
        """Adopt the existing resource `resource_id` names into dtm's state (`dtm import`); `import_id` says
        what the ID is.

        Receives: the options of the tool it becomes (the resource must be the one they describe: raise
        PermanentError naming both when it is not); `ctx.prior` is None; `ctx.owned` is True when the user said
        dtm owns the resource. Must not change anything. Returns: the status `create` would have returned had it
        made this resource from these options, so that the next plan's `read` shows where the resource differs
        from the options as drift (and only that), which apply then repairs with `update`; the status records
        that dtm did not create the resource (unless `ctx.owned`), so that `delete` leaves it in place. None
        when nothing is there.
        """
        raise ImportNotSupportedError(f"the {self.name or type(self).__name__} plugin cannot import an existing "
                                      f"resource; apply the tool to create it, or adopt it the way the plugin "
                                      f"documents")

    @classmethod
    def options_for_app(cls, options: dict[str, Any], app: AppInfo) -> dict[str, Any]:
        """The options of the tool an app's `ci`/`cd` entry of this plugin's type becomes (DevStream v0.12's
        `apps`), from the entry's `options` (merged over its pipelineTemplate's; the plugin's own copy, which it
        may change) and the app (its name, spec, repository and its CI's image). The config layer knows no
        plugin's option shape: the plugin says it here. Default: the entry's options as they are."""
        return options

    def output_keys(self, options: OptionsT) -> set[str] | None:
        """The output keys create/update will return, or None when they cannot be known in advance."""
        return None

    def systems(self, options: Mapping[str, Any]) -> set[str]:
        """The external systems a tool with these options calls, such as {"github"}.

        Given the options as written (references may still be unresolved, so they are not validated). Each
        call's task run is tagged `dtm-system-<name>`, so that one Prefect concurrency limit throttles every
        plugin's calls to that system (`prefect concurrency-limit create dtm-system-github 4`).
        """
        return set()


def still_adopted(status: ResourceStatus, prior: ResourceStatus | None) -> ResourceStatus:
    """`status`, marked adopted while the recorded one (`prior`) was: a resource `dtm import` adopted stays
    adopted through reads and updates, so that delete keeps leaving it in place."""
    return {**status, "adopted": True} if (prior or {}).get("adopted") else status


class ConvergingPlugin(Plugin[OptionsT]):
    """A plugin whose create and update are one thing: make the resource match the options, whether it is there
    or not (a Kubernetes apply, a container set recreated, a configuration put). Implement `converge`, `read`
    and `delete`; create and update both call `converge`.

    Where create and update differ (an update removes what the prior options made, or keeps a resource it
    adopted), subclass `Plugin` and write both.
    """

    @abstractmethod
    def converge(self, options: OptionsT, ctx: PluginContext) -> ResourceStatus:
        """Make the resource match the options, creating it when it is missing, and return its status.

        Receives: `ctx.prior`, the recorded status (None for a tool dtm never made). Returns: the status, equal
        to what `read` returns right after. Converging to options the resource already has changes nothing.
        """

    def create(self, options: OptionsT, ctx: PluginContext) -> ResourceStatus:
        return self.converge(options, ctx)

    def update(self, options: OptionsT, ctx: PluginContext) -> ResourceStatus:
        return self.converge(options, ctx)
