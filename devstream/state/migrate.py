"""Reading a state that DevStream v0.12.1 wrote, so that the first apply migrates it without updating every tool.

DevStream's state file has dtm's format (dtm kept it), with three differences that would each make the plan
update every tool:

- DevStream injected `options.instanceID = <instanceID>` into every tool's options before storing them
  (configmanager's `renderInstanceIDtoOptions`), so its stored options never equal the config's;
- it stored secrets (tokens) in clear; the workspace fingerprints them on read, as for any record;
- its plugins described a resource's status in their own shape (`ContainerRunning`, per-file `localSHA`/`scm`
  maps...), which dtm's plugins, reading the same resource, never return: every tool would look drifted.

A record is DevStream's when its options hold the injected instanceID and its plugin has no `instanceID`
option of its own. While planning, such a record's status is taken from the live read (the resource as dtm's
plugin sees it now), so only a resource that is gone or whose options changed is planned; the first apply
rewrites the record in dtm's form (instanceID dropped, secrets fingerprinted, the live status) and says so
once: afterwards the record is dtm's.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from pydantic import BaseModel

from devstream.state.base import StateRecord

__all__ = ["adopt_live_status", "without_injected_instance_id"]


def _has_instance_id_option(model: type[BaseModel]) -> bool:
    return any(name == "instanceID" or info.alias == "instanceID" for name, info in model.model_fields.items())


def without_injected_instance_id(record: StateRecord, options_model: type[BaseModel]) -> StateRecord | None:
    """The record without the `options.instanceID` DevStream injected; None when the record has none (it is
    dtm's, or its plugin has an `instanceID` option of its own)."""
    if record.options.get("instanceID") != record.instanceID or _has_instance_id_option(options_model):
        return None
    options = {k: v for k, v in record.options.items() if k != "instanceID"}
    return record.model_copy(update={"options": options})


def adopt_live_status(records: Mapping[str, StateRecord], live: Mapping[str, Any], devstream_keys: Set[str]
                      ) -> dict[str, StateRecord]:
    """The records DevStream wrote whose resource was read live, with that live status as their status.

    `live` maps state keys to what a read returned (None: the resource is gone; a key that is missing or holds
    something other than a dict was not read). Records not DevStream's, gone, or not read are not returned.
    """
    adopted: dict[str, StateRecord] = {}
    for key in devstream_keys:
        rec, status = records.get(key), live.get(key)
        if rec is not None and isinstance(status, dict):
            adopted[key] = rec.model_copy(update={"resourceStatus": status})
    return adopted
