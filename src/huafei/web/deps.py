"""FastAPI dependencies shared by every domain's routes."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from huafei.container import Container


def get_container(request: Request) -> Container:
    return cast("Container", request.app.state.container)
