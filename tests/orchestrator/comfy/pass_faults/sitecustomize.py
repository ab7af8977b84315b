"""Loaded by the server ranks of test_server_context_parallel.py (this folder goes first on PYTHONPATH).

TEST_PASS_FAULTS="2:0,1;8:1;9a:0" makes the 2nd split transformer pass fail on ranks 0 and 1, the
8th on rank 1 only and the 9th on rank 0 after its exchanges ("a": after the transformer ran),
counted over the server's life: the GPU faults (an out-of-memory on one card) that a CPU run cannot
have, raised where they would be, inside the pass. TEST_SLOW_DECODE_S=5 makes rank 0's decode take
5 s longer, as a 720p decode on a GPU takes longer than a tiny one.
"""

import contextlib
import os
import time


def _faults() -> dict[tuple[int, bool], set[int]]:
    faults: dict[tuple[int, bool], set[int]] = {}
    for item in filter(None, os.environ.get("TEST_PASS_FAULTS", "").split(";")):
        at, ranks = item.split(":")
        faults[(int(at.rstrip("a")), at.endswith("a"))] = {int(r) for r in ranks.split(",")}
    return faults


_FAULTS = _faults()
_RANK = int(os.environ.get("RANK", "-1"))

if _FAULTS and _RANK >= 0:
    from comfy_nodes.accel import context_parallel

    _real = context_parallel.split_pass
    _count = [0]

    @contextlib.contextmanager
    def _split_pass(degree):  # type: ignore[no-untyped-def]
        with _real(degree):
            _count[0] += 1
            if _RANK in _FAULTS.get((_count[0], False), ()):
                raise RuntimeError(f"injected fault in split pass {_count[0]} on rank {_RANK}")
            yield
            if _RANK in _FAULTS.get((_count[0], True), ()):
                raise RuntimeError(f"injected fault after the exchanges of split pass {_count[0]} on rank {_RANK}")

    context_parallel.split_pass = _split_pass

if os.environ.get("TEST_SLOW_DECODE_S") and _RANK == 0:
    from comfy_nodes.nodes.sampling import WanI2VDecode

    _decode = WanI2VDecode.decode

    def _slow_decode(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(float(os.environ["TEST_SLOW_DECODE_S"]))
        return _decode(self, *args, **kwargs)

    WanI2VDecode.decode = _slow_decode
