"""Access control: ``Authorization: Bearer KEY`` on every endpoint but health and the page itself."""

from __future__ import annotations

import hmac

from ..errors import needs_extra

with needs_extra("serve", "the HTTP service"):
    from fastapi import HTTPException, Request

__all__ = ["API_KEY_VARIABLE", "key_checker"]

API_KEY_VARIABLE = "INCEPTION_ZOO_API_KEY"  # the key from the environment: not visible in `ps` like a flag


def key_checker(api_key: str | None):
    """A FastAPI dependency that refuses a request without the key (401); it lets everything through when
    the server has no key. Keys are compared in constant time and never logged or echoed."""
    expected = api_key.encode() if api_key else None  # UTF-8, as a client sends a non-ASCII key

    def check(request: Request) -> None:  # HTTP headers arrive as latin-1 text: .encode gives the bytes sent
        if expected is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("latin-1"), expected):
            raise HTTPException(
                401, "this server needs an API key: send the header 'Authorization: Bearer KEY'",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip

    return check
