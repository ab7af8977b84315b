"""What the follower ranks of a run split over GPUs execute of a prompt rank 0 runs.

Only the samplers (classes with `SPLITS_PASSES`) need every rank: their transformer passes are
split. Decode and save are rank 0's alone. Of a sampler's inputs, every rank builds those its
class names in `BUILT_ON_EVERY_RANK` (the model: far too large to send); the others (text and
image embeddings, cache settings) can come from rank 0, which then spares the followers the
encoders' memory and time.

A sampler must be cached on every rank or on none, or one rank waits in a pass alone. A node's
cache key depends only on what it needs, so rank 0's sampler and a follower's are cached alike
when the follower's stands for each input it is sent by the key of the node rank 0 takes it from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .cache import node_keys
from .graph import declared_inputs, is_link, node_sort_key, topological_order, upstream
from .validate import ValidatedPrompt

# The literal that stands for an input rank 0 sends, in the follower's copy of the prompt.
SENT_PREFIX = "sent by rank 0: "


def followers_part(validated: ValidatedPrompt, node_classes: Mapping[str, type], *, inputs_sent: bool) -> ValidatedPrompt:
    """The samplers of `validated` and what the followers build for them themselves.

    With `inputs_sent`, a sampler's inputs other than `BUILT_ON_EVERY_RANK` become literals that name
    the cache key of their source on rank 0, and the followers run nothing for them: the sampler
    asks rank 0 for their values (comfy_nodes.accel.context_parallel.from_rank_0). An input whose
    source is never cached (IS_CHANGED says always re-run) stays a link, so that the sampler is
    never cached on the follower either."""
    prompt = validated.prompt
    needed = upstream(prompt, validated.outputs)
    samplers = [n for n in sorted(needed, key=node_sort_key) if getattr(_class(node_classes, prompt, n), "SPLITS_PASSES", False)]
    if not inputs_sent:
        return dataclasses.replace(validated, outputs=samplers)
    order = topological_order(prompt, needed)
    specs = {ct: declared_inputs(node_classes[ct]) for ct in {prompt[n]["class_type"] for n in order}}
    keys = node_keys(prompt, order, node_classes, specs)
    part: dict[str, Any] = dict(prompt)
    for node_id in samplers:
        built = set(getattr(_class(node_classes, prompt, node_id), "BUILT_ON_EVERY_RANK", ()))
        inputs = dict(prompt[node_id]["inputs"])
        for name, value in inputs.items():
            if name not in built and is_link(value) and keys.get(str(value[0])) is not None:
                inputs[name] = f"{SENT_PREFIX}{keys[str(value[0])]}/{value[1]}"
        part[node_id] = {**prompt[node_id], "inputs": inputs}
    return dataclasses.replace(validated, prompt=part, outputs=samplers)


def _class(node_classes: Mapping[str, type], prompt: Mapping[str, Any], node_id: str) -> type:
    return node_classes[prompt[node_id]["class_type"]]

