"""The handler registry: each endpoint module registers its handlers by method name with
:func:`handles`; a handler gets a :class:`Call` and returns the answer's payload (or a
Response, for files)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.responses import Response

from segue.api import Library
from segue.integrations.subsonic.protocol import Params
from segue.integrations.subsonic.shapes import Shapes
from segue.integrations.subsonic.state import Libraries, NowPlaying

Handler = Callable[["Call"], "dict[str, Any] | Response"]
HANDLERS: dict[str, Handler] = {}
NO_AUTH = {"getOpenSubsonicExtensions"}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn

    return register


@dataclass
class Call:
    """One API call: its method name, parameters, user and the server's shared parts."""

    method: str
    params: Params
    user: str
    libraries: Libraries
    now_playing: NowPlaying

    @property
    def lib(self) -> Library:
        return self.libraries.get()

    def shapes(self) -> Shapes:
        return Shapes(self.lib)
