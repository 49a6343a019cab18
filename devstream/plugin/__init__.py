"""The plugin SDK: everything a plugin imports from dtm, and nothing else.

A plugin is a class with a pydantic `Options` model (a `PluginOptions` subclass) and four methods,
`create`, `read`, `update` and `delete`. Each gets the validated options and a `PluginContext`. `create`
and `update` return the resource status (a JSON-able dict) whose `outputs` other tools may reference;
`read` returns the live status, or None when the resource does not exist; `delete` returns nothing and
treats "already gone" as success. A call that fails raises `TransientError` (retrying may help: timeouts,
429, 5xx) or `PermanentError` (it will not: bad input, denied, conflict; `RateLimitError`, from
`raise_for_status`, when a rate limit resets later than dtm waits). A secret option is a `SecretStr`.

    from devstream.plugin import Field, Plugin, PluginContext, PluginOptions, ResourceStatus, SecretStr

Third-party plugins register their class under the `devstream.plugins` entry point group;
`devstream.testing` holds the conformance suite every plugin runs in its tests. The registry, the
engine's retrying transport and the rest of dtm are not part of the SDK.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from devstream.errors import PermanentError, PluginError, RateLimitError, TransientError
from devstream.plugin.base import Plugin, PluginContext, PluginOptions, ResourceStatus
from devstream.plugin.http import http_client, raise_for_status

__all__ = [
    "Field",
    "PermanentError",
    "Plugin",
    "PluginContext",
    "PluginError",
    "PluginOptions",
    "RateLimitError",
    "ResourceStatus",
    "SecretStr",
    "TransientError",
    "http_client",
    "raise_for_status",
]
