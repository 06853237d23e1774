"""Token alignment: which response tokens spell a number mention.

The reward sees the response as decoded text, the entropies come per token. ``TokenAligner`` maps every token id
to the exact bytes it contributes to the decoded text (byte-level BPE as in Qwen and Llama-3, SentencePiece
with byte fallback as in Llama-2 and Mistral), so token ``i`` covers characters ``spans[i]`` of the text. This
works for any tokenization the policy sampled, canonical or not, and costs one pass over the token ids.

Safety rule: the concatenated token text is compared with the text the reward scored. Tokens past the first
character where the two differ get span ``None``, and a number touching such a token gets no token positions
(hence no confidence), never positions that might belong to another number.

Example with precomputed token texts (what ``TokenAligner`` derives from a tokenizer)::

    >>> spans = token_char_spans([b"Total", b" =", b" ", b"1", b"2", b"3"], "Total = 123")
    >>> spans
    [(0, 5), (5, 7), (7, 8), (8, 9), (9, 10), (10, 11)]
    >>> mention_token_indices(spans, 8, 11)
    [3, 4, 5]
"""

from __future__ import annotations

import bisect
import codecs
import json
import re
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["TokenAligner", "token_char_spans", "mention_token_indices", "span_ends"]

TokenSpan = tuple[int, int] | None
_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@lru_cache(maxsize=1)
def _byte_level_decoder() -> dict[str, int]:
    """GPT-2's printable-character stand-in for each byte, inverted (char -> byte)."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes)}


def token_char_spans(token_bytes: Sequence[bytes], text: str) -> list[TokenSpan]:
    """Character span in ``text`` of each token, given the bytes each token contributes to the decoded text.

    Bytes are decoded as tokenizers decode them (UTF-8, an invalid sequence becomes U+FFFD); a character whose
    bytes span several tokens belongs to the token that completes it. A leading space that the decoder strips
    (SentencePiece's first-word prefix) is allowed for. Tokens past the first point where the tokens' text and
    ``text`` differ get ``None``.
    """
    joined = b"".join(token_bytes)
    if joined.isascii():  # the common case: one byte is one character
        decoded = joined.decode("ascii")
        boundaries = [0]
        for piece in token_bytes:
            boundaries.append(boundaries[-1] + len(piece))
    else:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        chunks, boundaries = [], [0]
        for index, piece in enumerate(token_bytes):
            chunk = decoder.decode(piece, final=index == len(token_bytes) - 1)
            chunks.append(chunk)
            boundaries.append(boundaries[-1] + len(chunk))
        decoded = "".join(chunks)
    shift = 1 if decoded.startswith(" ") and not text.startswith(" ") else 0
    comparable = decoded[shift:]
    agreed = len(text) if comparable == text else _common_prefix_length(comparable, text)

    spans: list[TokenSpan] = []
    for index in range(len(token_bytes)):
        start, end = boundaries[index] - shift, boundaries[index + 1] - shift
        spans.append((max(start, 0), max(end, 0)) if end <= agreed else None)
    return spans


def _common_prefix_length(first: str, second: str) -> int:
    limit = min(len(first), len(second))
    for index in range(limit):
        if first[index] != second[index]:
            return index
    return limit


def mention_token_indices(
    spans: Sequence[TokenSpan], start: int, end: int, ends: Sequence[int] | None = None
) -> list[int] | None:
    """Indices of the tokens overlapping characters ``[start, end)``; None if any of them is unaligned or none
    covers the span. ``spans`` must be in text order (as ``token_char_spans`` returns them); pass
    ``ends=span_ends(spans)`` when looking up many mentions in the same spans."""
    indices: list[int] = []
    ends = span_ends(spans) if ends is None else ends
    first = bisect.bisect_right(ends, start)
    for index in range(first, len(spans)):
        span = spans[index]
        if span is None:
            return None
        if span[0] >= end:
            break
        if span[1] > start and span[1] > span[0]:
            indices.append(index)
    covered_to = spans[indices[-1]][1] if indices else -1
    return indices if indices and covered_to >= end else None


def span_ends(spans: Sequence[TokenSpan]) -> list[int]:
    # Unaligned tokens form a suffix; giving them an infinite end keeps the list sorted for bisect.
    return [span[1] if span is not None else 1 << 62 for span in spans]


class TokenAligner:
    """Per-tokenizer byte table: ``char_spans(token_ids, text)`` for the text the reward decoded.

    Works with Hugging Face fast tokenizers whose decoder is byte-level (Qwen, Llama-3, GPT-2 style) or
    SentencePiece-style (``▁`` word prefix, ``<0xNN>`` byte fallback: Llama-2, Mistral). For any other decoder
    it re-encodes the text with offsets and uses them only if that reproduces the token ids exactly.
    ``skip_special_tokens`` must match how the text was decoded (verl decodes with True).
    """

    def __init__(self, tokenizer, *, skip_special_tokens: bool = True):
        self.tokenizer = tokenizer
        self.skip_special_tokens = skip_special_tokens
        self.family = _decoder_family(tokenizer)
        special_ids = set(getattr(tokenizer, "all_special_ids", []) or [])
        added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
        self._added: dict[int, tuple[str, bool]] = {
            int(token_id): (token.content, bool(getattr(token, "special", False)) or int(token_id) in special_ids)
            for token_id, token in added.items()
        }
        self._special_ids = special_ids
        self._cache: dict[int, bytes] = {}
        self._byte_decoder = _byte_level_decoder() if self.family == "byte_level" else None

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes token ``token_id`` adds to the decoded text."""
        cached = self._cache.get(token_id)
        if cached is not None:
            return cached
        piece = self._compute_token_bytes(token_id)
        self._cache[token_id] = piece
        return piece

    def _compute_token_bytes(self, token_id: int) -> bytes:
        if token_id in self._added or token_id in self._special_ids:
            content, special = self._added.get(token_id, ("", True))
            return b"" if (special and self.skip_special_tokens) else content.encode("utf-8")
        token = self.tokenizer.convert_ids_to_tokens(int(token_id))
        if token is None:
            return b""
        if self._byte_decoder is not None:
            try:
                return bytes(self._byte_decoder[char] for char in token)
            except KeyError:
                return token.encode("utf-8")
        fallback = _BYTE_FALLBACK.match(token)
        if fallback:
            return bytes([int(fallback.group(1), 16)])
        return token.replace("▁", " ").encode("utf-8")

    def char_spans(self, token_ids: Sequence[int], text: str) -> list[TokenSpan]:
        """Character span in ``text`` of each of ``token_ids`` (None where the alignment cannot be trusted)."""
        token_ids = [int(token_id) for token_id in token_ids]
        if self.family == "other":
            return self._spans_by_reencoding(token_ids, text)
        return token_char_spans([self.token_bytes(token_id) for token_id in token_ids], text)

    def _spans_by_reencoding(self, token_ids: list[int], text: str) -> list[TokenSpan]:
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        kept = [
            i
            for i, token_id in enumerate(token_ids)
            if not (self.skip_special_tokens and token_id in self._special_ids)
        ]
        if [token_ids[i] for i in kept] != list(encoded["input_ids"]):
            return [None] * len(token_ids)
        spans: list[TokenSpan] = [None] * len(token_ids)
        for position, (start, end) in zip(kept, encoded["offset_mapping"]):
            spans[position] = (start, end)
        previous_end = 0
        for position in range(len(spans)):  # special tokens sit between their neighbours, covering nothing
            if spans[position] is None:
                spans[position] = (previous_end, previous_end)
            previous_end = spans[position][1]
        return spans


def _decoder_family(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        return "other"
    try:
        # The decoder's own state only: serialising the whole tokenizer would copy the vocabulary.
        description = json.dumps(json.loads(backend.decoder.__getstate__()), ensure_ascii=False)
    except Exception:
        return "other"
    if '"ByteLevel"' in description:
        return "byte_level"
    if "\u2581" in description or '"Metaspace"' in description or "ByteFallback" in description:
        return "metaspace"
    return "other"
