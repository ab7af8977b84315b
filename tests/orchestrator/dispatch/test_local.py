"""The local executor and the scheduler loop in one process."""

from __future__ import annotations

import asyncio

from helpers import async_wait_until, comfy_queue, wait_until

from orchestrator.dispatch import build_dispatcher


def test_local_dispatch_uses_both_instances(instances, store, settings, reaper, make_job) -> None:
    urls = instances.start(2)
    jobs = [make_job(user=u, steps=4, delay=0.05) for u in ("alice", "bob", "alice", "bob", "carol")]

    async def main() -> None:
        dispatcher = build_dispatcher(settings, store, urls, reaper=reaper, poll_s=0.1)
        await dispatcher.start()
        try:
            await async_wait_until(lambda: all(store.get_job(j.id).state == "succeeded" for j in jobs), 60, "jobs")
        finally:
            await dispatcher.stop()

    asyncio.run(main())
    assert {store.get_job(j.id).instance_id for j in jobs} == {"gpu0", "gpu1"}
    assert {i.id: i.state for i in store.list_instances()} == {"gpu0": "up", "gpu1": "up"}


def test_instance_that_does_not_answer_is_marked_down(instances, store, settings, reaper) -> None:
    (url,) = instances.start(1)

    async def main() -> None:
        dispatcher = build_dispatcher(settings, store, [url, "http://127.0.0.1:9"], reaper=reaper)
        await dispatcher.start()
        await dispatcher.stop()

    asyncio.run(main())
    states = {i.id: (i.state, i.error) for i in store.list_instances()}
    assert states["gpu0"] == ("up", None)
    assert states["gpu1"][0] == "down" and "not reachable" in states["gpu1"][1]


def test_stopping_mid_job_gives_the_job_back(instances, store, settings, reaper, make_job) -> None:
    (url,) = instances.start(1)
    job = make_job(steps=400, delay=0.05)

    async def main() -> None:
        dispatcher = build_dispatcher(settings, store, [url], reaper=reaper, poll_s=0.1)
        await dispatcher.start()
        await async_wait_until(lambda: (store.get_job(job.id).progress or 0) > 0, 20, "progress")
        await dispatcher.stop()

    asyncio.run(main())
    back = store.get_job(job.id)
    assert back.state == "queued" and back.instance_id is None  # claimable again, nothing lost

    async def idle() -> bool:
        queue = await comfy_queue(url)
        return not queue.running and not queue.pending

    wait_until(lambda: asyncio.run(idle()), 5, "the instance to stop the abandoned prompt")
