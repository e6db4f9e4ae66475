"""The part of Xet storage that huggingface_hub's default upload path uses, so that the real client, with ``hf_xet``
installed and no environment variable, can push to the test Hub.

With ``hf_xet`` installed, huggingface_hub 2.4 uploads every file the ``preupload`` call marks ``lfs`` through Xet
(``_commit_api._upload_files``: the choice is made on the client, from ``is_xet_available()`` alone; there is no
transfer negotiation to steer it to the LFS batch API). ``hf_xet`` then asks the Hub for a write token
(``GET /api/{t}/{repo}/xet-write-token/{rev}``: ``{"casUrl", "accessToken", "exp"}``) and talks to that content
store (CAS): ``POST /v1/xorbs/{prefix}/{hash}`` uploads a xorb (the file's content-defined chunks, each maybe LZ4
compressed) and ``POST /v1/shards`` a shard (which chunks of which xorbs make each file). The newer endpoints it
tries first (``/v1/xorb-grants``, ``/v2/shards``) answer 404 here, and it falls back to these, as it does against
any CAS that lacks them; its global deduplication query (``GET /v1/chunks/...``) finds nothing.

On each shard this module rebuilds the files it describes from the stored xorbs, and stores them as ordinary
objects under their sha256, which the following commit names (``lfsFile``). Downloads never use Xet (the test Hub
lists no ``xetHash``). Formats, from xet-core: a xorb is a run of chunks, each an 8-byte header (version,
compressed length (3 bytes, little-endian), scheme (0 none, 1 LZ4 frame, 2 LZ4 frame of the bytes grouped by their
position mod 4), uncompressed length (3 bytes)) and its data, then a footer; a shard is a 48-byte header, then per
file a 48-byte header (hash, flags, entry count), its 48-byte entries (xorb hash, flags, bytes, first and end chunk
index), its verification entries and metadata entry when the flags say so, up to a bookend of 0xff bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CHUNK_HEADER = 8
MAX_CHUNK_BYTES = 2 * 128 * 1024  # xet-core's chunks are at most 128 KiB; compressed ones at most twice that
SHARD_HEADER = 48
SHARD_ENTRY = 48
_FLAG_VERIFICATION = 1 << 31
_FLAG_METADATA_EXT = 1 << 30
_BOOKEND = b"\xff" * 32
_LZ4_MAGIC = 0x184D2204


class XetFormatError(ValueError):
    """Bytes that are not what the Xet format says they must be."""


def hash_hex(raw: bytes) -> str:
    """A Xet hash's text form: its four little-endian 64-bit words, each written as big-endian hex."""
    return "".join(raw[i:i + 8][::-1].hex() for i in range(0, 32, 8))


@dataclass(frozen=True)
class Segment:
    xorb: str  # the xorb's hash, as in its upload URL
    size: int
    first: int
    end: int


def parse_shard(data: bytes) -> list[list[Segment]]:
    """The files a shard describes, each as the xorb segments that make it, in order."""
    if len(data) < SHARD_HEADER:
        raise XetFormatError("a shard is at least its 48-byte header")
    files: list[list[Segment]] = []
    at = SHARD_HEADER
    while True:
        if at + SHARD_ENTRY > len(data):
            raise XetFormatError("the shard's file section ends without its bookend")
        file_hash = data[at:at + 32]
        flags, count, _ = struct.unpack_from("<IIQ", data, at + 32)
        at += SHARD_ENTRY
        if file_hash == _BOOKEND:
            return files
        extra = (count if flags & _FLAG_VERIFICATION else 0) + (1 if flags & _FLAG_METADATA_EXT else 0)
        if at + (count + extra) * SHARD_ENTRY > len(data):
            raise XetFormatError("the shard's file entries run past its end")
        segments = []
        for k in range(count):
            entry = at + k * SHARD_ENTRY
            _, size, first, end = struct.unpack_from("<IIII", data, entry + 32)
            if end <= first:
                raise XetFormatError("a shard entry names an empty chunk range")
            segments.append(Segment(hash_hex(data[entry:entry + 32]), size, first, end))
        files.append(segments)
        at += (count + extra) * SHARD_ENTRY


def xorb_chunks(data: bytes, needed: int) -> list[bytes]:
    """The first ``needed`` chunks of a serialized xorb, decompressed."""
    chunks: list[bytes] = []
    at = 0
    while len(chunks) < needed:
        if at + CHUNK_HEADER > len(data):
            raise XetFormatError(f"the xorb holds fewer than {needed} chunks")
        version, scheme = data[at], data[at + 4]
        stored = int.from_bytes(data[at + 1:at + 4], "little")
        size = int.from_bytes(data[at + 5:at + 8], "little")
        at += CHUNK_HEADER
        if version != 0 or stored > MAX_CHUNK_BYTES or size > MAX_CHUNK_BYTES or at + stored > len(data):
            raise XetFormatError("a xorb chunk header is malformed")
        body = data[at:at + stored]
        at += stored
        if scheme == 0:
            chunk = body
        elif scheme == 1:
            chunk = lz4_frame(body, size)
        elif scheme == 2:
            chunk = _regroup4(lz4_frame(body, size))
        else:
            raise XetFormatError(f"unknown chunk compression scheme {scheme}")
        if len(chunk) != size:
            raise XetFormatError("a xorb chunk does not have its announced size")
        chunks.append(chunk)
    return chunks


def _regroup4(grouped: bytes) -> bytes:
    """Undo byte grouping: group ``k`` holds the bytes at positions ``k mod 4``, one group after another."""
    out = bytearray(len(grouped))
    at = 0
    for k in range(4):
        size = len(range(k, len(grouped), 4))
        out[k::4] = grouped[at:at + size]
        at += size
    return bytes(out)


def lz4_frame(data: bytes, limit: int) -> bytes:
    """Decode an LZ4 frame (the format of lz4_flex's ``FrameEncoder``) of at most ``limit`` bytes."""
    if len(data) < 7 or struct.unpack_from("<I", data)[0] != _LZ4_MAGIC:
        raise XetFormatError("not an LZ4 frame")
    flags = data[4]
    at = 6 + (8 if flags & 0x08 else 0) + (4 if flags & 0x01 else 0) + 1  # FLG, BD, [size], [dict id], HC
    out = bytearray()
    while True:
        if at + 4 > len(data):
            raise XetFormatError("the LZ4 frame ends without its end mark")
        block = struct.unpack_from("<I", data, at)[0]
        at += 4
        if block == 0:
            break
        size = block & 0x7FFFFFFF
        if at + size > len(data):
            raise XetFormatError("an LZ4 block runs past the frame")
        if block & 0x80000000:
            out += data[at:at + size]
        else:
            _lz4_block(data[at:at + size], out, limit)
        if len(out) > limit:
            raise XetFormatError("an LZ4 frame decodes to more than its chunk's size")
        at += size + (4 if flags & 0x10 else 0)
    return bytes(out)


def _lz4_block(src: bytes, out: bytearray, limit: int) -> None:
    at, end = 0, len(src)
    while at < end:
        token = src[at]
        at += 1
        literals = token >> 4
        if literals == 15:
            while True:
                extra = src[at]
                at += 1
                literals += extra
                if extra != 255:
                    break
        out += src[at:at + literals]
        at += literals
        if at >= end:
            return
        offset = src[at] | (src[at + 1] << 8)
        at += 2
        length = token & 15
        if length == 15:
            while True:
                extra = src[at]
                at += 1
                length += extra
                if extra != 255:
                    break
        length += 4
        if offset == 0 or offset > len(out) or len(out) + length > limit:
            raise XetFormatError("an LZ4 match is out of range")
        start = len(out) - offset
        if offset >= length:
            out += out[start:start + length]
        else:  # overlapping: the last `offset` bytes repeat
            pattern = bytes(out[start:])
            out += (pattern * (length // offset + 1))[:length]


def rebuild(segments: list[Segment], xorb: dict[str, bytes]) -> bytes:
    """A file's bytes from its segments; ``xorb`` maps a xorb hash to its serialized bytes."""
    parts: list[bytes] = []
    cache: dict[str, list[bytes]] = {}
    for segment in segments:
        if segment.xorb not in xorb:
            raise XetFormatError(f"xorb {segment.xorb} was never uploaded")
        if segment.xorb not in cache or len(cache[segment.xorb]) < segment.end:
            cache[segment.xorb] = xorb_chunks(xorb[segment.xorb], segment.end)
        data = b"".join(cache[segment.xorb][segment.first:segment.end])
        if len(data) != segment.size:
            raise XetFormatError("a shard segment does not have its announced size")
        parts.append(data)
    return b"".join(parts)


__all__ = ["XetFormatError", "parse_shard", "rebuild"]
