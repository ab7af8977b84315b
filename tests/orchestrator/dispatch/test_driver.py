"""One attempt on one instance: the driver against real embedded instances and a real SQLite store."""

from __future__ import annotations

import asyncio
from pathlib import Path

from helpers import async_wait_until, comfy_queue, register, saved_videos, snapshot, wait_until

from orchestrator.comfy import client as comfy_client
from orchestrator.comfy.client import ComfyClient, ComfyUnavailable
from orchestrator.dispatch.driver import Instance, drive, prompt_id_for


def _claim(store, instance_id="gpu0"):
    claim = store.claim_next(instance_id)
    assert claim is not None
    return claim


def test_drive_end_to_end(instances, store, settings, make_job) -> None:
    (url,) = instances.start(1)
    register(store, "gpu0", url)
    job = make_job(seed=5)
    claim = _claim(store)
    outcome = asyncio.run(drive(store, settings, job.id, claim.attempt, Instance("gpu0", url)))
    assert outcome == "succeeded"
    done = store.get_job(job.id)
    assert done.state == "succeeded" and done.progress == 1
    image_value = len(Path(job.image_path).read_bytes()) % 1000
    folder = Path(settings.VIDEOS_DIR) / job.id
    kinds = {o["kind"]: Path(o["path"]) for o in done.outputs}
    assert set(kinds) == {"video", "poster"}  # every list key, not only images
    assert kinds["video"].read_bytes() == f"video {image_value + 5}\n".encode() * 100
    assert kinds["poster"].parent == folder and kinds["poster"].read_bytes() == f"poster {image_value + 5}\n".encode()
    assert not list(folder.glob(".*"))  # no temporary names left behind
    assert done.timings["seed"] == 5 and done.timings["started"] and done.timings["finished"]
    assert set(done.timings["nodes"]) >= {"DispatchTicker", "DispatchSave"}

    async def history_gone() -> None:
        async with ComfyClient(url) as c:
            assert await c.history(prompt_id_for(job.id, claim.attempt)) is None

    asyncio.run(history_gone())
    # The saved files went under jobs/<job_id>/ on the instance.
    assert len(saved_videos(instances.started[0].data, job.id)) == 1


async def _two_deliveries(store, settings, job_id: str, attempt: int, inst: Instance) -> list[str]:
    """The same attempt driven twice: the second starts once the first has marked the job running."""
    first = asyncio.create_task(drive(store, settings, job_id, attempt, inst))
    await async_wait_until(lambda: store.get_job(job_id).state == "running", what="running")
    second = asyncio.create_task(drive(store, settings, job_id, attempt, inst))
    return sorted(await asyncio.gather(first, second))


def test_second_delivery_of_an_attempt_follows_instead_of_resubmitting(instances, store, settings, make_job) -> None:
    (url,) = instances.start(1)
    register(store, "gpu0", url)
    job = make_job(steps=10, delay=0.05)
    claim = _claim(store)
    inst = Instance("gpu0", url)

    assert asyncio.run(_two_deliveries(store, settings, job.id, claim.attempt, inst)) == ["stale", "succeeded"]
    assert len(saved_videos(instances.started[0].data, job.id)) == 1  # ComfyUI ran it once


def test_second_delivery_during_the_first_ones_submit_follows(instances, store, settings, make_job, monkeypatch) -> None:
    # The window between the first delivery marking the job running and its prompt reaching ComfyUI.
    (url,) = instances.start(1)
    register(store, "gpu0", url)
    job = make_job(steps=10, delay=0.05)
    claim = _claim(store)
    inst = Instance("gpu0", url)
    real_submit = comfy_client.ComfyClient.submit
    submits = []

    async def slow_first_submit(self, *args, **kwargs):
        submits.append(args)
        if len(submits) == 1:
            await asyncio.sleep(1.0)
        return await real_submit(self, *args, **kwargs)

    monkeypatch.setattr(comfy_client.ComfyClient, "submit", slow_first_submit)

    assert asyncio.run(_two_deliveries(store, settings, job.id, claim.attempt, inst)) == ["stale", "succeeded"]
    assert len(submits) == 1 and store.get_job(job.id).state == "succeeded"
    assert len(saved_videos(instances.started[0].data, job.id)) == 1


def test_a_running_attempt_the_instance_never_saw_is_retried(instances, store, settings, make_job) -> None:
    # A delivery that finds the job marked running, yet no trace of its prompt on the instance, gives it
    # the grace for a submit in flight and then hands the job back.
    (url,) = instances.start(1)
    register(store, "gpu0", url)
    settings.UNREACHABLE_S = 0.5
    job = make_job()
    claim = _claim(store)
    assert store.mark_running(job.id, claim.attempt, prompt_id_for(job.id, claim.attempt))
    assert asyncio.run(drive(store, settings, job.id, claim.attempt, Instance("gpu0", url))) == "retry"
    after = store.get_job(job.id)
    assert after.state == "queued" and "no longer knows the job (it restarted)" in after.error


def test_a_finished_or_superseded_attempt_is_ignored(instances, store, settings, make_job) -> None:
    (url,) = instances.start(1)
    register(store, "gpu0", url)
    job = make_job()
    claim = _claim(store)
    inst = Instance("gpu0", url)
    assert asyncio.run(drive(store, settings, job.id, claim.attempt, inst)) == "succeeded"
    before = (snapshot(store.get_job(job.id)), len(store.events(job.id)))
    assert asyncio.run(drive(store, settings, job.id, claim.attempt, inst)) == "stale"
    assert asyncio.run(drive(store, settings, job.id, claim.attempt + 1, inst)) == "stale"
    after = (snapshot(store.get_job(job.id)), len(store.events(job.id)))
    assert after == before
    assert len(saved_videos(instances.started[0].data, job.id)) == 1


def test_websocket_drop_with_completion_in_the_gap(instances, store, settings, make_job, monkeypatch) -> None:
    (url,) = instances.start(1)
    register(store, "gpu0", url)
    job = make_job(steps=5, delay=0.05)
    claim = _claim(store)
    real_connect = comfy_client.ComfyClient.connect_events
    opened = []

    async def connect_once(self, client_id):
        if opened:
            raise ComfyUnavailable("reconnect refused")  # the socket stays down until the end
        stream = await real_connect(self, client_id)
        opened.append(stream)
        real_next = stream.next

        async def next_then_drop(timeout):
            frame = await real_next(timeout)
            if frame is not None and frame["type"] == "progress":
                await stream._ws.close()
            return frame

        stream.next = next_then_drop
        return stream

    monkeypatch.setattr(comfy_client.ComfyClient, "connect_events", connect_once)
    outcome = asyncio.run(drive(store, settings, job.id, claim.attempt, Instance("gpu0", url)))
    assert outcome == "succeeded" and store.get_job(job.id).state == "succeeded"


def test_instance_restart_that_forgot_the_prompt_is_retried(instances, store, settings, make_job) -> None:
    (url,) = instances.start(1)
    register(store, "gpu0", url)
    job = make_job(steps=200, delay=0.05)
    claim = _claim(store)
    proc = instances.started[0]

    async def main() -> str:
        task = asyncio.create_task(drive(store, settings, job.id, claim.attempt, Instance("gpu0", url)))
        await async_wait_until(lambda: (store.get_job(job.id).progress or 0) > 0, what="progress")
        await asyncio.to_thread(proc.kill)
        await asyncio.to_thread(proc.start)  # same port, empty queue and history
        return await task

    assert asyncio.run(main()) == "retry"
    after = store.get_job(job.id)
    assert after.state == "queued" and after.instance_id is None
    assert "no longer knows" in after.error


def test_timeout_interrupts_and_fails(instances, store, settings, make_job) -> None:
    (url,) = instances.start(1)
    register(store, "gpu0", url)
    settings.JOB_TIMEOUT_S = 0.8
    job = make_job(steps=400, delay=0.05)
    claim = _claim(store)
    assert asyncio.run(drive(store, settings, job.id, claim.attempt, Instance("gpu0", url))) == "failed"
    failed = store.get_job(job.id)
    assert failed.state == "failed" and "timeout" in failed.error
    # Interrupted (it takes effect at the next tick), not left burning the GPU for its 20 s.
    wait_until(lambda: not (q := asyncio.run(comfy_queue(url))).running and not q.pending, 5, "an empty queue")


def test_progress_silence_interrupts_and_fails(instances, store, settings, make_job) -> None:
    (url,) = instances.start(1)
    register(store, "gpu0", url)
    settings.PROGRESS_SILENCE_S = 0.6
    job = make_job(silent=20.0)
    claim = _claim(store)
    assert asyncio.run(drive(store, settings, job.id, claim.attempt, Instance("gpu0", url))) == "failed"
    failed = store.get_job(job.id)
    assert failed.state == "failed" and "no progress for 0.6 s" in failed.error and "DispatchTicker" in failed.error

    async def idle() -> bool:
        return not (await comfy_queue(url)).running

    asyncio.run(async_wait_until(lambda: asyncio.run(idle()), timeout=5, what="interrupt"))


def test_cancel_running_and_pending_in_comfyui(instances, store, settings, make_job) -> None:
    (url,) = instances.start(1)
    register(store, "gpu0", url)
    running_job, pending_job = make_job(steps=400, delay=0.05), make_job(steps=400, delay=0.05)
    first, second = _claim(store), _claim(store)
    assert (first.job_id, second.job_id) == (running_job.id, pending_job.id)
    inst = Instance("gpu0", url)

    async def main() -> list[str]:
        a = asyncio.create_task(drive(store, settings, first.job_id, first.attempt, inst))
        # B is submitted once A runs, so ComfyUI's order (submission order) is A then B.
        await async_wait_until(lambda: (store.get_job(running_job.id).progress or 0) > 0, what="progress")
        b = asyncio.create_task(drive(store, settings, second.job_id, second.attempt, inst))
        await async_wait_until(lambda: store.get_job(pending_job.id).state == "running", what="submitted")
        queue = await comfy_queue(url)
        assert prompt_id_for(pending_job.id, second.attempt) in queue.pending
        store.request_cancel(pending_job.id)
        assert await b == "cancelled"
        queue = await comfy_queue(url)
        assert not queue.pending and prompt_id_for(running_job.id, first.attempt) in queue.running
        store.request_cancel(running_job.id)
        return [await a]

    assert asyncio.run(main()) == ["cancelled"]
    assert store.get_job(running_job.id).state == store.get_job(pending_job.id).state == "cancelled"
    wait_until(lambda: not (q := asyncio.run(comfy_queue(url))).running and not q.pending, 5, "an empty queue")
    assert saved_videos(instances.started[0].data, running_job.id) == []


def test_problems_of_the_job_itself_are_not_retried(instances, store, settings, make_job) -> None:
    (url,) = instances.start(1)
    register(store, "gpu0", url)
    job = make_job(bogus=1)
    claim = _claim(store)
    assert asyncio.run(drive(store, settings, job.id, claim.attempt, Instance("gpu0", url))) == "failed"
    failed = store.get_job(job.id)
    assert failed.state == "failed" and "'bogus'" in failed.error and failed.attempt == 1
    queue = asyncio.run(comfy_queue(url))
    assert not queue.running and not queue.pending
