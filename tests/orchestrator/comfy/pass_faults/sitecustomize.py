"""Loaded by the server ranks of test_server_context_parallel.py (this folder goes first on PYTHONPATH).

TEST_PASS_FAULTS="2:0,1;8:1" makes the 2nd split transformer pass fail on ranks 0 and 1, and the
8th on rank 1 only, counted over the server's life: the GPU faults (an out-of-memory on one card)
that a CPU run cannot have, raised where they would be, inside the pass.
"""

import contextlib
import os

_FAULTS = {
    int(at): {int(r) for r in ranks.split(",")}
    for at, ranks in (item.split(":") for item in os.environ.get("TEST_PASS_FAULTS", "").split(";") if item)
}

if _FAULTS and "RANK" in os.environ:
    from comfy_nodes.accel import context_parallel

    _real = context_parallel.split_pass
    _count = [0]
    _rank = int(os.environ["RANK"])

    @contextlib.contextmanager
    def _split_pass(degree):  # type: ignore[no-untyped-def]
        with _real(degree):
            _count[0] += 1
            if _rank in _FAULTS.get(_count[0], ()):
                raise RuntimeError(f"injected fault in split pass {_count[0]} on rank {_rank}")
            yield

    context_parallel.split_pass = _split_pass
