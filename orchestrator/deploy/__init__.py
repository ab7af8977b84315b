"""Deployment helpers: the compose file for N GPUs, real model weights (download and check).

Nothing here imports torch: these run in the orchestrator's image, which has none.
"""
