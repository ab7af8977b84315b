"""A poster (the first frame as JPEG) for a video, made once with the ffmpeg from imageio-ffmpeg."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from orchestrator.core.errors import NotFound


def poster_for(video: Path) -> Path:
    poster = video.with_name(video.stem + ".poster.jpg")
    if poster.is_file():
        return poster
    if not video.is_file():
        raise NotFound("The job's video is missing on this server; run the job again.", "file")
    import imageio_ffmpeg

    tmp = poster.with_name(f".{uuid.uuid4().hex}.jpg")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(video), "-frames:v", "1",
           "-q:v", "3", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, timeout=60)
    if done.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise NotFound("No poster could be made from this job's video.", "file")
    tmp.replace(poster)
    return poster
