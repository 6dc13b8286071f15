"""Small helpers the route modules share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from segue.web.state import AppState


def state(request: Request) -> AppState:
    """The app's shared state (libraries, catalogue cache)."""
    return request.app.state.segue


#: Endpoint parameter type for the shared state.
State = Annotated[AppState, Depends(state)]
