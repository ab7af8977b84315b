"""Errors of the deployment helpers, under one base.

    DeployError
    ├── ComposeError        the GPU count or a host name cannot make a compose file
    ├── ModelSourceError    an unknown variant, precision or format; a file the hub does not list
    ├── DownloadError       a download failed (HTTP status, cut too often, server misbehaving)
    │   ├── OfflineError       the hub (or mirror) cannot be reached at all
    │   ├── ChecksumMismatch   a finished file's sha256 is not the published one (the file is removed)
    │   └── DiskSpaceError     the destination has less free space than the files need
    └── SafetensorsHeaderError  a file is not a readable safetensors file

The command line prints the message of any of these and exits 1.
"""

from __future__ import annotations


class DeployError(Exception):
    """Base class of every error these helpers raise on purpose; the message says what to do."""


class ComposeError(DeployError):
    """The GPU count or a host name cannot make a compose file."""


class ModelSourceError(DeployError):
    """An unknown variant, precision or format, or a file the hub does not list."""


class DownloadError(DeployError):
    """A download failed."""


class OfflineError(DownloadError):
    """The hub (or the mirror given with --base-url) cannot be reached."""


class ChecksumMismatch(DownloadError):
    """A downloaded file's sha256 differs from the published one."""


class DiskSpaceError(DownloadError):
    """Not enough free space for the files still to fetch."""


class SafetensorsHeaderError(DeployError):
    """A file is not a readable safetensors file."""
