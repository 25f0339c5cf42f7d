"""One exception root whose title and message are shown to the user as they are."""

from __future__ import annotations


class RigtuiError(Exception):
    """An error meant for the user: what failed, on which value, and what to do next."""

    title = "rigtui error"

    def __init__(self, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title:
            self.title = title

    def __str__(self) -> str:
        return self.message


class CatalogError(RigtuiError):
    """A catalog or user data file is invalid."""

    title = "Invalid catalog file"


class ConfigError(RigtuiError):
    """A user config or saved rig file is invalid."""

    title = "Invalid config"


class TelemetryUnavailable(RigtuiError):
    """NVML cannot be used: no driver, no library, or no GPU."""

    title = "GPU telemetry unavailable"
