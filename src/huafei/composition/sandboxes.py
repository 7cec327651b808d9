"""The sandboxes of the external systems, mounted in the platform's app when enabled, and the
provider sandboxes (SMS, identity) that ``huafei sandbox serve`` adds to the carrier ones."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from huafei.carriers.sandbox_app import (
    build_carrier_sandboxes,
    close_all,
    mount_carrier_sandboxes,
)
from huafei.composition.container import Container
from huafei.core.clock import Clock
from huafei.core.settings import Settings
from huafei.identity.sandbox_app import IdentitySandbox, create_identity_sandbox_app
from huafei.sms.sandbox_app import SmsSandbox, create_sms_sandbox_app

SMS_PROVIDER_PREFIX = "/sandbox/sms-provider"
IDENTITY_PROVIDER_PREFIX = "/sandbox/identity-provider"


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
    mount_provider_sandboxes(app, container.settings, container.clock)
    return [close_all(sandboxes)]


def mount_provider_sandboxes(app: FastAPI, settings: Settings, clock: Clock) -> None:
    """The SMS and identity providers' sandboxes at ``/sandbox/sms-provider`` and
    ``/sandbox/identity-provider``, accepting the key and secret the platform signs with.
    ``app.state.sms_sandbox`` and ``app.state.identity_sandbox`` hold them for tests."""
    sms_access, identity_access = settings.provider("sms"), settings.provider("identity")
    sms = SmsSandbox({sms_access.key_id: sms_access.secret}, clock)
    identity = IdentitySandbox({identity_access.key_id: identity_access.secret}, clock)
    app.state.sms_sandbox = sms
    app.state.identity_sandbox = identity
    app.mount(SMS_PROVIDER_PREFIX, create_sms_sandbox_app(sms))
    app.mount(IDENTITY_PROVIDER_PREFIX, create_identity_sandbox_app(identity))
