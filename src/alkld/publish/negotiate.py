"""HTTP content negotiation: pick the offered media type an ``Accept`` header prefers (RFC 9110)."""

from __future__ import annotations

__all__ = ["negotiate"]


def _parse(accept: str) -> list[tuple[str, str, float, int]]:
    ranges = []
    for order, item in enumerate(accept.split(",")):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        if not media:
            continue
        q = 1.0
        for param in parts[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        kind, _, sub = media.partition("/")
        ranges.append((kind, sub or "*", q, order))
    return ranges


def negotiate(accept: str | None, offers: list[str]) -> str | None:
    """The offer the ``Accept`` header ranks highest; ``offers[0]`` when there is no header.

    The most specific matching range sets an offer's quality; ties go to the client's order,
    then the server's. ``None`` means nothing offered is acceptable (HTTP 406).

    >>> negotiate("text/html;q=0.9, text/turtle", ["text/html", "text/turtle"])
    'text/turtle'
    >>> negotiate("application/*;q=0.5, */*;q=0.1", ["text/turtle", "application/ld+json"])
    'application/ld+json'
    >>> negotiate("text/turtle;q=0", ["text/turtle"]) is None
    True
    >>> negotiate(None, ["text/html", "text/turtle"])
    'text/html'
    """
    if not accept or not accept.strip():
        return offers[0] if offers else None
    ranges = _parse(accept)
    best: tuple[float, int, int] | None = None
    chosen = None
    for position, offer in enumerate(offers):
        kind, _, sub = offer.lower().partition("/")
        match = None  # (specificity, q, order)
        for r_kind, r_sub, q, order in ranges:
            if r_kind == kind and r_sub == sub:
                spec = 2
            elif r_kind == kind and r_sub == "*":
                spec = 1
            elif r_kind == "*" and r_sub == "*":
                spec = 0
            else:
                continue
            if match is None or spec > match[0]:
                match = (spec, q, order)
        if match is None or match[1] <= 0:
            continue
        score = (match[1], -match[2] if match[0] == 2 else -1000, -position)
        if best is None or score > best:
            best, chosen = score, offer
    return chosen
