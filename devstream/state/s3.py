"""The `s3` state backend: DevStream's state object in an S3 bucket, with a journal so one write stays small.

DevStream's s3 backend PUT the whole state object after every change (O(N^2) bytes per apply) and had no lock.
Here the object at `key` keeps DevStream's format (one YAML mapping of `name_instanceID` to its record, an empty
state an empty object), so a DevStream state is read as it is, and it is only rewritten by `flush()`, once per
locked run. In between, each `put`/`delete` writes one small immutable journal object beside it:

    <key>.journal/000000000007.json    {"op":"put","key":"repo_default","record":{...}}
    <key>.journal/000000000008.json    {"op":"delete","key":"repo_old"}

created with `If-None-Match: *`, so two writers never overwrite one entry. Reading is the state object with the
journal replayed on top in order, so a run that died before compacting loses nothing; compaction writes the
merged object, then deletes the entries it merged (replaying is idempotent, so a crash in between is harmless).

The lock is a third object, `<key>.lock`, taken and renewed with conditional writes (see devstream.state.s3_lock).
Credentials come the AWS way (environment, shared files, AWS_PROFILE or the `profile` option, instance roles);
`endpoint` points at an S3-compatible server (MinIO, Ceph, moto).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from devstream.errors import StateError
from devstream.state import document, journal
from devstream.state.base import ChangeNote, StateRecord
from devstream.state.lock_protocol import LockedStore
from devstream.state.s3_lock import DEFAULT_LEASE_SECONDS, S3Lock, client_error_code, client_error_status

__all__ = ["S3StateStore"]

_DO_NOT_EDIT = "it is DevStream's format, do not edit it by hand; restore an earlier version (S3 versioning)"
_ENTRY_RE = re.compile(r"(\d{12})\.json$")
_AUTH_CODES = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken",
               "InvalidClientTokenId", "UnrecognizedClientException", "AllAccessDisabled")
_REGION_CODES = ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException")


def _where_nowhere(option: str) -> str:
    return f"config.state.options.{option}:"


class S3StateStore(LockedStore):
    """State in the S3 object `key` of `bucket`, written through a journal of small objects.

    `locate(option)` says where an option was written ("config.yaml:4: config.state.options.bucket:"), so an
    error about the bucket or the credentials points at the line to fix. Safe to call from many threads.
    `bytes_written` counts the bodies of every object this store wrote (journal entries and compactions).
    """

    state_lock: S3Lock

    def __init__(
        self,
        *,
        bucket: str,
        region: str,
        key: str,
        endpoint: str | None = None,
        path_style: bool | None = None,
        profile: str | None = None,
        config_path: Path | None = None,
        locate: Callable[[str], str] = _where_nowhere,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        renew_every: float | None = None,
    ) -> None:
        import boto3
        import botocore.config
        import botocore.exceptions

        self.bucket, self.region, self.key, self.endpoint, self.profile = bucket, region, key, endpoint, profile
        self._locate = locate
        self.url = f"s3://{bucket}/{key}"
        self.description = f"s3 object {self.url}" + (f" at {endpoint}" if endpoint else f" ({region})")
        try:
            self._session = boto3.session.Session(profile_name=profile, region_name=region)
        except botocore.exceptions.ProfileNotFound as exc:
            raise StateError(f"{locate('profile')} the AWS profile {profile!r} is not in the AWS config or "
                             f"credentials files ({exc}); add it (aws configure --profile {profile}) or fix the "
                             "option") from None
        addressing = "path" if (path_style if path_style is not None else endpoint is not None) else "auto"
        self.s3 = self._session.client(
            "s3",
            region_name=region,
            endpoint_url=endpoint,
            config=botocore.config.Config(s3={"addressing_style": addressing}, connect_timeout=10, read_timeout=60,
                                          retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=16),
        )
        self.journal_prefix = f"{key}.journal/"
        self.bytes_written = 0
        self._guard = threading.RLock()
        self._next_seq: int | None = None
        self._entries: dict[str, dict[str, Any]] = {}  # journal objects are immutable: each is fetched once
        self._state_cache: tuple[str, bytes] | None = None  # (ETag, body) of the state object as last read
        hint = f"dtm force-unlock -f {config_path}" if config_path else "dtm force-unlock -f <config>"
        self.state_lock = S3Lock(
            self.s3, bucket=bucket, lock_key=f"{key}.lock", identity=f"{endpoint or region}|{bucket}",
            state_description=self.url + (f" at {endpoint}" if endpoint else ""), unlock_hint=hint,
            precondition_failed=lambda exc: client_error_status(exc) == 412, translate=self._error,
            lease_seconds=lease_seconds, renew_every=renew_every,
        )

    def __repr__(self) -> str:
        return f"S3StateStore({self.url!r}, endpoint={self.endpoint!r})"

    @property
    def lock_key(self) -> str:
        return self.state_lock.lock_key

    # -- the StateStore protocol ------------------------------------------------------------------------

    def read(self) -> dict[str, StateRecord]:
        """Every record, by state key: the state object with the journal replayed on top."""
        with self._guard:
            return self._load(self._journal_names())

    def put(self, record: StateRecord, note: ChangeNote | None = None) -> None:
        """Save one record as one journal object (DevStream's format has no place for the note)."""
        self._append(journal.put_entry(record))

    def delete(self, state_key: str, note: ChangeNote | None = None) -> None:
        """Forget one record by a journal object saying so (missing records are fine)."""
        self._append(journal.delete_entry(state_key))

    def _locked_afresh(self) -> None:
        with self._guard:
            self._next_seq = None  # another run may have written since: number on from what is there

    def flush(self) -> None:
        """Compact: write the merged state object, then delete the journal objects merged into it."""
        with self._guard:
            names = self._journal_names()
            if not names:
                return
            records = self._load(names)
            data = document.render(records)
            try:
                response = self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=data,
                                              ContentType="application/yaml")
            except Exception as exc:
                raise self._error(exc, "write the state") from exc
            self.bytes_written += len(data)
            self._state_cache = (str(response.get("ETag", "")), data)
            for start in range(0, len(names), 1000):  # DeleteObjects takes 1000 keys at most
                batch = names[start:start + 1000]
                try:
                    self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": n} for n in batch],
                                                                       "Quiet": True})
                except Exception as exc:
                    raise self._error(exc, "remove the state's merged journal") from exc
                for name in batch:
                    self._entries.pop(name, None)

    # -- reading ----------------------------------------------------------------------------------------

    def _load(self, names: list[str]) -> dict[str, StateRecord]:
        records = self._read_state_object()
        missing = [n for n in names if n not in self._entries]
        if missing:
            with ThreadPoolExecutor(max_workers=min(8, len(missing))) as pool:
                for name, entry in zip(missing, pool.map(self._get_entry, missing), strict=True):
                    if entry is not None:
                        self._entries[name] = entry
        for name in names:
            if name in self._entries:
                journal.fold(records, self._entries[name], partial(self._corrupt_journal, name))
        return records

    def _read_state_object(self) -> dict[str, StateRecord]:
        cached = self._state_cache
        try:
            extra = {"IfNoneMatch": cached[0]} if cached else {}
            response = self.s3.get_object(Bucket=self.bucket, Key=self.key, **extra)
        except Exception as exc:
            status = client_error_status(exc)
            if status == 304 and cached is not None:
                return document.parse(cached[1], self._corrupt)  # unchanged since last read: not downloaded again
            if status == 404 and client_error_code(exc) != "NoSuchBucket":
                return {}  # DevStream created it empty: a missing object is an empty state
            raise self._error(exc, "read the state") from exc
        body = response["Body"].read()
        records = document.parse(body, self._corrupt)
        self._state_cache = (str(response.get("ETag", "")), body)
        return records

    def _corrupt(self, line: int, what: str) -> StateError:
        return StateError(f"state object {self.url} is corrupt at line {line}: {what}; {_DO_NOT_EDIT}")

    def _journal_names(self) -> list[str]:
        names: list[str] = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.journal_prefix)
            for page in pages:
                names.extend(o["Key"] for o in page.get("Contents", ()) if _ENTRY_RE.search(o["Key"]))
        except Exception as exc:
            raise self._error(exc, "read the state's journal") from exc
        names.sort()
        live = set(names)
        for gone in [n for n in self._entries if n not in live]:
            del self._entries[gone]  # merged and removed by a compaction since
        return names

    def _get_entry(self, name: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=name)["Body"].read()
        except Exception as exc:
            if client_error_status(exc) == 404 and client_error_code(exc) != "NoSuchBucket":
                return None  # merged and removed by a compaction since the listing
            raise self._error(exc, "read the state's journal") from exc
        try:
            entry = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise self._corrupt_journal(name, f"not JSON ({exc})") from None
        return entry if isinstance(entry, dict) else {}

    def _corrupt_journal(self, name: str, what: str) -> StateError:
        return StateError(f"state journal object s3://{self.bucket}/{name} is corrupt: {what}; do not edit it by "
                          "hand; restore it, or remove it to lose that one change")

    # -- writing ----------------------------------------------------------------------------------------

    def _append(self, entry: dict[str, Any]) -> None:
        body = journal.encode(entry).encode("utf-8")
        while True:
            with self._guard:
                if self._next_seq is None:
                    self._next_seq = max((_seq(n) for n in self._journal_names()), default=0) + 1
                seq, self._next_seq = self._next_seq, self._next_seq + 1
            name = f"{self.journal_prefix}{seq:012d}.json"
            try:
                # Outside the guard: the apply flow's tasks write their records concurrently.
                self.s3.put_object(Bucket=self.bucket, Key=name, Body=body, IfNoneMatch="*",
                                   ContentType="application/json")
            except Exception as exc:
                if client_error_status(exc) in (409, 412):
                    with self._guard:
                        self._next_seq = None  # another writer took this number: number on after theirs
                    continue
                raise self._error(exc, "write the state's journal") from exc
            with self._guard:
                self._entries[name] = entry
                self.bytes_written += len(body)
            return

    # -- errors ------------------------------------------------------------------------------------------

    def _error(self, exc: Exception, doing: str) -> StateError:
        """A client error as the user acts on it: which option or which credentials to fix."""
        import botocore.exceptions

        where = f"{self.url}" + (f" at {self.endpoint}" if self.endpoint else f" in region {self.region}")
        if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
            return StateError(
                f"{self._locate('backend')} cannot {doing} {where}: no AWS credentials found ({exc}); set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (or the state option `profile`) "
                "naming a profile of ~/.aws/credentials, or run where an AWS role applies")
        if isinstance(exc, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectTimeoutError):
            field = "endpoint" if self.endpoint else "region"
            return StateError(f"{self._locate(field)} cannot {doing} {where}: the S3 server cannot be reached "
                              f"({exc}); check the option and the network")
        code, message = client_error_code(exc), _message(exc)
        if code == "NoSuchBucket":
            return StateError(f"{self._locate('bucket')} cannot {doing} {where}: the bucket {self.bucket!r} does "
                              f"not exist; create it (aws s3 mb s3://{self.bucket}) or name an existing one")
        if code in _AUTH_CODES or client_error_status(exc) == 403:
            return StateError(
                f"{self._locate('profile' if self.profile else 'backend')} cannot {doing} {where}: the S3 server "
                f"refused dtm's AWS credentials ({code}: {message}); they came from {self._credential_source()}; "
                "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE and that they may read and write "
                f"s3://{self.bucket}/{self.key}*")
        if code in _REGION_CODES or client_error_status(exc) == 301:
            return StateError(f"{self._locate('region')} cannot {doing} {where}: the bucket is not in region "
                              f"{self.region!r} ({code}: {message}); set the bucket's region")
        if isinstance(exc, botocore.exceptions.BotoCoreError | botocore.exceptions.ClientError):
            return StateError(f"cannot {doing} {where}: {code or type(exc).__name__}: {message or exc}")
        return StateError(f"cannot {doing} {where}: {type(exc).__name__}: {exc}")

    def _credential_source(self) -> str:
        try:
            credentials = self._session.get_credentials()
        except Exception:
            return "an unknown source"
        method = getattr(credentials, "method", None)
        return {"env": "the environment (AWS_ACCESS_KEY_ID)", "shared-credentials-file": "~/.aws/credentials",
                "config-file": "~/.aws/config"}.get(str(method), str(method or "an unknown source"))


def _seq(name: str) -> int:
    match = _ENTRY_RE.search(name)
    return int(match.group(1)) if match else 0


def _message(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Message", "")) if isinstance(response, dict) else ""
