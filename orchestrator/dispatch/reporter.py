"""A Celery worker's report on its ComfyUI instance: the scheduler dispatches to an
instance only while its worker keeps saying that the instance answers."""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx

log = logging.getLogger(__name__)


class InstanceReporter:
    def __init__(self, store: Any, instance_id: str, url: str, every_s: float) -> None:
        self.store, self.instance_id, self.url, self.every_s = store, instance_id, url.rstrip("/"), every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"report-{instance_id}", daemon=True)

    def start(self) -> None:
        self.store.upsert_instance(self.instance_id, self.url, self.instance_id)
        self.report()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.store.instance_down(self.instance_id, "its worker stopped")

    def report(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=5.0) as http:
                http.get("/system_stats").raise_for_status()
                response = http.get("/object_info")
                response.raise_for_status()
                node_types = sorted(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            self.store.instance_down(self.instance_id, f"ComfyUI at {self.url} does not answer: {exc}")
            return
        self.store.instance_seen(self.instance_id, node_types)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.report()
            except Exception:  # keep reporting through database hiccups
                log.exception("instance report failed")
