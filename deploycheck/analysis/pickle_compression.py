"""Compressed joblib files: which compression wraps a pickle stream, and decompressing it in memory
with a hard cap on the decompressed size (hostile input: a small file may inflate to gigabytes).

Magic prefixes, from joblib ``joblib/compressor.py``: zlib ``x``, gzip ``\\x1f\\x8b``, bz2 ``BZ``, xz
``\\xfd7zXZ``, lzma ``]\\x00``, lz4 ``\\x04\\x22\\x4d\\x18``; pre-0.9.3 joblib ``ZF``. Used by
:func:`deploycheck.analysis.pickles.scan_pickle` (which walks the decompressed stream) and by
:mod:`deploycheck.analysis.artifact` (which tells a model file by its first bytes).
"""
from __future__ import annotations

import bz2
import lzma
import zlib
from typing import Callable, Protocol

MAX_DECOMPRESSED = 512 * 1024 * 1024     # bytes of decompressed stream we accept
_CHUNK = 8 * 1024 * 1024


class TooLarge(Exception):
    """The stream decompresses to more than the cap."""


def compression_kind(data: bytes) -> str | None:
    """The compression wrapping ``data``, from its first bytes (None: not compressed)."""
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:3] == b"BZh":
        return "bz2"
    if data[:5] == b"\xfd7zXZ":
        return "xz"
    if data[:4] == b"\x04\x22\x4d\x18":
        return "lz4"
    if data[:2] == b"ZF":
        return "zfile"
    if data[:3] == b"]\x00\x00":                     # lzma "alone" header: props 0x5d + dict size
        return "lzma"
    if len(data) >= 2 and data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0:   # zlib header check
        return "zlib"
    return None


def _inflate_zlib(data: bytes, wbits: int, cap: int) -> bytes:
    out: list[bytes] = []
    total = 0
    d = zlib.decompressobj(wbits)
    buf = data
    while True:
        chunk = d.decompress(buf, _CHUNK)
        total += len(chunk)
        if total > cap:
            raise TooLarge
        out.append(chunk)
        buf = d.unconsumed_tail
        if d.eof:
            rest = d.unused_data
            if wbits >= 16 + 8 and rest[:2] == b"\x1f\x8b":     # another gzip member
                d = zlib.decompressobj(wbits)
                buf = rest
                continue
            break
        if not buf and not chunk:                               # truncated stream
            break
    return b"".join(out)


class _Decompressor(Protocol):
    """What bz2.BZ2Decompressor, lzma.LZMADecompressor and lz4.frame.LZ4FrameDecompressor share."""
    def decompress(self, data: bytes, max_length: int = -1, /) -> bytes: ...
    @property
    def eof(self) -> bool: ...
    @property
    def needs_input(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...


def _inflate_stream(make: Callable[[], _Decompressor], data: bytes, cap: int, magic: bytes | None = None) -> bytes:
    """bz2/lzma-style decompressors (``decompress(data, max_length)``, ``needs_input``, ``eof``)."""
    out: list[bytes] = []
    total = 0
    d = make()
    chunk = d.decompress(data, _CHUNK)
    while True:
        total += len(chunk)
        if total > cap:
            raise TooLarge
        out.append(chunk)
        if d.eof:
            rest = d.unused_data
            if magic and rest[:len(magic)] == magic:                # multi-stream file
                d = make()
                chunk = d.decompress(rest, _CHUNK)
                continue
            break
        if d.needs_input:                                            # truncated
            break
        chunk = d.decompress(b"", _CHUNK)
    return b"".join(out)


def decompress(data: bytes, kind: str, cap: int = MAX_DECOMPRESSED) -> bytes:
    """``data`` decompressed (``kind`` from :func:`compression_kind`); raises :class:`TooLarge` past ``cap``
    bytes, ValueError/OSError/EOFError/zlib.error/lzma.LZMAError on a broken stream."""
    if kind == "gzip":
        return _inflate_zlib(data, 16 + zlib.MAX_WBITS, cap)
    if kind == "zlib":
        return _inflate_zlib(data, zlib.MAX_WBITS, cap)
    if kind == "zfile":                     # joblib < 0.9.3: b"ZF" + hex length + zlib data
        i = data.find(b"\x78", 2, 64)
        if i < 0:
            raise ValueError("old joblib 'ZF' file without zlib data")
        return _inflate_zlib(data[i:], zlib.MAX_WBITS, cap)
    if kind == "bz2":
        return _inflate_stream(bz2.BZ2Decompressor, data, cap, b"BZh")
    if kind in ("xz", "lzma"):
        return _inflate_stream(lzma.LZMADecompressor, data, cap)
    if kind == "lz4":
        try:
            import lz4.frame
        except ImportError:
            raise ValueError("lz4-compressed joblib file and the lz4 package is not installed; "
                             "save the model with compress=3 (zlib) or without compression")
        return _inflate_stream(lz4.frame.LZ4FrameDecompressor, data, cap)
    raise ValueError(f"unknown compression {kind}")
