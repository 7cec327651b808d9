"""The sandboxes of the external systems, mounted in the platform's app when enabled."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from huafei.carriers.sandbox_app import (
    build_carrier_sandboxes,
    close_all,
    mount_carrier_sandboxes,
)
from huafei.container import Container


def mount_sandboxes(app: FastAPI, container: Container) -> list[Callable[[], None]]:
    """Mount every sandbox; returns what to call at shutdown.

    The carrier sandboxes share the container's clock so their signatures' timestamps agree with
    the platform's even when a test freezes time. ``app.state.carrier_sandboxes`` holds them for
    tests that flip their switches.
    """
    sandboxes = build_carrier_sandboxes(container.settings, container.clock)
    app.state.carrier_sandboxes = sandboxes
    mount_carrier_sandboxes(app, sandboxes)
    for rail, sandbox in container.payouts.sandboxes.items():
        app.mount(f"/sandbox/rails/{rail.value}", sandbox.app())
    return [close_all(sandboxes)]
