"""Hostile archives built byte by byte: huge pax / GNU long-name headers and gzip bombs that stay small on the wire.

Streams are compressed chunk by chunk, so a 512 MiB header costs the test ~0.5 MB of memory, not 512 MB.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

BLOCK = 512
_ZEROS = bytes(1024 * 1024)


def tar_header(name: str, size: int, kind: bytes = b"0") -> bytes:
    """One ustar header block (checksum filled in); ``kind`` b"0" file, b"x" pax, b"L" GNU long name."""
    block = bytearray(BLOCK)
    block[0:len(name.encode())] = name.encode()[:100]
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = f"{size:011o}\0".encode()
    block[136:148] = b"00000000000\0"
    block[148:156] = b" " * 8
    block[156:157] = kind
    block[257:265] = b"ustar\x0000"
    block[148:156] = f"{sum(block):06o}\0 ".encode()
    return bytes(block)


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _filler(size: int, first: bytes = b"") -> Iterator[bytes]:
    yield first
    left = _padded(size) - len(first)
    while left > 0:
        n = min(left, len(_ZEROS))
        yield _ZEROS[:n]
        left -= n


def extended_header_bomb(size: int, kind: bytes = b"x") -> Iterator[bytes]:
    """A tar whose first member carries a ``size``-byte pax (``x``) or GNU long-name (``L``) header."""
    yield tar_header("././@PaxHeader" if kind == b"x" else "././@LongLink", size, kind)
    record = f"{size} comment=".encode() if kind == b"x" else b"a"  # mostly zeros after: compresses ~1000x
    yield from _filler(size, record)
    yield tar_header("ok.txt", 3) + b"hi\n".ljust(BLOCK, b"\0") + bytes(2 * BLOCK)


def zero_file_bomb(size: int) -> Iterator[bytes]:
    """A tar with one ``size``-byte file of zeros: within no limit, but tiny once compressed."""
    yield tar_header("zeros.bin", size)
    yield from _filler(size)
    yield bytes(2 * BLOCK)


def gzip_stream(chunks: Iterator[bytes]) -> bytes:
    """The chunks gzip-compressed (level 9) without holding them all in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [compressor.compress(c) for c in chunks]
    out.append(compressor.flush())
    return b"".join(out)
