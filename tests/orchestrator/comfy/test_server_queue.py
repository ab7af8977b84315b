"""Queue order, deletion and clearing, over HTTP and on the queue and history objects."""

from __future__ import annotations

import threading

import pytest
import server_protocol_checks as checks
from comfy_protocol_client import ComfyClient

from orchestrator.comfy.server.history import History, make_entry
from orchestrator.comfy.server.queue import PromptQueue, QueueItem


def test_priority_front_and_delete(client: ComfyClient) -> None:
    checks.check_queue_order_and_delete(client)


def test_clear_drops_pending_only(client: ComfyClient) -> None:
    checks.check_queue_clear(client)


def test_queue_items_hide_sensitive_extra_data(client: ComfyClient) -> None:
    blocker = checks.start_long_run(client, "proto/hide")
    pending = client.submit(checks.chain(checks.unique_value()), extra_data={"api_key_comfy_org": "k"})["prompt_id"]
    (item,) = client.queue()["queue_pending"]
    assert item[1] == pending and "api_key_comfy_org" not in item[3] and item[3]["client_id"] == client.client_id
    client.interrupt(blocker)
    client.wait_done(pending)


def test_status_is_broadcast_on_every_queue_change(client: ComfyClient) -> None:
    blocker = checks.start_long_run(client, "proto/status")
    start = len(client.frames)
    extra = client.submit(checks.chain(checks.unique_value()))["prompt_id"]
    client.wait_for(lambda f: f["type"] == "status" and f["data"]["status"]["exec_info"]["queue_remaining"] == 2)
    client.post("/queue", {"delete": [extra]})
    client.wait_for(lambda f: f["type"] == "status" and f["data"]["status"]["exec_info"]["queue_remaining"] == 1)
    client.interrupt(blocker)
    client.wait_done(blocker)
    counts = [
        f["data"]["status"]["exec_info"]["queue_remaining"] for f in client.frames[start:] if f["type"] == "status"
    ]
    assert counts == [2, 1, 0]


def _item(prompt_id: str, number: float) -> QueueItem:
    return QueueItem(number, prompt_id, {}, {}, ["1"])


def test_prompt_queue_orders_by_number_then_arrival() -> None:
    changes: list[int] = []
    queue = PromptQueue(on_change=changes.append)
    for prompt_id, number in (("a", 2), ("b", 1), ("c", 2), ("d", -5)):
        queue.put(_item(prompt_id, number))
    assert [i.prompt_id for i in queue.snapshot()[1]] == ["d", "b", "a", "c"]
    assert queue.delete(["b", "zz"]) == ["b"]
    order = []
    while (item := queue.get(timeout=0)) is not None:
        order.append(item.prompt_id)
        assert queue.running is item and queue.remaining() >= 1
        queue.task_done()
    assert order == ["d", "a", "c"]
    assert changes == [1, 2, 3, 4, 3, 3, 2, 2, 1, 1, 0]


def test_prompt_queue_numbers_and_front() -> None:
    queue = PromptQueue()
    assert [queue.next_number(), queue.next_number(), queue.next_number(front=True)] == [0, 1, -2]


def test_prompt_queue_get_waits_for_a_put() -> None:
    queue = PromptQueue()
    got: list[QueueItem | None] = []
    reader = threading.Thread(target=lambda: got.append(queue.get(timeout=10)))
    reader.start()
    queue.put(_item("late", 0))
    reader.join(10)
    assert got and got[0] is not None and got[0].prompt_id == "late"


def test_prompt_queue_get_returns_none_for_flags() -> None:
    queue = PromptQueue()
    queue.set_flag("free_memory", True)
    assert queue.get(timeout=10) is None
    assert queue.take_flags() == {"free_memory": True} and queue.take_flags() == {}


def test_history_is_bounded_and_sliced_like_comfyui() -> None:
    history = History(max_items=3)
    for i in range(5):
        history.add(f"p{i}", make_entry([i, f"p{i}", {}, {}, []], {}, {}, "success", True, []))
    assert list(history.list()) == ["p2", "p3", "p4"]
    assert list(history.list(max_items=2)) == ["p3", "p4"]
    assert list(history.list(max_items=1, offset=1)) == ["p3"]
    assert list(history.list(offset=2)) == ["p4"]
    assert history.get("p0") == {} and history.get("p4")["p4"]["status"]["status_str"] == "success"
    history.add("p3", make_entry([9, "p3", {}, {}, []], {}, {}, "error", False, []))
    assert list(history.list()) == ["p2", "p3", "p4"]  # a reused id keeps its place
    history.delete(["p2", "missing"])
    assert list(history.list()) == ["p3", "p4"]
    history.clear()
    assert len(history) == 0


def test_history_needs_room() -> None:
    with pytest.raises(ValueError):
        History(max_items=0)
