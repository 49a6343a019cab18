"""The plugin SDK: everything a plugin imports from dtm.

A plugin is a class with a pydantic `Options` model and four methods, `create`, `read`, `update` and
`delete`. Each gets the validated options and a `PluginContext`. `create` and `update` return the resource
status (a JSON-able dict) whose `outputs` other tools may reference; `read` returns the live status, or None
when the resource does not exist; `delete` returns nothing and treats "already gone" as success.

Third-party plugins register a class under the `devstream.plugins` entry point group.
"""

from __future__ import annotations

from devstream.errors import PermanentError, PluginError, TransientError
from devstream.plugin.base import Plugin, PluginContext, ResourceStatus
from devstream.plugin.http import RetryingTransport, http_client, raise_for_status
from devstream.plugin.registry import PluginRegistry, default_registry

__all__ = [
    "PermanentError",
    "Plugin",
    "PluginContext",
    "PluginError",
    "PluginRegistry",
    "ResourceStatus",
    "RetryingTransport",
    "TransientError",
    "default_registry",
    "http_client",
    "raise_for_status",
]
