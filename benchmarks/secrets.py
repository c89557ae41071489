"""Keep secrets out of everything the harness writes or prints.

The secrets of one backend are the API key (read from the environment), the
password (or the lone user name, a token-as-user pattern) in the URL's
userinfo, and the values of credential-like query parameters (``key``,
``api_key``, ``token``, ``sig``, ``secret``, ``password``, ``auth``...). A
server may echo any of them back: in an error body that repeats the
``Authorization`` header (401, 429, 500), in a stream error event, in a
malformed chunk, in a field such as ``finish_reason``. :class:`Redactor`
replaces every occurrence, in the forms a server would echo (as is,
percent-encoded, inside ``Basic`` base64 credentials), with ``***``, and
:func:`public_url` writes a URL without userinfo, query or fragment.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit, urlunsplit

__all__ = ["MASK", "Redactor", "public_url", "split_url"]

MASK = "***"
_CREDENTIAL_PARAM = re.compile(r"key|token|secret|sig|pass|auth|cred|session", re.IGNORECASE)
_MIN_SECRET_CHARS = 4  # shorter values would mask ordinary text


@dataclass(frozen=True)
class Redactor:
    """Replaces every known secret in a text with ``***``."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def for_backend(cls, api_key: str | None, url: str | None) -> "Redactor":
        values: list[str] = []
        if api_key:
            values.append(api_key)
        if url:
            parts = urlsplit(url)
            if parts.password:
                values.append(parts.password)
            if parts.username:
                values.append(parts.username)
                if parts.password:
                    values.append(f"{parts.username}:{parts.password}")
            for name, value in parse_qsl(parts.query, keep_blank_values=False):
                if _CREDENTIAL_PARAM.search(name):
                    values.append(value)
        forms: set[str] = set()
        for value in values:
            if len(value) < _MIN_SECRET_CHARS:
                continue
            forms.update({value, quote(value, safe=""), quote_plus(value), base64.b64encode(value.encode()).decode()})
        if api_key and len(api_key) >= _MIN_SECRET_CHARS and url:
            user = urlsplit(url).username or ""
            forms.add(base64.b64encode(f"{user}:{api_key}".encode()).decode())
        # longest first, so a secret that contains another is masked whole
        return cls(tuple(sorted(forms, key=len, reverse=True)))

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def url(self, url: str) -> str:
        """``url`` as it may be printed: no userinfo, query values masked."""
        return self(public_url(url, keep_query=True))


def split_url(url: str) -> tuple[str, tuple[str, str] | None, list[tuple[str, str]]]:
    """``(base URL without userinfo, query or fragment, basic auth or None, query pairs)``."""
    parts = urlsplit(url)
    auth = (parts.username or "", parts.password or "") if parts.username is not None else None
    return public_url(url), auth, parse_qsl(parts.query, keep_blank_values=True)


def public_url(url: str, keep_query: bool = False) -> str:
    """The URL without credentials or fragment; the query dropped, or kept with its values masked."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    query = ""
    if keep_query and parts.query:
        query = "&".join(f"{name}={MASK}" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
