"""Several `wan-i2v serve` replicas on one PostgreSQL schema and one Redis broker, with Celery workers and
trivial-node instances, all as processes. Redis keys are named after a per-test run id and removed after."""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from service_support import TRIVIAL_WORKFLOWS, Proc, Service, free_port, service_env, wait_for

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = "redis://127.0.0.1:6379/14"


def redis_up(url: str = REDIS_DB) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def drop_keys(url: str, run: str) -> None:
    """Only this run's keys (its queues and bindings) and its entries in kombu's shared unacked hash."""
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"*{run}*"):
        client.delete(key)
    mine = [tag for tag, value in client.hgetall("unacked").items() if run.encode() in value]
    if mine:
        client.hdel("unacked", *mine)
        client.zrem("unacked_index", *mine)


@dataclass
class Replica:
    port: int
    proc: Proc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    service: Service
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    replicas: list[Replica] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return self.service.env

    def queue(self, i: int) -> str:
        return f"r{self.run}gpu{i}"

    def start_replica(self, port: int | None = None) -> Replica:
        port = port or free_port()
        n = len(self.replicas)
        proc = Proc([sys.executable, "-m", "orchestrator.cli.main", "serve", "--port", str(port)], self.env,
                    self.service.tmp / f"replica{n}.log")
        proc.start()
        replica = Replica(port, proc)
        wait_for(lambda: httpx.get(replica.url + "/api/health", timeout=2).status_code == 200, 60, f"replica {n}")
        self.replicas.append(replica)
        return replica

    def client(self, replica: Replica, token: str) -> httpx.Client:
        return httpx.Client(base_url=replica.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def token(self, replica: Replica, name: str) -> str:
        r = httpx.post(replica.url + "/api/auth/login", json={"username": name, "password": f"{name}-password"})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def close(self) -> None:
        for replica in self.replicas:
            replica.proc.stop()
        self.service.close()
        drop_keys(self.env["BROKER_URL"], self.run)


def make_cluster(tmp: Path, database_url: str, broker_url: str, instances: int = 2, **env: str) -> Cluster:
    """Instances and one Celery worker per instance (queues r<run>gpuN); replicas are started by the test."""
    service = Service(tmp, service_env(tmp, DATABASE_URL=database_url, BROKER_URL=broker_url,
                                       WAN_WORKFLOWS_DIR=str(TRIVIAL_WORKFLOWS), COMFYUI_URLS="", EMBEDDED_COMFY="0",
                                       **env))
    cluster = Cluster(service)
    for i in range(instances):
        url = service.start_instance()
        service.start_worker(cluster.queue(i), url)
    service.add_user("alice")
    service.add_user("bob")
    return cluster
