"""A read-only reader of BoltDB (bbolt) files: Podman 4's `libpod/bolt_state.db`, containerd's `meta.db`.

Bolt is copy-on-write: freed pages keep old versions of values, so grepping the bytes can find a stale state.
This walks the tree from the newest valid meta page, as bolt itself does, and reads only live values.
Format (go.etcd.io/bbolt, page.go): every page starts with {id u64, flags u16, count u16, overflow u32};
meta pages 0 and 1 hold {magic, version, page size, flags, root bucket {root, sequence}, freelist, pgid, txid,
checksum}; branch elements are {pos u32, ksize u32, pgid u64}; leaf elements {flags u32, pos u32, ksize u32,
vsize u32}, `pos` relative to the element; a leaf value with flag 1 is a sub-bucket header {root u64, seq u64},
followed by the bucket's own page when root is 0 (an "inline" bucket).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

MAGIC = 0xED0CDAED
VERSION = 2
_BRANCH, _LEAF = 0x01, 0x02
_BUCKET_VALUE = 0x01
_PAGE_HEADER = struct.Struct("<QHHI")
_META = struct.Struct(
    "<IIII QQ QQQQ"
)  # magic, version, page size, flags, root, seq, freelist, pgid, txid, checksum
_ELEMENT = struct.Struct("<IIII")
_BRANCH_ELEMENT = struct.Struct("<IIQ")
_MAX_DEPTH = 64  # a corrupt file must not send the walk round in circles
_FNV_OFFSET, _FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


class BoltError(ValueError):
    """Not a bolt file, or a page that does not parse (a torn read while the owner writes, or corruption)."""


def _fnv64a(data: bytes) -> int:
    h = _FNV_OFFSET
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


class Bucket:
    """One bucket: its keys, values and sub-buckets, in key order."""

    __slots__ = ("_db", "_inline", "_root")

    def __init__(self, db: BoltDB, root: int, inline: bytes | None = None) -> None:
        self._db, self._root, self._inline = db, root, inline

    def items(self) -> Iterator[tuple[bytes, bytes, bool]]:
        """(key, value, is_bucket) for every entry; a sub-bucket's value is its raw header."""
        try:
            if self._inline is not None:
                yield from self._db._leaf_items(self._inline, 0)
            else:
                yield from self._db._walk(self._root, 0)
        except struct.error as exc:  # a page cut short
            raise BoltError(f"truncated page: {exc}") from None

    def get(self, key: bytes) -> bytes | None:
        for k, v, is_bucket in self.items():
            if k == key and not is_bucket:
                return v
        return None

    def bucket(self, key: bytes) -> Bucket | None:
        for k, v, is_bucket in self.items():
            if k == key and is_bucket:
                return self._db._sub_bucket(v)
        return None

    def buckets(self) -> Iterator[tuple[bytes, Bucket]]:
        for k, v, is_bucket in self.items():
            if is_bucket:
                yield k, self._db._sub_bucket(v)


class BoltDB:
    """A bolt file's bytes, read once; `root` is the bucket of top-level buckets."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.page_size, root = self._newest_meta()
        self.root = Bucket(self, root)

    @classmethod
    def open(cls, path: str) -> BoltDB:
        with open(path, "rb") as f:
            return cls(f.read())

    def bucket(self, *names: bytes) -> Bucket | None:
        """The bucket at a path of names, e.g. `db.bucket(b"ctr", container_id)`."""
        current: Bucket | None = self.root
        for name in names:
            if current is None:
                return None
            current = current.bucket(name)
        return current

    def _newest_meta(self) -> tuple[int, int]:
        best: tuple[int, int, int] | None = None  # txid, page size, root
        first = self._meta_at(0)
        # Meta 1 sits one page in; like bolt, fall back to the usual page size when meta 0 is torn.
        second = self._meta_at(first[0] if first else 4096)
        for meta in (first, second):
            if meta is not None and (best is None or meta[2] > best[0]):
                best = (meta[2], meta[0], meta[1])
        if best is None:
            raise BoltError("not a bolt database (no valid meta page)")
        return best[1], best[2]

    def _meta_at(self, offset: int) -> tuple[int, int, int] | None:
        start = offset + _PAGE_HEADER.size
        raw = self.data[start : start + _META.size]
        if len(raw) < _META.size:
            return None
        magic, version, page_size, _flags, root, _seq, _free, _pgid, txid, checksum = _META.unpack(raw)
        if magic != MAGIC or version != VERSION or _fnv64a(raw[:-8]) != checksum:
            return None
        return page_size, root, txid

    def _page(self, pgid: int) -> tuple[int, bytes]:
        offset = pgid * self.page_size
        if pgid < 2 or offset + _PAGE_HEADER.size > len(self.data):
            raise BoltError(f"page {pgid} is outside the file")
        _id, flags, _count, overflow = _PAGE_HEADER.unpack_from(self.data, offset)
        end = offset + (overflow + 1) * self.page_size
        return flags, self.data[offset:end]

    def _walk(self, pgid: int, depth: int) -> Iterator[tuple[bytes, bytes, bool]]:
        if depth > _MAX_DEPTH:
            raise BoltError("tree too deep")
        flags, page = self._page(pgid)
        if flags & _LEAF:
            yield from self._leaf_items(page, 0)
        elif flags & _BRANCH:
            _id, _flags, count, _overflow = _PAGE_HEADER.unpack_from(page, 0)
            for i in range(count):
                at = _PAGE_HEADER.size + i * _BRANCH_ELEMENT.size
                _pos, _ksize, child = _BRANCH_ELEMENT.unpack_from(page, at)
                yield from self._walk(child, depth + 1)
        else:
            raise BoltError(f"page {pgid} is neither a branch nor a leaf (flags {flags:#x})")

    def _leaf_items(self, page: bytes, base: int) -> Iterator[tuple[bytes, bytes, bool]]:
        _id, flags, count, _overflow = _PAGE_HEADER.unpack_from(page, base)
        if not flags & _LEAF:
            raise BoltError("inline bucket page is not a leaf")
        for i in range(count):
            at = base + _PAGE_HEADER.size + i * _ELEMENT.size
            eflags, pos, ksize, vsize = _ELEMENT.unpack_from(page, at)
            kstart = at + pos
            vend = kstart + ksize + vsize
            if vend > len(page):
                raise BoltError("leaf element runs past its page")
            yield page[kstart : kstart + ksize], page[kstart + ksize : vend], bool(eflags & _BUCKET_VALUE)

    def _sub_bucket(self, header: bytes) -> Bucket:
        if len(header) < 16:
            raise BoltError("short bucket header")
        root, _seq = struct.unpack_from("<QQ", header, 0)
        if root == 0:
            return Bucket(self, 0, inline=header[16:])
        return Bucket(self, root)
