"""deploy/kubernetes: the kustomization's manifests, parsed and checked against the code."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.recipes import ALL_QUEUES, DEPLOY, SECRET_NAME, option, parse_cli

MANIFESTS = DEPLOY / "kubernetes"
KUSTOMIZATION = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())


def objects() -> list[dict[str, Any]]:
    found = []
    for name in KUSTOMIZATION["resources"]:
        found.extend(d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d)
    return found


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [o for o in objects() if o["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in of_kind(kind) if o["metadata"]["name"] == name]
    return found


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return found


def args_of(workload: dict[str, Any]) -> list[str]:
    [container] = containers(workload)
    found: list[str] = container["args"]
    return found


def workers() -> list[dict[str, Any]]:
    return [d for d in of_kind("Deployment") if parse_cli(args_of(d)) == ["worker"]]


def test_the_kustomization_lists_every_manifest() -> None:
    on_disk = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(KUSTOMIZATION["resources"]) == on_disk


def test_every_workload_runs_a_valid_convsync_command() -> None:
    for workload in of_kind("Deployment") + of_kind("Job"):
        assert parse_cli(args_of(workload)), workload["metadata"]["name"]


def test_every_queue_has_its_own_worker_deployment() -> None:
    served = sorted(option(args_of(d), "--queues") or "" for d in workers())
    assert served == sorted(ALL_QUEUES)


def test_beat_runs_exactly_one_replica_and_is_recreated_not_rolled() -> None:
    [beat] = [d for d in of_kind("Deployment") if parse_cli(args_of(d)) == ["beat"]]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert not [h for h in of_kind("HorizontalPodAutoscaler") if "beat" in str(h)]


def test_flower_takes_its_login_from_the_secret() -> None:
    flower = named("Deployment", "convsync-flower")
    assert "--insecure-local" not in args_of(flower)
    [container] = containers(flower)
    env = {e["name"]: e for e in container["env"]}
    source = env["CONVSYNC_FLOWER_BASIC_AUTH"]["valueFrom"]["secretKeyRef"]
    assert source == {"name": "convsync-secrets", "key": "CONVSYNC_FLOWER_BASIC_AUTH"}


def test_flower_stays_inside_the_cluster() -> None:
    assert named("Service", "convsync-flower")["spec"]["type"] == "ClusterIP"
    assert of_kind("Ingress") == []
    policy = named("NetworkPolicy", "convsync-flower")
    assert policy["spec"]["policyTypes"] == ["Ingress"]


def test_migrations_run_as_a_job() -> None:
    job = named("Job", "convsync-migrate")
    assert parse_cli(args_of(job)) == ["db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_secrets_come_only_from_the_secret() -> None:
    assert of_kind("Secret") == []  # created from convsync.env, never committed
    config = named("ConfigMap", "convsync-config")["data"]
    assert not [key for key in config if SECRET_NAME.search(key)]
    for workload in of_kind("Deployment") + of_kind("Job"):
        [container] = containers(workload)
        sources = [next(iter(s)) for s in container["envFrom"]]
        assert sources == ["configMapRef", "secretRef"]
        for entry in container.get("env", []):
            if SECRET_NAME.search(entry["name"]):
                assert "value" not in entry, entry["name"]  # a reference, never a value


def test_containers_run_unprivileged() -> None:
    for workload in of_kind("Deployment") + of_kind("Job"):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        [container] = containers(workload)
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_the_manifests(tmp_path: Path) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS)], capture_output=True, text=True, check=True
    ).stdout
    documents = [d for d in yaml.safe_load_all(built) if d]
    assert len(documents) == len(objects())
    assert {d["metadata"].get("namespace") for d in documents if d["kind"] != "Namespace"} == {
        "convsync"
    }


def test_workers_expose_their_metrics_to_prometheus() -> None:
    for worker in workers():
        [container] = containers(worker)
        env = {e["name"]: e.get("value") for e in container["env"]}
        port = worker["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]
        assert env["CONVSYNC_METRICS_PORT"] == port
        assert env["CONVSYNC_METRICS_ADDRESS"] == "0.0.0.0"  # noqa: S104 - inside the pod
