"""A Subsonic-compatible server: phone and desktop apps (Symfonium, DSub, Substreamer, Feishin,
...) browse, stream and start a segue radio from the library.

``segue serve --subsonic-user NAME --subsonic-password PW`` answers the Subsonic REST API under
``/rest`` beside the web player (:func:`with_subsonic` puts it in front of the web app, so the
web app's token guard does not apply here: Subsonic has its own authentication). It is the
OpenSubsonic subset a player needs: browsing by artist and album (ID3 and folder style),
search, streaming with HTTP Range (the file as it is, never transcoded), covers, playlists,
stars, scrobbles, and the calls where segue shines: ``getSimilarSongs``/``getSimilarSongs2``
are segue's radio (keep-on from the seed, steering away from recent skips) and
``getTopSongs`` ranks an artist's tracks by how often they were played to the end.

Authentication, as the API specifies: ``u`` with the salted token (``t`` = md5(password +
``s``)), or ``p`` (plain or ``enc:`` hex), or an OpenSubsonic API key (``apiKey``, without
``u``). Answers are XML (default) or JSON (``f=json``; ``f=jsonp`` with ``callback``).
Parameters come in the query or as a form body (OpenSubsonic ``formPost``).

Scrobbles feed the library's ``plays``: ``submission=false`` (now playing) records a
``start``; a now-playing for another track before the previous one was submitted records a
``skip`` of the previous one, ``position_s`` the seconds it played; ``submission=true`` records
a ``complete``.

A face: it uses only :mod:`segue.api` (one Library per worker thread, one catalogue shared).

Where each part lives:

- :mod:`.protocol`: parameters, credentials and authentication, error codes, and the answer
  envelope written as XML or JSON;
- :mod:`.shapes`: ids and the library's songs, albums and artists as the API's elements;
- :mod:`.state`: what lives between calls (the per-thread libraries with their shared
  catalogue, and now-playing);
- :mod:`.registry`: the handler registry (:func:`~.registry.handles`) and :class:`~.registry.Call`;
- the endpoints, by group: :mod:`.browsing` (server facts, indexes, artists, albums, songs,
  folders, genres, album lists, random songs, search), :mod:`.media` (stream/download with
  HTTP Range, cover art) and :mod:`.personal` (radio, top songs, stars, playlists,
  scrobbles, info);
- :mod:`.app`: the routes, the stand-alone app and :func:`with_subsonic` (it imports the
  endpoint modules, which register their handlers).
"""

from segue.integrations.subsonic.app import create_subsonic_app, subsonic_router, with_subsonic
from segue.integrations.subsonic.protocol import API_VERSION, Credentials, credentials

__all__ = [
    "API_VERSION",
    "Credentials",
    "create_subsonic_app",
    "credentials",
    "subsonic_router",
    "with_subsonic",
]
