"""Prompts of exact token counts for a load run, built before the first send.

Building a prompt of an exact length may take a dozen tokenizer calls
(:class:`benchmarks.prompts.PromptBuilder`'s prefix search against the
server's ``/extras/tokenize`` or ``/tokenize``), so the texts are built
once, ``variants`` per length, and sent in rotation; consecutive variants
differ from their first character, so a server's prefix cache (llama.cpp
reuses its slot's previous prompt) cannot serve one from another.

Tokenizers: ``server`` (the server's tokenize endpoint; an error if it has
none), ``words`` (one token per whitespace-separated word: exact for
``lpuplan emulate``, no calls), ``none`` (about 4 characters per token; the
server's ``usage.prompt_tokens`` records the truth).
"""

from __future__ import annotations

from typing import Callable, Iterable

import httpx

from benchmarks.prompts import PromptBuilder
from dimensioning.errors import InvalidInput

__all__ = ["TOKENIZERS", "PromptSet", "build_prompts"]

TOKENIZERS = ("server", "words", "none")


class PromptSet:
    """Texts per prompt length, handed out in rotation."""

    def __init__(self, texts: dict[int, list[str]], tokenizer: str) -> None:
        self.texts = texts
        self.tokenizer = tokenizer
        self._next = {length: 0 for length in texts}

    def take(self, length: int) -> str:
        variants = self.texts[length]
        i = self._next[length]
        self._next[length] = (i + 1) % len(variants)
        return variants[i]


def _server_counter(base_url: str, model: str, timeout_s: float) -> Callable[[str], int]:
    root = base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url
    client = httpx.Client(timeout=timeout_s)
    for url, key in ((f"{root}/extras/tokenize", "input"), (f"{root}/tokenize", "content")):
        try:
            response = client.post(url, json={key: "probe", "model": model})
        except httpx.HTTPError:
            continue
        if response.status_code == 200 and isinstance(response.json().get("tokens"), list):
            def count(text: str, url: str = url, key: str = key) -> int:
                answer = client.post(url, json={key: text, "model": model})
                answer.raise_for_status()
                return len(answer.json()["tokens"])

            return count
    client.close()
    raise InvalidInput("--tokenizer", "server", f"{root} has neither /extras/tokenize nor /tokenize;"
                       " use --tokenizer none (approximate lengths) or words (the emulator's tokenizer)")


def _probe_prompt_tokens(base_url: str, model: str, api: str, text: str, timeout_s: float) -> int:
    """The server's ``usage.prompt_tokens`` for ``text`` (one request, 1 output token)."""
    body: dict = {"model": model, "max_tokens": 1, "temperature": 0.0}
    if api == "chat":
        body["messages"] = [{"role": "user", "content": text}]
    else:
        body["prompt"] = text
    path = "/chat/completions" if api == "chat" else "/completions"
    try:
        answer = httpx.post(base_url.rstrip("/") + path, json=body, timeout=timeout_s)
        answer.raise_for_status()
        return int(answer.json()["usage"]["prompt_tokens"])
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("URL", base_url, f"cannot calibrate prompt lengths: a probe request failed ({exc})") from None


def build_prompts(lengths: Iterable[int], tokenizer: str, base_url: str, model: str, variants: int = 8,
                  timeout_s: float = 30.0, seed: int = 0, api: str = "completions") -> PromptSet:
    """Build ``variants`` texts per distinct length (see the module docstring)."""
    if tokenizer not in TOKENIZERS:
        raise InvalidInput("--tokenizer", tokenizer, f"use one of {', '.join(TOKENIZERS)}")
    wanted = sorted(set(int(n) for n in lengths))
    texts: dict[int, list[str]] = {}
    if tokenizer == "words":
        letters = "abcdefghijklmnopqrstuvwxyz"
        for n in wanted:
            texts[n] = [" ".join([letters[(seed + v) % 26] + "w"] + ["w"] * (n - 1)) for v in range(variants)]
        return PromptSet(texts, tokenizer)
    counter = _server_counter(base_url, model, timeout_s) if tokenizer == "server" else None
    builder = PromptBuilder(counter)
    if counter is not None:  # the request's own tokens (BOS, chat template): one short probe
        probe = "calibrate lengths"
        builder.overhead = _probe_prompt_tokens(base_url, model, api, probe, timeout_s) - counter(probe)
    else:
        builder.calibrate(lambda text: _probe_prompt_tokens(base_url, model, api, text, timeout_s), nonce=seed)
    nonce = seed * 1_000_003
    for n in wanted:
        texts[n] = []
        for _ in range(variants):
            nonce += 1
            text, _ = builder.build(n, nonce)
            texts[n].append(text)
    return PromptSet(texts, tokenizer)
