"""The HTTP API (FastAPI): auth, jobs, downloads, events, workflows, instances; the page at /."""
