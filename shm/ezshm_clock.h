/*  ezshm_clock.h — the clock and wake segments: a timestamp for every frame, a word to sleep on.

    Per ring generation two segments, created with the ring and unlinked with it, which
    ezmsg-tools never opens (its view of header and ring is unchanged): the clock segment
    short(name + "/clock" + generation), read-only for readers, and the wake segment
    short(name + "/wake" + generation), one page that readers write to count themselves:
      wake segment [0, 4096)    0 wake u32 (futex word)    64 waiters u32
                               128 target u64 (lowest position a block reader waits for)
    Clock segment layout (docs/shm-layout.md §11), little-endian, offsets in bytes:

      control page [0, 4096)
        0 magic u32 0x4B4C435A ("ZCLK")     4 version u32 (1)
        8 generation u32                     12 flags u32 (bit 0: per-frame times ring)
       16 n_frames u64 (ring length L)       24 anchor_capacity u64 (C)
       32 anchor_offset u64 (4096)           40 times_offset u64 (0: none)
       48 anchors_written u64 (A)            56 state u32 (1 live, 2 closed)
       60 anchor_bytes u32 (48)
      anchors [anchor_offset, + C * 48)  anchor k in slot k mod C:
        position u64, count u64, t0 f64, gain f64, wall_ns i64, seq u64
      times [times_offset, + L * 8)      coordinate axis: frame p's time in slot p mod L

    The writer publishes an anchor (slot, then A with release) before the chunk's frames, and
    a piece's times before the piece's frames; after each chunk it increments `wake` and, only
    when `waiters` is non-zero, calls FUTEX_WAKE_BITSET (shared) with the data bit, plus the
    target bit when the position reached `target` (which it then clears), every bit when it
    closes the clock. A reader trusts anchor k only when k >= A' - (C - 1),
    A' loaded after it read the anchor.

    Writer side: ezshm_clock_create .. ezshm_clock_begin_chunk / put_times / notify ..
    ezshm_clock_destroy (closed state, bump, wake, unlink). Reader side: ezshm_clock_open ..
    ezshm_clock_times / copy_times / anchor_of / wake_word / sleep_any .. ezshm_clock_destroy (unmap).
*/
#ifndef EZSHM_CLOCK_H
#define EZSHM_CLOCK_H

#include "ezshm_name.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EZSHM_CLOCK_MAGIC 0x4B4C435Au          /* bytes "ZCLK" */
#define EZSHM_CLOCK_VERSION 1u
#define EZSHM_CLOCK_CONTROL_BYTES 4096u
#define EZSHM_WAKE_BYTES 4096u
#define EZSHM_CLOCK_ANCHOR_BYTES 48u
#define EZSHM_CLOCK_FLAG_TIMES 1u
#define EZSHM_CLOCK_LIVE 1u
#define EZSHM_CLOCK_CLOSED 2u
#define EZSHM_SEQ_NONE UINT64_MAX              /* the message had no sequence number */

/*  One chunk's timing, as the writer's caller gives it. */
typedef struct {
    double        t0;        /* axis offset of the chunk's first frame (axis unit); NaN unknown */
    double        gain;      /* seconds per frame; NaN for a coordinate axis                   */
    const double *times;     /* coordinate axis: one value per frame of the chunk, else NULL   */
    int64_t       wall_ns;   /* CLOCK_REALTIME at ingest in ns; 0: the writer stamps it        */
    uint64_t      seq;       /* message sequence number, EZSHM_SEQ_NONE when there is none     */
} ezshm_chunk_time_t;

/*  An anchor as stored: frames [position, position + count) came in one chunk. */
typedef struct {
    uint64_t position;
    uint64_t count;
    double   t0;
    double   gain;
    int64_t  wall_ns;
    uint64_t seq;
} ezshm_anchor_t;

typedef struct ezshm_clock_t ezshm_clock_t;

/*  Anchors needed so that every frame of a ring of n_frames has its anchor, for chunks of at
    least max(1, floor(srate / 1000)) frames (1 ms of data; srate 0: one frame):
    ceil(n_frames / min_chunk) + 2. */
uint64_t ezshm_clock_anchor_capacity(uint64_t n_frames, double srate);

/*  Bytes of a clock segment (control page, anchors, times ring when with_times). */
uint64_t ezshm_clock_segment_bytes(uint64_t n_frames, uint64_t capacity, bool with_times);

/*  Bytes the clock and wake segments of a ring of n_frames at srate take in the segment
    folder (each rounded up to whole pages): what must be free, beside the ring, before a
    writer creates any of the three. */
uint64_t ezshm_clock_footprint(uint64_t n_frames, double srate);

/*  Writer: creates the clock and wake segments of (name, generation) for a ring of n_frames;
    srate 0.0 (coordinate axis) adds the per-frame times ring. The clock gets mode, the wake
    segment mode plus write wherever mode grants read. *replaced as ezshm_segment_create. */
int ezshm_clock_create(const char *name, uint32_t generation, uint64_t n_frames, double srate,
                       unsigned mode, ezshm_clock_t **out, bool *replaced);

/*  Reader: opens and validates the clock segment of (name, generation) for a ring of
    n_frames; the file must belong to owner (the header's, or EZSHM_ANY_OWNER).
    EZSHM_ERR_NOENT when there is none (an ezmsg-tools writer), EZSHM_ERR_HEADER when its
    bytes are not a valid clock for that ring. Without the wake segment, or write permission
    on it, the clock gives timestamps but can't be waited on (ezshm_clock_can_sleep false). */
int ezshm_clock_open(const char *name, uint32_t generation, uint64_t n_frames, long owner,
                     ezshm_clock_t **out);

/*  Validates clock bytes (size bytes at base) for generation and n_frames; on success the
    layout's capacity and offsets are in *capacity, *times_offset (0: none). */
int ezshm_clock_validate(const void *base, size_t size, uint32_t generation, uint64_t n_frames,
                         uint64_t *capacity, uint64_t *times_offset);

/*  Writer: closed state, wake word bumped, waiters woken, both segments unlinked. Reader: unmapped.
    Accepts NULL. */
void ezshm_clock_destroy(ezshm_clock_t **self_p);

/*  Writer: true when a SIGBUS fault address lies in the clock or wake segment (another
    process truncated it); then ezshm_clock_abandon lets both go: unmapped and unlinked
    without one more access to their memory (no close state, no wake-up). Accepts NULL. */
bool ezshm_clock_hit(const ezshm_clock_t *self, const void *fault);
/*  The name of the segment (clock or wake) a fault address lies in; NULL when neither. */
const char *ezshm_clock_hit_segment(const ezshm_clock_t *self, const void *fault);
void ezshm_clock_abandon(ezshm_clock_t **self_p);

const char *ezshm_clock_segment(const ezshm_clock_t *self);

/*  Writer: records the anchor of a chunk of count frames starting at position. */
void ezshm_clock_begin_chunk(ezshm_clock_t *self, uint64_t position, uint64_t count,
                             const ezshm_chunk_time_t *time);

/*  Writer: the chunk begun last was cut short after count frames (a copy failed). */
void ezshm_clock_trim_chunk(ezshm_clock_t *self, uint64_t count);

/*  Writer: stores count per-frame times (NULL: NaN, unknown) into slots [slot, slot + count)
    (no wrap; the caller splits at the ring end, as for frames). Nothing without a times ring. */
void ezshm_clock_put_times(ezshm_clock_t *self, uint64_t slot, const double *times, uint64_t count);

/*  The bits of a wake-up (FUTEX_WAKE_BITSET / FUTEX_WAIT_BITSET, docs/shm-layout.md §11):
    every publish carries DATA; a publish that reaches the wake segment's `target` carries
    TARGET too (and clears it to EZSHM_WAKE_NO_TARGET); closing the clock (shutdown, reset,
    rebuild, rename) carries every bit. A reader that wants every publish sleeps on
    EZSHM_WAKE_ANY (plain FUTEX_WAIT); a block reader lowers `target` to the position it
    needs and sleeps on TARGET | CLOSED: one wake-up per block. */
#define EZSHM_WAKE_ANY 0xFFFFFFFFu
#define EZSHM_WAKE_DATA 0x1u
#define EZSHM_WAKE_TARGET 0x2u
#define EZSHM_WAKE_CLOSED 0x80000000u
#define EZSHM_WAKE_NO_TARGET UINT64_MAX

/*  Writer: after a chunk is published: wake word + 1, FUTEX_WAKE_BITSET (DATA, and TARGET
    when the chunk reached the target) when a reader waits. */
void ezshm_clock_notify(ezshm_clock_t *self);

/*  Reader: the times of frames [first, first + n) from the anchors (t0 + (p - P) * gain);
    NaN where unknown (no anchor left, coordinate axis, hostile values). */
void ezshm_clock_times(const ezshm_clock_t *self, uint64_t first, uint64_t n, double *t);

/*  Reader: true when the clock has a per-frame times ring (coordinate axis). */
bool ezshm_clock_has_times(const ezshm_clock_t *self);

/*  Reader: copies the raw times ring values of frames [first, first + n) (split at the ring
    end). The caller judges torn values with the data ring's rules: the writer stores a
    piece's times right before the piece's frames. */
void ezshm_clock_copy_times(const ezshm_clock_t *self, uint64_t first, uint64_t n, double *t);

/*  Reader: the anchor of frame p, still intact; false when none is kept. A lookup the
    writer overtook (it reused a slot the search read) is run again, so a frame whose anchor
    is kept is found while the writer races on. */
bool ezshm_clock_anchor_of(const ezshm_clock_t *self, uint64_t p, ezshm_anchor_t *anchor);

/*  The time of frame p by its anchor a (t0 + (p - position) * gain), NaN when a carries no
    finite t0 and gain (a coordinate axis: its times are in the times ring). */
double ezshm_clock_anchor_time(const ezshm_anchor_t *a, uint64_t p);

/*  Reader: the newest anchor published (index anchors_written - 1, loaded with acquire),
    still intact after it was copied; false when none was published or the writer reused
    its slot under the copy. The mirror's torn-read check bounds the writer's position with
    it: a chunk's anchor is published before any frame of the chunk (docs/shm-layout.md §6). */
bool ezshm_clock_newest_anchor(const ezshm_clock_t *self, ezshm_anchor_t *anchor);

/*  Writer: how many readers say they sleep on the wake word (the waiter count they keep in
    the wake segment: a reader can write any value there, so it is what they report, not a
    proof). Read it inside a SIGBUS guard: the wake segment is writable by readers. */
uint32_t ezshm_clock_waiters(const ezshm_clock_t *self);

/*  Reader: the wake word's value (0 without a wake segment), and whether the writer closed
    this clock. */
uint32_t ezshm_clock_wake_word(const ezshm_clock_t *self);
bool ezshm_clock_closed(const ezshm_clock_t *self);

/*  Reader: whether ezshm_clock_sleep_any can block on it (the waiter count is writable). */
bool ezshm_clock_can_sleep(const ezshm_clock_t *self);

/*  The most clocks one ezshm_clock_sleep_any sleeps on (the kernel's FUTEX_WAITV_MAX). */
#define EZSHM_CLOCK_SLEEP_MAX 128

/*  Reader: sleeps on the wake words of n clocks at once (1 <= n <= EZSHM_CLOCK_SLEEP_MAX,
    each ezshm_clock_can_sleep). Counts itself a waiter on each; then, unless a word moved
    from seen[i] or ready(arg) says there is work, sleeps for at most timeout_s seconds —
    FUTEX_WAIT for one clock (any kernel); for one clock and a target position other than 0,
    lowers the wake segment's target to it and sleeps in FUTEX_WAIT_BITSET on TARGET |
    CLOSED, so only the publish that reaches the lowest target (or the close) wakes it;
    futex_waitv for several (Linux >= 5.16; target 0) — shared futexes —; uncounts itself
    on each, on every return path. EZSHM_OK: woken, a word moved,
    or ready; EZSHM_ERR_TIMEOUT: timed out or interrupted by a signal; EZSHM_ERR_SYS: the
    kernel refused to sleep (errno ENOSYS: no futex_waitv), sleep some other way;
    EZSHM_ERR_BUS: a segment touched here (a wake segment, or what ready reads) was
    truncated under the call, SIGBUS caught: *fault (when fault is not NULL) gets the
    address, every other clock's count is restored; EZSHM_ERR_INVAL: bad arguments. */
int ezshm_clock_sleep_any(ezshm_clock_t *const *clocks, const uint32_t *seen, size_t n, double timeout_s,
                          uint64_t target, bool (*ready)(void *arg), void *arg, void **fault);

/*  Transport delay = ingest wall clock − sample time, in seconds, when it means something:
    the sample time looks like a UNIX time in seconds (after 2001, > EZSHM_WALL_CLOCK_MIN) and
    the delay is within ±EZSHM_DELAY_MAX (a day). False otherwise (a relative time base,
    another unit, NaN). */
#define EZSHM_WALL_CLOCK_MIN 1e9
#define EZSHM_DELAY_MAX 86400.0
bool ezshm_clock_transport_delay(double sample_time, int64_t wall_ns, double *seconds);

#ifdef __cplusplus
}
#endif
#endif
