"""CORS as Core Tools configures it: listed origins, any header, any method, optional credentials."""

from __future__ import annotations

from dataclasses import dataclass

ALLOWED_METHODS = b"GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"


class CorsConfigError(ValueError):
    """The CORS settings contradict each other."""


@dataclass(frozen=True)
class CorsPolicy:
    origins: frozenset[str]
    allow_credentials: bool = False

    @classmethod
    def create(cls, origins: list[str], allow_credentials: bool) -> CorsPolicy | None:
        cleaned = frozenset(o.strip().rstrip("/") for o in origins if o.strip())
        if not cleaned:
            return None
        if "*" in cleaned and allow_credentials:
            raise CorsConfigError(
                "CORS cannot allow credentials for every origin ('*'): list the allowed "
                "origins instead of '*', or turn off --cors-credentials / Host.CORSCredentials."
            )
        return cls(cleaned, allow_credentials)

    def allowed_origin(self, origin: str | None) -> str | None:
        if not origin:
            return None
        if "*" in self.origins:
            return "*"
        return origin if origin.rstrip("/") in self.origins else None

    def response_headers(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        allowed = self.allowed_origin(origin)
        if allowed is None:
            return []
        headers = [(b"access-control-allow-origin", allowed.encode("latin-1"))]
        if allowed != "*":
            headers.append((b"vary", b"Origin"))
        if self.allow_credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        return headers

    def preflight_headers(self, origin: str | None, request_headers: str | None) -> list[tuple[bytes, bytes]]:
        headers = self.response_headers(origin)
        if not headers:
            return []
        headers.append((b"access-control-allow-methods", ALLOWED_METHODS))
        if request_headers:
            headers.append((b"access-control-allow-headers", request_headers.encode("latin-1")))
        return headers
