"""devlake-config: Apache DevLake's data-source connections (GitHub, GitLab, Jira...) and a blueprint that
collects from them on a schedule, through DevLake's REST API.

DevStream's options are taken unchanged (`devlakeAddr`, `plugins[].name`, `plugins[].connections[]` with `name`,
`endpoint`, `proxy`, `rateLimitPerHour` and `auth`: a token, a username and password, or an app id and secret
key); the secrets are SecretStr, stored as fingerprints. dtm adds what DevStream left as TODOs: each connection's
`scopes` (the repositories or boards DevLake collects), a `blueprint` (name, cron schedule) over every declared
connection and its scopes, a Read that finds a connection or the blueprint changed or removed in DevLake's UI,
and a delete.

A connection is known by the id dtm recorded, else by its name within its data source: one that exists already
under that name is adopted (updated to the options, never deleted by dtm); what dtm created it removes on delete,
and an update removes the connections the options dropped. `devlakeURL` is accepted for `devlakeAddr`, so the
address can come from another tool's output (`${{ helm-installer.devlake.outputs.url }}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from devstream.plugin import PluginContext, PluginOptions, ResourceStatus
from devstream.plugin.base import ConvergingPlugin
from devstream.plugins.devlake_config.client import DevLakeClient

__all__ = ["DevLakeConfigOptions", "DevLakeConfigPlugin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectionAuth(_Strict):
    """How DevLake authenticates to the data source: one of a token, username + password, or app id + key."""

    token: SecretStr | None = Field(default=None, description="An access token (GitHub, GitLab...).")
    username: str | None = Field(default=None, description="A user name, with password (Jira, Jenkins...).")
    password: SecretStr | None = Field(default=None, description="The password (or API token) for username.")
    app_id: str | None = Field(default=None, description="An app id, with secret_key (Feishu...).")
    secret_key: SecretStr | None = Field(default=None, description="The app's secret key.")

    @model_validator(mode="after")
    def _one_method(self) -> ConnectionAuth:
        methods = [self.token is not None, self.username is not None or self.password is not None,
                   self.app_id is not None or self.secret_key is not None]
        if sum(methods) != 1:
            raise ValueError("give one way to authenticate: token, username and password, or app_id and secret_key")
        if (self.username is None) != (self.password is None) or (self.app_id is None) != (self.secret_key is None):
            raise ValueError("username needs password, and app_id needs secret_key")
        return self

    def body(self) -> dict[str, Any]:
        if self.token is not None:
            return {"authMethod": "AccessToken", "token": self.token.get_secret_value()}
        if self.username is not None and self.password is not None:
            return {"authMethod": "BasicAuth", "username": self.username,
                    "password": self.password.get_secret_value()}
        assert self.secret_key is not None
        return {"authMethod": "AppKey", "appId": self.app_id, "secretKey": self.secret_key.get_secret_value()}


class Connection(_Strict):
    name: str = Field(min_length=1, description="The connection's name, unique within its data source.")
    endpoint: str = Field(min_length=1, description="The data source's API, e.g. https://api.github.com/.")
    proxy: str = Field(default="", description="A proxy DevLake uses to reach the endpoint.")
    rateLimitPerHour: int = Field(default=0, ge=0, description="Requests per hour DevLake may make (0: its "
                                  "default).")
    auth: ConnectionAuth = Field(description="The credentials DevLake uses for this connection.")
    scopes: list[dict[str, Any]] = Field(default_factory=list, description="What DevLake collects through this "
                                         "connection: each a scope object as the data source's DevLake plugin "
                                         "takes it (e.g. GitHub's {githubId, name, fullName}), with `scopeId`, "
                                         "the id the blueprint names it by.")

    @field_validator("scopes")
    @classmethod
    def _scope_ids(cls, scopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, scope in enumerate(scopes):
            if not str(scope.get("scopeId", "")).strip():
                raise ValueError(f"scopes[{index}] needs scopeId, the id DevLake knows the scope by")
        return scopes


class DataSource(_Strict):
    name: str = Field(min_length=1, description="The DevLake plugin of the data source: github, gitlab, jira...")
    connections: list[Connection] = Field(default_factory=list, description="Its connections.")

    @field_validator("connections")
    @classmethod
    def _unique(cls, connections: list[Connection]) -> list[Connection]:
        names = [c.name for c in connections]
        if len(names) != len(set(names)):
            raise ValueError(f"connection names must be unique within a data source: {names}")
        return connections


class Blueprint(_Strict):
    name: str = Field(min_length=1, description="The blueprint's name.")
    cronConfig: str = Field(default="0 0 * * *", description="When DevLake collects (cron; DevLake's default is "
                            "daily at midnight).")
    enable: bool = Field(default=True, description="Whether the schedule is on.")
    isManual: bool = Field(default=False, description="Collect only when triggered by hand.")
    skipOnFail: bool = Field(default=False, description="Go on with the other tasks when one fails.")


class DevLakeConfigOptions(PluginOptions):
    devlakeAddr: str = Field(default="", pattern=r"^(https?://.*)?$", description="DevLake's API address, e.g. "
                             "http://devlake:8080 or config-ui's http://HOST:4000/api; or give devlakeURL.")
    devlakeURL: str | None = Field(default=None, pattern=r"^https?://", description="The same as devlakeAddr, "
                                   "under the name an output reference reads well with.")
    plugins: list[DataSource] = Field(min_length=1, description="The data sources and their connections.")
    blueprint: Blueprint | None = Field(default=None, description="A blueprint collecting from every connection "
                                        "declared here, on a schedule.")

    @model_validator(mode="after")
    def _one_address(self) -> DevLakeConfigOptions:
        if bool(self.devlakeAddr) == bool(self.devlakeURL):
            raise ValueError("give DevLake's address once: devlakeAddr (DevStream's name) or devlakeURL")
        self.devlakeAddr = self.devlakeAddr or str(self.devlakeURL)
        return self

    @model_validator(mode="after")
    def _unique_sources(self) -> DevLakeConfigOptions:
        names = [p.name for p in self.plugins]
        if len(names) != len(set(names)):
            raise ValueError(f"each data source once: {names}")
        return self


def _key(source: str, connection: str) -> str:
    return f"{source}/{connection}"


class DevLakeConfigPlugin(ConvergingPlugin[DevLakeConfigOptions]):
    name: ClassVar[str] = "devlake-config"
    Options: ClassVar[type[DevLakeConfigOptions]] = DevLakeConfigOptions
    description: ClassVar[str] = "Apache DevLake's data-source connections and a collection blueprint."

    def read(self, options: DevLakeConfigOptions, ctx: PluginContext) -> ResourceStatus | None:
        prior = ctx.prior or {}
        with DevLakeClient(options.devlakeAddr, ctx) as devlake:
            connections: dict[str, dict[str, Any]] = {}
            for source in options.plugins:
                listed: list[dict[str, Any]] | None = None
                for conn in source.connections:
                    key = _key(source.name, conn.name)
                    recorded = (prior.get("connections") or {}).get(key) or {}
                    live = devlake.connection(source.name, recorded["id"]) if recorded.get("id") else None
                    if live is None:
                        listed = devlake.connections(source.name) if listed is None else listed
                        live = next((c for c in listed if c.get("name") == conn.name), None)
                    if live is not None:
                        connections[key] = _connection_status(live, bool(recorded.get("created")))
            blueprint = None
            recorded_bp = prior.get("blueprint") or {}
            if options.blueprint is not None or recorded_bp:
                live_bp = devlake.blueprint(recorded_bp["id"]) if recorded_bp.get("id") else None
                if live_bp is None and options.blueprint is not None:
                    live_bp = next((b for b in devlake.blueprints() if b.get("name") == options.blueprint.name), None)
                blueprint = _blueprint_status(live_bp, bool(recorded_bp.get("created"))) if live_bp else None
        if not connections and blueprint is None:
            return None
        return _status(options, connections, blueprint)

    def delete(self, options: DevLakeConfigOptions, ctx: PluginContext) -> None:
        prior = ctx.prior or {}
        with DevLakeClient(options.devlakeAddr, ctx) as devlake:
            recorded_bp = prior.get("blueprint") or {}
            if recorded_bp.get("created"):
                devlake.delete_blueprint(int(recorded_bp["id"]))
            for key, recorded in (prior.get("connections") or {}).items():
                if recorded.get("created"):
                    devlake.delete_connection(key.partition("/")[0], int(recorded["id"]))
                else:
                    ctx.logger.warning("%s: DevLake connection %s was there before dtm; it is left in place",
                                       ctx.key, key)

    def output_keys(self, options: DevLakeConfigOptions) -> set[str] | None:
        return {"devlakeAddr", "connectionIDs", "blueprintID"}

    def systems(self, options: Mapping[str, Any]) -> set[str]:
        return {"devlake"}

    def converge(self, options: DevLakeConfigOptions, ctx: PluginContext) -> ResourceStatus:
        prior = ctx.prior or {}
        recorded_conns: dict[str, dict[str, Any]] = dict(prior.get("connections") or {})
        connections: dict[str, dict[str, Any]] = {}
        with DevLakeClient(options.devlakeAddr, ctx) as devlake:
            for source in options.plugins:
                listed = devlake.connections(source.name)
                for conn in source.connections:
                    key = _key(source.name, conn.name)
                    recorded = recorded_conns.pop(key, {})
                    body = {"name": conn.name, "endpoint": conn.endpoint, "proxy": conn.proxy,
                            "rateLimitPerHour": conn.rateLimitPerHour, **conn.auth.body()}
                    live = next((c for c in listed if recorded.get("id") and c.get("id") == recorded["id"]), None) \
                        or next((c for c in listed if c.get("name") == conn.name), None)
                    if live is None:
                        live, created = devlake.create_connection(source.name, body), True
                        ctx.logger.info("%s: created DevLake connection %s (id %s)", ctx.key, key, live.get("id"))
                    else:
                        created = bool(recorded.get("created")) and recorded.get("id") == live.get("id")
                        live = devlake.update_connection(source.name, int(live["id"]), body)
                    if conn.scopes:
                        devlake.put_scopes(source.name, int(live["id"]),
                                           [{**_scope_body(s), "connectionId": live["id"]} for s in conn.scopes])
                    connections[key] = _connection_status(live, created)
            # the blueprint first: DevLake refuses to delete a connection a blueprint still names
            blueprint = self._apply_blueprint(devlake, options, connections, prior.get("blueprint") or {}, ctx)
            for key, recorded in recorded_conns.items():  # dropped from the options
                if recorded.get("created"):
                    devlake.delete_connection(key.partition("/")[0], int(recorded["id"]))
                    ctx.logger.info("%s: removed DevLake connection %s, dropped from the options", ctx.key, key)
        return _status(options, connections, blueprint)

    @staticmethod
    def _apply_blueprint(devlake: DevLakeClient, options: DevLakeConfigOptions, connections: dict[str, Any],
                         recorded: Mapping[str, Any], ctx: PluginContext) -> dict[str, Any] | None:
        if options.blueprint is None:
            if recorded.get("created"):
                devlake.delete_blueprint(int(recorded["id"]))
            return None
        wanted = options.blueprint
        body = {"name": wanted.name, "mode": "NORMAL", "enable": wanted.enable, "cronConfig": wanted.cronConfig,
                "isManual": wanted.isManual, "skipOnFail": wanted.skipOnFail,
                "connections": [{"pluginName": source.name,
                                 "connectionId": connections[_key(source.name, c.name)]["id"],
                                 "scopes": [{"scopeId": str(s["scopeId"])} for s in c.scopes]}
                                for source in options.plugins for c in source.connections]}
        live = devlake.blueprint(int(recorded["id"])) if recorded.get("id") else None
        if live is None:
            live = next((b for b in devlake.blueprints() if b.get("name") == wanted.name), None)
        if live is None:
            live, created = devlake.create_blueprint(body), True
            ctx.logger.info("%s: created DevLake blueprint %s (id %s)", ctx.key, wanted.name, live.get("id"))
        else:
            created = bool(recorded.get("created")) and recorded.get("id") == live.get("id")
            live = devlake.update_blueprint(int(live["id"]), body)
        return _blueprint_status(live, created)


def _scope_body(scope: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in scope.items() if k != "scopeId"}


def _connection_status(live: Mapping[str, Any], created: bool) -> dict[str, Any]:
    """What Read compares of a connection: what the options set, except its secret, which DevLake never shows."""
    return {"id": live.get("id"), "name": live.get("name", ""), "endpoint": live.get("endpoint", ""),
            "proxy": live.get("proxy", ""), "rateLimitPerHour": live.get("rateLimitPerHour", 0), "created": created}


def _blueprint_status(live: Mapping[str, Any], created: bool) -> dict[str, Any]:
    return {"id": live.get("id"), "name": live.get("name", ""), "cronConfig": live.get("cronConfig", ""),
            "enable": bool(live.get("enable")), "isManual": bool(live.get("isManual")),
            "connections": sorted(f"{c.get('pluginName')}/{c.get('connectionId')}:"
                                  + ",".join(sorted(str(s.get("scopeId")) for s in c.get("scopes") or []))
                                  for c in live.get("connections") or []),
            "created": created}


def _status(options: DevLakeConfigOptions, connections: dict[str, dict[str, Any]],
            blueprint: dict[str, Any] | None) -> ResourceStatus:
    status: ResourceStatus = {"connections": connections}
    if blueprint is not None:
        status["blueprint"] = blueprint
    status["outputs"] = {"devlakeAddr": options.devlakeAddr,
                         "connectionIDs": {key: c["id"] for key, c in connections.items()},
                         "blueprintID": blueprint["id"] if blueprint else None}
    return status
