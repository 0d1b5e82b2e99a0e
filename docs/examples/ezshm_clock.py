"""ezshm_clock.py — every frame's timestamp and a sleeping wait for an ezshm stream, from Python.

Reads the clock segment that ezshmd writes next to each ring, and sleeps on the word of its
wake segment (docs/shm-layout.md section 11), with nothing but ctypes and numpy, so it can sit next to ezmsg-tools' EZShmMirror, which
reads the frames:

    from ezshm_clock import ClockReader, wait_any

    clock = ClockReader("eeg")                   # the stream's long name (shmem_name)
    while True:
        if not clock.wait(1.0):                  # sleeps in FUTEX_WAIT until data lands
            continue
        # or, for blocks: clock.wait(1.0, min_frames=300) wakes once per block of 300
        # frames (the wake segment's target, FUTEX_WAIT_BITSET), not at every chunk
        pos = clock.position()                   # frames written so far
        t = clock.times(pos - 10, 10)            # the newest 10 frames' times (NaN unknown)
        newest = clock.newest()                  # position, time, ingest wall clock, seq

    eeg, emg = ClockReader("eeg"), ClockReader("emg")
    i = wait_any([eeg, emg], 1.0)                # asleep on both streams at once: 0, 1 or None

A frame's time is its message's `offset + i * gain` (LinearAxis) or its coordinate value
(CoordinateAxis), in the sender's unit. Frame p of the stream is ring slot p % L, where
EZShmMirror reads it. When the writer rebuilds the ring (new generation), `refresh()`
reattaches (wait() and position() call it); positions restart at 0.

Truncated segments: whoever may write a segment may truncate it (every reader the wake segment,
a group given write by `shm_mode` 0660 every segment), and a mapped access past the new end
raises SIGBUS, which no Python code can catch. So this reader maps nothing it reads: the
header, the clock and the wake word are read through copies (`os.pread`), which come back
short instead; the reader then drops the clock and wake segments and attaches them again
once ezshmd has rebuilt the ring (a truncated clock or wake segment makes it rebuild at its
next chunk): times read NaN and `wait()` polls meanwhile. Only the wake page's waiter count
and target are stored into a mapping (atomics need one), each right after `fstat` found the
segment whole; a truncation within those microseconds still kills the reader.

Limits of this example: one reader object per thread; Linux on x86-64 or aarch64; the waiter
count is incremented atomically through libatomic when it is installed (Debian: libatomic1),
otherwise with a plain read-modify-write and short sleeps (a concurrent reader may then be
woken late, never lost: every sleep is at most 10 ms).
"""
import base64
import ctypes
import errno
import hashlib
import mmap
import os
import platform
import time

import numpy as np

CLOCK_MAGIC = 0x4B4C435A
CONTROL_BYTES = 4096
OFF_WAKE, OFF_WAITERS, OFF_TARGET = 0, 64, 128   # in the wake segment
WAKE_BYTES = 4096
SEQ_NONE = 0xFFFFFFFFFFFFFFFF
NEWEST_TRIES = 64   # reads of newest() the writer may overtake before it gives up
V1_MAGIC = 0x455A4D53
ANCHOR = np.dtype([("position", "<u8"), ("count", "<u8"), ("t0", "<f8"), ("gain", "<f8"),
                   ("wall_ns", "<i8"), ("seq", "<u8")])
CONTROL = np.dtype([("magic", "<u4"), ("version", "<u4"), ("generation", "<u4"), ("flags", "<u4"),
                    ("n_frames", "<u8"), ("capacity", "<u8"), ("anchor_offset", "<u8"),
                    ("times_offset", "<u8"), ("anchors_written", "<u8"), ("state", "<u4"),
                    ("anchor_bytes", "<u4")])
SYS_FUTEX = {"x86_64": 202, "aarch64": 98}[platform.machine()]
FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET = 0, 1, 9
WAKE_ANY, WAKE_TARGET, WAKE_CLOSED = 0xFFFFFFFF, 0x2, 0x80000000   # wake bits (docs/shm-layout.md section 11)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
try:
    # (getattr: a name starting with __ would be mangled inside the class below)
    _libatomic = ctypes.CDLL("libatomic.so.1")
    _fetch_add = getattr(_libatomic, "__atomic_fetch_add_4")
    _fetch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int]
    _fetch_add.restype = ctypes.c_uint32
    _cas = getattr(_libatomic, "__atomic_compare_exchange_4")
    _cas.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_int]
    _cas.restype = ctypes.c_bool
    _cas8 = getattr(_libatomic, "__atomic_compare_exchange_8")
    _cas8.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int, ctypes.c_int]
    _cas8.restype = ctypes.c_bool
except (OSError, AttributeError):   # no libatomic, or one without these entry points
    _fetch_add = _cas = _cas8 = None


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _FutexWaitv(ctypes.Structure):
    """struct futex_waitv of <linux/futex.h>."""
    _fields_ = [("val", ctypes.c_uint64), ("uaddr", ctypes.c_uint64), ("flags", ctypes.c_uint32),
                ("reserved", ctypes.c_uint32)]


SYS_FUTEX_WAITV, FUTEX_32, FUTEX_WAITV_MAX = 449, 2, 128   # syscall 449 on every architecture
_no_waitv = False   # set when the kernel (older than 5.16) answers ENOSYS


def _monotonic_after(seconds):
    end = time.clock_gettime(time.CLOCK_MONOTONIC) + seconds
    return _Timespec(int(end), int((end - int(end)) * 1e9))


def _futex_sleep(words, seconds, bits=WAKE_ANY):
    """Sleeps on the (mmap, seen) wake words for at most seconds: FUTEX_WAIT for one woken by
    anything, FUTEX_WAIT_BITSET for one woken only by wake-ups carrying one of bits,
    futex_waitv for several (shared futexes: the writer is another process). False when the
    kernel has no futex_waitv."""
    global _no_waitv
    addrs = [ctypes.addressof(ctypes.c_uint32.from_buffer(m.map, OFF_WAKE)) for m, _ in words]
    if len(words) == 1 and bits == WAKE_ANY:
        ts = _Timespec(int(seconds), int((seconds - int(seconds)) * 1e9))
        _libc.syscall(ctypes.c_long(SYS_FUTEX), ctypes.c_void_p(addrs[0]), ctypes.c_long(FUTEX_WAIT),
                      ctypes.c_long(words[0][1]), ctypes.byref(ts), None, ctypes.c_long(0))
        return True
    if len(words) == 1:
        ts = _monotonic_after(seconds)
        _libc.syscall(ctypes.c_long(SYS_FUTEX), ctypes.c_void_p(addrs[0]), ctypes.c_long(FUTEX_WAIT_BITSET),
                      ctypes.c_long(words[0][1]), ctypes.byref(ts), None, ctypes.c_long(bits))
        return True
    vec = (_FutexWaitv * len(words))(*[_FutexWaitv(seen, a, FUTEX_32, 0) for (_, seen), a in zip(words, addrs)])
    ts = _monotonic_after(seconds)
    r = _libc.syscall(ctypes.c_long(SYS_FUTEX_WAITV), vec, ctypes.c_uint(len(words)), ctypes.c_uint(0),
                      ctypes.byref(ts), ctypes.c_int(time.CLOCK_MONOTONIC))
    if r < 0 and ctypes.get_errno() == errno.ENOSYS:
        _no_waitv = True
        return False
    return True


def wait_any(readers, timeout, min_frames=1):
    """Sleeps until one of the readers (ClockReader of several streams) has min_frames frames
    past its position at the call (at most half its ring) or its ring changed, or timeout
    seconds pass: the index of the first such reader, None on timeout. It sleeps in the
    kernel on every stream's wake word at once (futex_waitv, Linux >= 5.16), counted a
    waiter on each (docs/shm-layout.md section 11, waiting on several streams); one stream
    waiting for a block of more than one frame stores the position it needs as the wake
    segment's target and sleeps on the target bit (FUTEX_WAIT_BITSET): one wake-up per block
    (this needs libatomic's 64-bit compare-and-swap; without it every chunk wakes the
    reader). Streams without a wake segment are polled every 1 ms (10 ms while not ready),
    as are several streams on a kernel without futex_waitv."""
    deadline = time.monotonic() + timeout
    want = [max(1, min(min_frames, r.header.length() // 2)) for r in readers]
    start = [(r.generation, r.position() + w - 1) for r, w in zip(readers, want)]
    while True:
        words, news, period = [], [], 0.2 if _fetch_add is not None else 0.01
        for i, r in enumerate(readers):
            ready = r.header.valid()
            if ready and (r.refresh() or r.generation != start[i][0]):
                return i
            seen = r._word()   # before the position: a publish after this moves it
            if ready and r.header.position() > start[i][1]:
                return i
            if r.wake is None or not ready or len(words) == FUTEX_WAITV_MAX:
                period = min(period, 0.001 if ready else 0.01)
            else:
                words.append((r.wake, seen))
                news.append((r, start[i][1]))
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        left = min(left, period)
        block = len(words) == 1 and want[readers.index(news[0][0])] > 1 and _cas8 is not None
        target = news[0][1] + 1 if block else None
        if not words or (len(words) > 1 and _no_waitv):
            time.sleep(min(left, 0.001) if words else left)
            continue
        # Counted first, checked again, then asleep: the writer bumps the word and reads
        # the count in the opposite order, so no publish is slept through.
        for r, _ in news:
            r._waiters_add(1)
        if target is not None:
            news[0][0]._lower_target(target)
        try:
            if any(r._word() != seen for (r, _), (_, seen) in zip(news, words)) \
                    or any(r.header.position() > pos for r, pos in news):
                continue
            if not _futex_sleep(words, left, WAKE_ANY if target is None else WAKE_TARGET | WAKE_CLOSED):
                time.sleep(min(left, 0.001))
        finally:
            for r, _ in news:
                r._waiters_add(-1)


def short_name(name):
    """ezmsg-tools' shorten_shmem_name: "sm_" + urlsafe_b64(sha256(name))[:20]."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return "sm_" + base64.urlsafe_b64encode(digest).decode("ascii")[:20]


def _path(segment):
    return os.path.join(os.environ.get("EZSHM_SHM_DIR") or "/dev/shm", segment)


class _Segment:
    """One segment read through copies (os.pread): a truncated segment gives a short read
    where a mapped access would die of SIGBUS. `truncated` turns True at the first short read
    (or size lost), and stays. writable: also mapped read-write, for the futex word and the
    atomics (PermissionError when that is not allowed)."""

    def __init__(self, segment, writable=False):
        self.fd = os.open(_path(segment), (os.O_RDWR if writable else os.O_RDONLY) | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.size = os.fstat(self.fd).st_size
        self.truncated = False
        try:
            self.map = mmap.mmap(self.fd, self.size, mmap.MAP_SHARED) if writable and self.size else None
        except OSError:
            os.close(self.fd)
            raise

    def read(self, offset, n):
        """n bytes at offset, or None (truncated) when the segment no longer holds them."""
        data = b"" if self.truncated else os.pread(self.fd, n, offset)
        if len(data) == n:
            return data
        self.truncated = True
        return None

    def intact(self):
        """True while the segment keeps its size: checked right before a store into the map."""
        self.truncated = self.truncated or os.fstat(self.fd).st_size < self.size
        return not self.truncated

    def close(self):
        if self.map is not None:
            self.map.close()
        os.close(self.fd)


class _Records:
    """count records of dtype at offset in a _Segment, indexed like a numpy array (an int, or an
    array of ints) and read as copies; records a truncation took read blank (zeros, NaN for
    floats: no anchor covers them, no time comes from them)."""

    def __init__(self, seg, dtype, count, offset):
        self.seg, self.dtype, self.count, self.offset = seg, np.dtype(dtype), count, offset
        self.blank = np.full(1, np.nan if self.dtype.kind == "f" else 0, self.dtype)[0] \
            if self.dtype.names is None else np.zeros(1, self.dtype)[0]

    def __getitem__(self, i):
        idx = np.asarray(i, dtype=np.int64)
        if idx.size == 0:
            return np.empty(idx.shape, self.dtype)
        lo, hi, size = int(idx.min()), int(idx.max()) + 1, self.dtype.itemsize
        raw = self.seg.read(self.offset + lo * size, (hi - lo) * size)
        if raw is None:
            return np.full(idx.shape, self.blank, self.dtype)[()]
        return np.frombuffer(raw, self.dtype)[idx - lo]


class _Header:
    """The few header fields a clock reader needs, for both layouts (docs/shm-layout.md §2)."""

    def __init__(self, name):
        self.path = _path(short_name(name))
        self.seg = _Segment(short_name(name))
        self.ino = os.fstat(self.seg.fd).st_ino
        v1 = self.seg.size >= 1334 and self._u(0, 4) == V1_MAGIC
        base = 8 if v1 else 0
        self.off_bvalid, self.off_len = base, base + 14
        self.off_gen, self.off_wrap, self.off_index = base + 270, base + 274, base + 1310

    def _u(self, off, size):
        raw = self.seg.read(off, size)
        return int.from_bytes(raw, "little") if raw else 0

    def valid(self):
        return self._u(self.off_bvalid, 1) == 1

    def generation(self):
        return self._u(self.off_gen, 4)

    def length(self):
        return self._u(self.off_len, 4)

    def position(self):
        """wrap_counter * L + write_index, from two equal readings."""
        for _ in range(1000):
            w1, i1 = self._u(self.off_wrap, 8), self._u(self.off_index, 8)
            w2, i2 = self._u(self.off_wrap, 8), self._u(self.off_index, 8)
            if (w1, i1) == (w2, i2):
                return w1 * self.length() + i1
        raise RuntimeError("position never settled")

    def replaced(self):
        """A restarted writer unlinks the header and creates a new one (so does ezshmd for a
        truncated one)."""
        try:
            return self.seg.truncated or os.stat(self.path).st_ino != self.ino
        except FileNotFoundError:
            return True

    def close(self):
        self.seg.close()


class ClockReader:
    """Timestamps and wake-ups of one stream (see the module docstring)."""

    def __init__(self, name):
        self.name = name
        self.header = _Header(name)
        self.generation = None
        self.clock = self.wake = None
        self.refresh()

    def refresh(self):
        """Attaches the clock segment of the header's current generation once the ring is
        ready; True when it changed (new ring: positions restart at 0). Without a clock
        segment (an ezmsg-tools writer) times are NaN and wait() polls."""
        if self.header.replaced():
            try:
                header = _Header(self.name)
            except FileNotFoundError:
                return False
            self._close_clock()
            self.header.close()
            self.header, self.generation = header, None
        if any(m is not None and m.truncated for m in (self.clock, self.wake)):
            self._close_clock()   # attached again below, or at the rebuilt ring's generation
            self.generation = None
        gen = self.header.generation()
        if gen == self.generation or not self.header.valid():
            return False
        self._close_clock()
        self.generation, self.length = gen, self.header.length()
        try:
            self.clock = _Segment(short_name(f"{self.name}/clock{gen}"))
        except FileNotFoundError:
            return True
        try:   # the waiter count lives in its own page, the only one readers write
            self.wake = _Segment(short_name(f"{self.name}/wake{gen}"), writable=True)
        except (FileNotFoundError, PermissionError):
            self.wake = None
        if self.wake is not None and self.wake.size < WAKE_BYTES:
            self.wake.close()
            self.wake = None
        raw = self.clock.read(0, CONTROL.itemsize)
        c = np.frombuffer(raw, CONTROL, 1)[0] if raw else None
        ok = (c is not None and c["magic"] == CLOCK_MAGIC and c["version"] == 1 and c["generation"] == gen
              and c["n_frames"] == self.length and c["anchor_bytes"] == ANCHOR.itemsize
              and c["anchor_offset"] == CONTROL_BYTES and c["capacity"] >= 2
              and CONTROL_BYTES + c["capacity"] * ANCHOR.itemsize <= self.clock.size)
        times_off = int(c["times_offset"]) if ok else 0
        if ok and c["flags"] & 1:
            ok = times_off >= CONTROL_BYTES and times_off + 8 * self.length <= self.clock.size
        if not ok:
            self._close_clock()
            return True
        self.capacity = int(c["capacity"])
        self.anchors = _Records(self.clock, ANCHOR, self.capacity, CONTROL_BYTES)
        self.coords = _Records(self.clock, "<f8", self.length, times_off) if c["flags"] & 1 else None
        return True

    def _written(self):
        raw = self.clock.read(48, 8)
        return int.from_bytes(raw, "little") if raw else 0

    def position(self):
        """Frames written to the current ring (the newest is position() - 1)."""
        self.refresh()
        return self.header.position()

    def times(self, first, n):
        """Times of frames [first, first + n) of the current ring (NaN where unknown)."""
        out = np.full(n, np.nan)
        if self.clock is None or n <= 0:
            return out
        p = np.arange(first, first + n, dtype=np.uint64)
        if self.coords is not None:
            out[:] = self.coords[p % np.uint64(self.length)]
        hi = self._written()
        lo = max(0, hi - (self.capacity - 1))
        ks = np.arange(lo, hi, dtype=np.uint64)
        snap = self.anchors[ks % np.uint64(self.capacity)].copy()
        # Anchors overwritten while we copied them (the writer reuses slot k % C) don't count.
        fresh = ks >= np.uint64(max(0, self._written() - (self.capacity - 1)))
        snap, ks = snap[fresh], ks[fresh]
        if len(snap) == 0:
            return out if self.coords is not None else np.full(n, np.nan)
        j = np.searchsorted(snap["position"], p, side="right") - 1
        found = j >= 0
        a = snap[np.where(found, j, 0)]
        inside = found & (p - a["position"] < a["count"]) & (p >= a["position"])
        if self.coords is None:
            linear = a["t0"] + (p - a["position"]).astype(np.float64) * a["gain"]
            out = np.where(inside, linear, np.nan)
        else:
            out = np.where(inside, out, np.nan)
        return out

    def newest(self):
        """(position, time of the newest frame, ingest wall clock ns or 0, seq or None), every
        field of the same frame, position - 1. The writer publishes a chunk's anchor before
        its frames and moves on while we read, so this looks up the anchor of that very frame
        (not the newest anchor: it may be a chunk still being written) and reads again, with
        a fresh position, when the writer overtook the read: a coordinate time the next lap
        overwrote, or an anchor gone while the position moved (this reader preempted for a
        ring's worth of chunks). No frame yet, no clock segment (an ezmsg-tools writer), or
        no anchor kept while the writer held still: (position, nan, 0, None). While the ring
        is being rebuilt: (0, nan, 0, None). RuntimeError when the writer overtook
        NEWEST_TRIES reads in a row."""
        for _ in range(NEWEST_TRIES):
            pos = self.position()
            gen = self.generation
            if not self.header.valid():
                return 0, float("nan"), 0, None
            if pos == 0 or self.clock is None:
                return pos, float("nan"), 0, None
            a = self._anchor_of(pos - 1)
            t = float("nan")
            if a is not None and self.coords is not None:
                t = float(self.coords[(pos - 1) % self.length])
            elif a is not None:
                t = float(a["t0"] + float(pos - 1 - int(a["position"])) * a["gain"])
            if not self.header.valid() or self.header.generation() != gen:
                continue   # rebuilt under the read
            if a is not None and self.coords is not None and self._overwritten(pos - 1):
                continue
            if a is None and self.header.position() != pos:
                continue
            if a is None:
                return pos, t, 0, None
            return pos, t, int(a["wall_ns"]), None if int(a["seq"]) == SEQ_NONE else int(a["seq"])
        raise RuntimeError(f"newest frame of {self.name}: the writer overtook {NEWEST_TRIES} reads")

    def _anchor(self, k):
        """A copy of anchor k, None when the writer reused its slot (for anchor k + C) before
        the copy was done."""
        a = self.anchors[k % self.capacity].copy()
        return a if k + self.capacity - 1 >= self._written() else None

    def _anchor_of(self, p):
        """The anchor of frame p (a copy), None when none kept covers it. Searched from the
        newest back: a reader mostly asks for recent frames, and the oldest anchors kept are
        the slots the writer reuses next."""
        hi = self._written()
        for k in range(hi - 1, max(0, hi - (self.capacity - 1)) - 1, -1):
            a = self._anchor(k)
            if a is None:
                return None
            if a["position"] <= p:
                return a if p - int(a["position"]) < int(a["count"]) else None
        return None

    def _overwritten(self, p):
        """After a read of frame p's time from the times ring: whether the writer may have
        begun the next lap over its slot. It publishes a chunk's anchor before the chunk's
        times, so the newest anchor (loaded after the read) bounds what it touched."""
        hi = self._written()
        a = self._anchor(hi - 1) if hi else None
        return a is None or int(a["position"]) + int(a["count"]) > p + self.length

    def _waiters_add(self, delta):
        """+1 before a sleep; -1 after it, never below 0 (the writer may have taken a count
        it believed stale back meanwhile: docs/shm-layout.md §11)."""
        if not self.wake.intact():
            return
        word = ctypes.c_uint32.from_buffer(self.wake.map, OFF_WAITERS)
        if _fetch_add is None:
            word.value = max(0, word.value + delta) & 0xFFFFFFFF
        elif delta > 0:
            _fetch_add(ctypes.c_void_p(ctypes.addressof(word)), ctypes.c_uint32(delta), 5)   # seq_cst
        else:
            seen = ctypes.c_uint32(word.value)
            while seen.value and not _cas(ctypes.c_void_p(ctypes.addressof(word)), ctypes.byref(seen),
                                          ctypes.c_uint32(seen.value - 1), 5, 5):
                pass

    def _lower_target(self, t):
        """The wake segment's target becomes t unless it is lower already (another block
        reader needs less): the writer wakes target sleepers when it publishes it."""
        if not self.wake.intact():
            return
        word = ctypes.c_uint64.from_buffer(self.wake.map, OFF_TARGET)
        seen = ctypes.c_uint64(word.value)
        while t < seen.value and not _cas8(ctypes.c_void_p(ctypes.addressof(word)), ctypes.byref(seen),
                                           ctypes.c_uint64(t), 5, 5):
            pass

    def _word(self):
        raw = self.wake.read(OFF_WAKE, 4) if self.wake else None
        return int.from_bytes(raw, "little") if raw else 0

    def wait(self, timeout, min_frames=1):
        """Sleeps until min_frames frames past the position at the call have landed (at most
        half the ring), the ring changes, or timeout seconds pass. True when something
        happened."""
        return wait_any([self], timeout, min_frames) is not None

    def _close_clock(self):
        self.anchors = self.coords = None
        for m in (self.wake, self.clock):
            if m is not None:
                m.close()
        self.clock = self.wake = None

    def close(self):
        self._close_clock()
        self.header.close()
