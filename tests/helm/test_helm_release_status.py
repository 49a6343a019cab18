"""What dtm records of a release, from `helm status -o json --show-resources`: DevStream's `workflows` (each
workload and whether it is ready), a fingerprint per object and of the values (never the values themselves),
whether helm's answer holds tables (as API servers give helm) or plain objects."""

from __future__ import annotations

from typing import Any

import yaml

from devstream.plugins.helm import release_status, values_digest


def deployment(name: str, replicas: int, ready: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "jenkins"},
            "spec": {"replicas": replicas}, "status": {"readyReplicas": ready}}


def table(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": [],
            "rows": [{"cells": [], "object": obj} for obj in objects]}


def live(resources: dict[str, Any], config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": "jenkins", "namespace": "jenkins", "version": 3, "config": config,
            "info": {"status": "deployed", "description": "Rollback to 1", "resources": resources},
            "chart": {"metadata": {"name": "jenkins", "version": "1.1.0", "appVersion": "2.375.2"}}}


def test_workflows_say_which_workload_is_ready_as_devstream_recorded() -> None:
    daemons = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
               "status": {"numberReady": 1, "desiredNumberScheduled": 2}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "jenkins-abc"}, "spec": {}}
    status = release_status(live({"v1/Deployment": [table(deployment("jenkins", 2, 2), deployment("b", 1, 0))],
                                  "v1/DaemonSet": [daemons], "v1/Pod(related)": [table(pod)]}))
    assert yaml.safe_load(status["workflows"]) == {
        "deployment": [{"name": "b", "ready": False}, {"name": "jenkins", "ready": True}],
        "statefulset": [], "daemonset": [{"name": "agent", "ready": False}]}
    assert sorted(status["resources"]) == ["DaemonSet/agent", "Deployment/jenkins/b", "Deployment/jenkins/jenkins"]
    assert (status["revision"], status["lastAction"], status["chartVersion"]) == (3, "Rollback to 1", "1.1.0")


def test_an_edited_object_changes_its_fingerprint_but_its_status_does_not() -> None:
    before = release_status(live({"v1/Deployment": [deployment("jenkins", 1, 1)]}))
    rolling = release_status(live({"v1/Deployment": [deployment("jenkins", 1, 0)]}))
    edited = release_status(live({"v1/Deployment": [deployment("jenkins", 5, 1)]}))
    assert rolling["resources"] == before["resources"] and rolling["workflows"] != before["workflows"]
    assert edited["resources"] != before["resources"]


def test_values_are_kept_as_a_fingerprint_only() -> None:
    status = release_status(live({}, config={"adminPassword": "s3cr3t-value"}))
    assert "s3cr3t-value" not in str(status)
    assert status["valuesDigest"] == values_digest({"adminPassword": "s3cr3t-value"}) != values_digest({})
    assert release_status(live({}, config=None))["valuesDigest"] == values_digest({})
