"""Prompts of exact token counts, each unique from its first token.

Servers cache repeated prompt prefixes (llama.cpp reuses its slot's previous
prompt; GroqCloud reports cached tokens), and a cached prefix is not a prefill
measurement. So every prompt is built from pseudo-words drawn from
``numpy.random.default_rng(nonce)`` (the sweep gives every sample and every
retry its own nonce), and its first character is forced to differ from the
previous prompt's first character, so two consecutive prompts share no
leading token.

Exact counts: where the server has a tokenize endpoint, ``count_tokens``
counts a text and the builder searches the longest character prefix whose
count (plus the request's fixed overhead, e.g. a chat template, measured once
by :meth:`PromptBuilder.calibrate`) does not exceed the target, then pads
with one-character words until it hits the target. Without one, the builder
calibrates tokens per character from two probe requests' ``usage.prompt_tokens``
and the count is approximate; the sample records the server's real count,
which is what the fits use.
"""

from __future__ import annotations

import string
from typing import Callable

import numpy as np

__all__ = ["PromptBuilder", "pseudo_words"]

_LETTERS = string.ascii_lowercase


def pseudo_words(rng: np.random.Generator, chars: int, first: str | None = None) -> str:
    """Space-separated random lowercase words of 2-7 letters, at least ``chars`` long."""
    parts: list[str] = []
    length = 0
    while length < chars:
        size = int(rng.integers(2, 8))
        word = "".join(_LETTERS[i] for i in rng.integers(0, 26, size))
        if not parts and first is not None:
            word = first + word[1:]
        parts.append(word)
        length += size + 1
    return " ".join(parts)


class PromptBuilder:
    """Builds unique prompts of a target token count.

    ``count_tokens(text)`` returns the server's token count of ``text`` (None
    when the server has no tokenize endpoint); ``overhead`` is added by the
    request itself (BOS not counted by the tokenizer, chat template).
    """

    def __init__(self, count_tokens: Callable[[str], int] | None = None, overhead: int = 0, tokens_per_char: float = 0.25) -> None:
        self.count_tokens = count_tokens
        self.overhead = overhead
        self.tokens_per_char = tokens_per_char
        self._previous_first: str | None = None

    def calibrate(self, prompt_tokens_of: Callable[[str], int], nonce: int = -1) -> None:
        """Measure the request overhead (and, without a tokenizer, tokens per character).

        ``prompt_tokens_of(text)`` sends ``text`` and returns the server's
        ``usage.prompt_tokens``. Probe prompts are unique like any other.
        """
        rng = np.random.default_rng([abs(nonce), 7])
        short = pseudo_words(rng, 200)
        long = pseudo_words(rng, 1200)
        reported_short = prompt_tokens_of(short)
        if self.count_tokens is not None:
            self.overhead = reported_short - self.count_tokens(short)
            return
        reported_long = prompt_tokens_of(long)
        per_char = (reported_long - reported_short) / (len(long) - len(short))
        if per_char > 0:
            self.tokens_per_char = per_char
            self.overhead = round(reported_short - per_char * len(short))

    def _first_char(self, rng: np.random.Generator) -> str:
        first = _LETTERS[int(rng.integers(0, 26))]
        if first == self._previous_first:
            first = _LETTERS[(_LETTERS.index(first) + 1) % 26]
        self._previous_first = first
        return first

    def build(self, target_tokens: int, nonce: int) -> tuple[str, int | None]:
        """A prompt text and its expected request token count (None if approximate)."""
        rng = np.random.default_rng([nonce, 1])
        first = self._first_char(rng)
        want = max(1, target_tokens - self.overhead)
        if self.count_tokens is None:
            chars = max(1, round(want / self.tokens_per_char))
            return pseudo_words(rng, chars, first)[:chars].rstrip() or first, None
        text = pseudo_words(rng, int(want * 6) + 16, first)
        while self.count_tokens(text) < want:
            text = text + " " + pseudo_words(rng, want * 6, None)
        lo, hi = 1, len(text)
        while lo < hi:  # longest prefix with count <= want
            mid = (lo + hi + 1) // 2
            if self.count_tokens(text[:mid]) <= want:
                lo = mid
            else:
                hi = mid - 1
        prompt = text[:lo]
        count = self.count_tokens(prompt)
        for _ in range(64):
            if count >= want:
                break
            letter = _LETTERS[int(rng.integers(0, 26))]
            for candidate in (prompt + " " + letter, prompt + letter, prompt + " "):
                new = self.count_tokens(candidate)
                if count < new <= want:
                    prompt, count = candidate, new
                    break
        return prompt, count + self.overhead
