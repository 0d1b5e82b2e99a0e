"""shm_layout.py — an independent Python (ctypes + numpy) implementation of the ezshm /
ezmsg-tools shared-memory layout, written from docs/shm-layout.md (it does not use libezshm).

    short_name(name)                       "sm_" + urlsafe_b64(sha256(name))[:20]
    Header(layout)                         ctypes structure of the header segment
    read_stream(name)                      header fields + ring as a numpy array (frames first)
    PyWriter(name, layout, ...)            writes a ring the way ShMemCircBuff does
"""
import base64
import ctypes
import hashlib
import math
import os

import numpy as np

MAXKEYLEN = 1024
MAXDIMS = 64
V1_MAGIC = 0x455A4D53
GEN_NONE = 0xFFFFFFFF


def short_name(name: str) -> str:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return "sm_" + base64.urlsafe_b64encode(digest).decode("ascii")[:20]


def ring_name(name: str, gen: int) -> str:
    return short_name(f"{name}/buffer{gen}")


def clock_name(name: str, gen: int) -> str:
    """The clock segment of a ring generation (ezshm only; docs/shm-layout.md section 11)."""
    return short_name(f"{name}/clock{gen}")


def seg_dir() -> str:
    return os.environ.get("EZSHM_SHM_DIR") or "/dev/shm"


class Meta(ctypes.LittleEndianStructure):
    _pack_ = 1
    _fields_ = [
        ("bvalid", ctypes.c_bool),
        ("dtype", ctypes.c_char),
        ("srate", ctypes.c_double),
        ("ndim", ctypes.c_uint32),
        ("shape", ctypes.c_uint32 * MAXDIMS),
        ("buffer_generation", ctypes.c_uint32),
        ("wrap_counter", ctypes.c_uint64),
        ("key", ctypes.c_uint8 * MAXKEYLEN),
        ("key_len", ctypes.c_uint32),
        ("write_index", ctypes.c_uint64),
    ]


class HeaderV1(ctypes.LittleEndianStructure):
    _pack_ = 1
    _fields_ = [
        ("magic", ctypes.c_uint32),
        ("struct_version", ctypes.c_uint32),
        ("meta", Meta),
        ("meta_generation", ctypes.c_uint32),
        ("aux_nbytes", ctypes.c_uint32),
    ]


assert ctypes.sizeof(Meta) == 1318 and ctypes.sizeof(HeaderV1) == 1334
assert Meta.write_index.offset == 1310 and Meta.key.offset == 282

ITEMSIZE = {"?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8,
            "q": 8, "Q": 8, "e": 2, "f": 4, "d": 8, "F": 8, "D": 16}


def header_class(layout: str):
    return HeaderV1 if layout == "v1" else Meta


def detect_layout(raw: bytes) -> str:
    if len(raw) >= 8 and int.from_bytes(raw[:4], "little") == V1_MAGIC:
        if int.from_bytes(raw[4:8], "little") != 1 or len(raw) < 1334:
            raise ValueError("bad v1 header")
        return "v1"
    if len(raw) < 1318 or raw[0] > 1:
        raise ValueError("not a header")
    return "legacy"


def read_stream(name: str):
    """Header fields and the ring (numpy, shape [L, *frame]) of a stream, plus the newest
    frames in time order ('ordered', only the frames actually written, at most L)."""
    with open(os.path.join(seg_dir(), short_name(name)), "rb") as f:
        raw = f.read()
    layout = detect_layout(raw)
    hdr = header_class(layout).from_buffer_copy(raw)
    meta = hdr.meta if layout == "v1" else hdr
    dtype = meta.dtype.decode("ascii")
    shape = tuple(meta.shape[: meta.ndim])
    with open(os.path.join(seg_dir(), ring_name(name, meta.buffer_generation)), "rb") as f:
        ring = np.frombuffer(f.read(), dtype=np.dtype(dtype)).reshape(shape)
    L = shape[0]
    pos = meta.wrap_counter * L + meta.write_index
    n = min(pos, L)
    order = [(pos - n + k) % L for k in range(n)]
    out = {
        "layout": layout, "bvalid": meta.bvalid, "dtype": dtype, "srate": meta.srate,
        "shape": shape, "generation": meta.buffer_generation, "wrap_counter": meta.wrap_counter,
        "write_index": meta.write_index, "key": bytes(meta.key[: meta.key_len]).decode("utf-8"),
        "ring": ring, "ordered": ring[order] if n else ring[:0], "position": pos,
    }
    if layout == "v1":
        out.update(magic=hdr.magic, struct_version=hdr.struct_version,
                   meta_generation=hdr.meta_generation, aux_nbytes=hdr.aux_nbytes)
    return out


class PyWriter:
    """Writes a stream the way ezmsg-tools' ShMemCircBuff does: header with placeholders,
    then fields, generation -1 + 1 = 0, ring segment, counters with write_index == L left
    when the ring is exactly full (Python's convention)."""

    def __init__(self, name: str, layout: str = "legacy"):
        self.name, self.layout = name, layout
        self.hpath = os.path.join(seg_dir(), short_name(name))
        self.cls = header_class(layout)
        self.hdr = self.cls()
        if layout == "v1":
            self.hdr.magic, self.hdr.struct_version = V1_MAGIC, 1
        self.meta = self.hdr.meta if layout == "v1" else self.hdr
        self.meta.buffer_generation = GEN_NONE
        self._flush()
        self.ring = None

    def _flush(self):
        fd = os.open(self.hpath, os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(fd, bytes(self.hdr), 0)
        os.close(fd)

    def configure(self, dtype: str, srate: float, frames: int, frame_shape, key: str):
        m = self.meta
        m.bvalid = False
        self._flush()
        m.dtype = dtype.encode("ascii")
        m.srate = srate
        m.ndim = 1 + len(frame_shape)
        for d, e in enumerate((frames, *frame_shape)):
            m.shape[d] = e
        kb = key.encode("utf-8")[:MAXKEYLEN]
        ctypes.memmove(m.key, kb, len(kb))
        m.key_len = len(kb)
        m.wrap_counter, m.write_index = 0, 0
        m.buffer_generation = (m.buffer_generation + 1) & 0xFFFFFFFF
        self.ring = np.zeros((frames, *frame_shape), dtype=np.dtype(dtype))
        self.rpath = os.path.join(seg_dir(), ring_name(self.name, m.buffer_generation))
        self._flush_ring()
        m.bvalid = True
        self._flush()

    def _flush_ring(self):
        fd = os.open(self.rpath, os.O_RDWR | os.O_CREAT, 0o600)
        os.ftruncate(fd, self.ring.nbytes)
        os.pwrite(fd, self.ring.tobytes(), 0)
        os.close(fd)

    def write(self, frames: np.ndarray):
        """ShMemCircBuff: T frames total -> wrap_counter = ceil(T/L) - 1,
        write_index = T - L * wrap_counter (so write_index == L when exactly full)."""
        m, L = self.meta, self.ring.shape[0]
        total = m.wrap_counter * L + m.write_index + len(frames)
        start = m.wrap_counter * L + m.write_index
        for k in range(len(frames)):
            self.ring[(start + k) % L] = frames[k]
        self._flush_ring()
        wraps = math.ceil(total / L) - 1 if total else 0
        m.wrap_counter, m.write_index = wraps, total - L * wraps
        self._flush()

    def close(self):
        for p in (self.hpath, getattr(self, "rpath", None)):
            if p and os.path.exists(p):
                os.unlink(p)
