"""The prompt queue: a priority heap of pending prompts plus the one running.

Prompts run in ascending `number` order (ComfyUI's min-heap); ties run in
submission order. Every change reports the new `queue_remaining` (pending +
running) to `on_change`, which the server turns into a `status` broadcast.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class QueueItem:
    """One accepted prompt. `validated` is the executor's validated prompt;
    `sensitive` holds extra_data keys kept out of the queue and history."""

    number: float
    prompt_id: str
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    outputs_to_execute: list[str]
    sensitive: dict[str, Any] = field(default_factory=dict)
    validated: Any = None

    def public(self) -> list[Any]:
        """The item as ComfyUI shows it: [number, prompt_id, prompt, extra_data, outputs]."""
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs_to_execute]


class PromptQueue:
    """Thread-safe: the HTTP handlers put and delete, the runner thread gets."""

    def __init__(self, on_change: Callable[[int], None] | None = None) -> None:
        self._lock = threading.RLock()
        self._not_empty = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, QueueItem]] = []
        self._seq = itertools.count()
        self._running: QueueItem | None = None
        self._flags: dict[str, bool] = {}
        self._counter = 0
        self.on_change = on_change

    # ------------------------------------------------------------ numbering

    def next_number(self, front: bool = False) -> int:
        """The server-side priority for a prompt that gave none (negated for `front`)."""
        with self._lock:
            number = self._counter
            self._counter += 1
        return -number if front else number

    # ------------------------------------------------------------ producers

    def put(self, item: QueueItem) -> None:
        with self._lock:
            heapq.heappush(self._heap, (item.number, next(self._seq), item))
            self._changed()
            self._not_empty.notify()

    def delete(self, prompt_ids: list[str]) -> list[str]:
        """Drop pending items by id (never the running one); returns the ids removed."""
        wanted = set(prompt_ids)
        with self._lock:
            kept = [entry for entry in self._heap if entry[2].prompt_id not in wanted]
            removed = [entry[2].prompt_id for entry in self._heap if entry[2].prompt_id in wanted]
            if removed:
                heapq.heapify(kept)
                self._heap = kept
                self._changed()
            return removed

    def clear(self) -> None:
        with self._lock:
            self._heap = []
            self._changed()

    def set_flag(self, name: str, value: bool) -> None:
        """Ask the runner to do something after the current prompt (see /free)."""
        with self._lock:
            self._flags[name] = value
            self._not_empty.notify()

    # ------------------------------------------------------------ consumer

    def get(self, timeout: float | None = None, on_take: Callable[[QueueItem], None] | None = None) -> QueueItem | None:
        """Pop the next prompt and mark it running; None on timeout or when flags are set.

        `on_take` runs under the lock as the item becomes the running one (the runner
        clears the interrupt flag there), so `if_running` sees either the old state or
        the new one, never a half-made switch."""
        with self._not_empty:
            if not self._heap and not self._flags:
                self._not_empty.wait(timeout=timeout)
            if not self._heap:
                return None
            item = heapq.heappop(self._heap)[2]
            self._running = item
            if on_take is not None:
                on_take(item)
            self._changed()
            return item

    def if_running(self, prompt_id: str | None, action: Callable[[], None]) -> bool:
        """Run `action` under the lock if `prompt_id` is the running prompt (any prompt, or none, when None)."""
        with self._lock:
            if prompt_id is not None and (self._running is None or self._running.prompt_id != prompt_id):
                return False
            action()
            return True

    def drop_pending(self) -> int:
        """Remove every pending prompt (shutdown); returns how many there were."""
        with self._lock:
            count = len(self._heap)
            self._heap = []
            if count:
                self._changed()
            return count

    def take_flags(self) -> dict[str, bool]:
        with self._lock:
            flags, self._flags = self._flags, {}
            return flags

    def task_done(self, after: Callable[[], None] | None = None) -> None:
        """Clear the running item; `after` runs under the lock first (history write),
        so a reader never sees the prompt neither running nor in history."""
        with self._lock:
            if after is not None:
                after()
            self._running = None
            self._changed()

    def wake(self) -> None:
        with self._lock:
            self._not_empty.notify_all()

    # ------------------------------------------------------------ views

    @property
    def running(self) -> QueueItem | None:
        with self._lock:
            return self._running

    def snapshot(self) -> tuple[list[QueueItem], list[QueueItem]]:
        """(running, pending) with pending in execution order."""
        with self._lock:
            running = [self._running] if self._running is not None else []
            pending = [entry[2] for entry in sorted(self._heap, key=lambda e: (e[0], e[1]))]
            return running, pending

    def remaining(self) -> int:
        with self._lock:
            return len(self._heap) + (1 if self._running is not None else 0)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(len(self._heap) + (1 if self._running is not None else 0))
