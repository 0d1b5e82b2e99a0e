/*  console_decimate.h — what one browser plot shows of one stream: per channel, the minimum
    and maximum of every pixel column over the newest window of the sender's time.

        console_view_t view = {.window = 10.0, .columns = 1000};
        console_decimate_t *d;
        console_decimate_new("eeg", &view, &d);
        for (;;) {
            ezshm_mirror_wait_frames(console_decimate_mirror(d), 1, 200);  // or _wait_any
            bool more;
            int rc = console_decimate_pump(d, 65536, &more);   // never blocks
            console_columns_t c;
            console_decimate_columns(d, &c);                   // encode c, send it
        }
        console_decimate_destroy(&d);

    Columns sit on a fixed grid of the sender's time (the clock segment: a frame's axis time,
    docs/shm-layout.md §11): column b covers [b·dt, (b+1)·dt) with dt = window / columns, and
    the plot is the `columns` newest columns. A grid fixed in absolute time lets each frame
    touch exactly one column once — new frames never re-bin old ones — and lets the browser
    draw a sweep (the column b lands at pixel b mod columns). A frame whose clock time is
    unknown (an ezmsg-tools writer without a clock segment, a sender without time) is placed
    at the last known time plus its frame distance / srate (clock false in the columns).

    What the plot shows when the window or stream changes: on the first attach, a new view
    and after a rebuild, the newest frames the ring holds (up to the scratch buffer's worth,
    CONSOLE_DECIMATE_SCRATCH_BYTES) fill the window at once; beyond that the columns stay
    empty until live frames reach them. Min/max is idempotent, so frames seen by both that
    fill and the sequential reads count once.

    Gaps: a column no frame fell into has no CONSOLE_COLUMN_DATA flag (NaN min/max); frames
    the reader lost (overwritten before it read them: a client too slow for the stream) mark
    the columns from the last frame read before them to the first one after them
    CONSOLE_COLUMN_LOST. A sequential frame whose time lies more than a window before the
    previous one (the sender's clock restarted) clears the plot and starts again from it.

    Memory is fixed per view and stream shape: 8 bytes per cell (float32 min and max) for
    columns × channels cells (capped at CONSOLE_DECIMATE_MAX_CELLS: channels beyond it are not
    plotted), one flag byte per column, and the scratch buffer (at most
    CONSOLE_DECIMATE_SCRATCH_BYTES of frames, at least one frame of at most
    CONSOLE_DECIMATE_MAX_FRAME_BYTES, plus 8 bytes of time per frame). Not thread-safe: one
    thread pumps a decimator and reads its columns (or a lock around both).
*/
#ifndef CONSOLE_DECIMATE_H
#define CONSOLE_DECIMATE_H

#include "ezshm.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CONSOLE_DECIMATE_MAX_COLUMNS 4096u          /* pixel columns of one plot             */
#define CONSOLE_DECIMATE_MAX_CELLS (1u << 20)       /* columns × channels: 8 MiB of min/max  */
#define CONSOLE_DECIMATE_MAX_WINDOW 86400.0         /* seconds                               */
#define CONSOLE_DECIMATE_SCRATCH_BYTES (1u << 20)   /* frames copied out of the ring at once */
#define CONSOLE_DECIMATE_MAX_FRAME_BYTES (16u << 20)/* a bigger frame is refused (TOOBIG)    */
#define CONSOLE_DECIMATE_MAX_SLICE 8u               /* frame dims after the channel dim      */

/*  What the client asks to see. Frame dims: the first is the channel dim (a stream of scalar
    frames has one channel), each further one is cut at slice[j] (missing entries are 0, an
    index out of its dim's range is taken as 0: a rebuild may shrink the dim). */
typedef struct {
    double   window;                              /* seconds, (0, CONSOLE_DECIMATE_MAX_WINDOW] */
    uint32_t columns;                             /* 1..CONSOLE_DECIMATE_MAX_COLUMNS            */
    uint32_t channel_first;                       /* first channel plotted                      */
    uint32_t channel_count;                       /* channels plotted, 0: all (then capped)     */
    uint32_t n_slice;                             /* entries of slice, 0..MAX_SLICE             */
    uint32_t slice[CONSOLE_DECIMATE_MAX_SLICE];
} console_view_t;

#define CONSOLE_COLUMN_DATA 1u   /* at least one frame fell into the column          */
#define CONSOLE_COLUMN_LOST 2u   /* frames the reader lost lie in (or just before) it */

/*  The plot now: read-only views into the decimator, valid until its next call. The arrays
    are rings of `columns` slots: column k (0 = oldest) is slot (start + k) % columns. */
typedef struct {
    bool           attached;       /* a ring is mapped (false: nothing below is live)       */
    uint32_t       generation;     /* the ring's generation                                 */
    uint32_t       rebuilds;       /* rebuilds (and re-attaches) followed since new         */
    char           dtype;
    double         srate;
    uint32_t       channels_total; /* the stream's channels                                 */
    uint32_t       channel_first;  /* first channel plotted                                 */
    uint32_t       channels;       /* channels plotted (min and max hold this many rows)    */
    uint32_t       n_slice;        /* the slice in force (out-of-range indices made 0)      */
    uint32_t       slice[CONSOLE_DECIMATE_MAX_SLICE];
    uint32_t       columns;
    double         window;
    int64_t        first_column;   /* absolute grid index of column 0: t0 = first_column·dt */
    double         t0, t1;         /* the plot's time span, t1 - t0 = window                */
    double         t_newest;       /* the newest frame's time (NaN: none yet)               */
    bool           clock;          /* the newest frame's time came from the clock segment   */
    uint32_t       start;          /* slot of column 0                                      */
    const float   *min, *max;      /* [channel * columns + slot]; NaN where no data         */
    const uint8_t *flags;          /* [slot]: CONSOLE_COLUMN_*                              */
    uint64_t       frames;         /* frames taken into the plot since new                  */
    uint64_t       lost;           /* frames lost since new                                 */
    uint64_t       changes;        /* bumped by every call that changed what is above       */
    uint64_t       geometry;       /* bumped whenever the plot is laid out anew (a view, a
                                      rebuild): columns of different layouts never mix     */
    uint32_t       changed_first;  /* column k ≥ this changed since console_decimate_clean
                                      (columns: nothing did; the columns before it are as
                                      they were, shifted with the window)                 */
} console_columns_t;

typedef struct console_decimate_t console_decimate_t;

/*  Checks *view (EZSHM_ERR_INVAL when out of range) and creates a decimator of the stream
    name (nothing attached yet: the first pump attaches). EZSHM_ERR_NOMEM. */
int console_decimate_new(const char *name, const console_view_t *view, console_decimate_t **out);

/*  Detaches, frees, sets *self_p NULL. */
void console_decimate_destroy(console_decimate_t **self_p);

/*  A new view (EZSHM_ERR_INVAL when out of range: the old view stays). The plot restarts
    from the ring's newest frames at the next pump. */
int console_decimate_set_view(console_decimate_t *self, const console_view_t *view);

/*  Takes the frames that arrived into the plot, at most max_frames of them (the caller's
    budget per turn; *more, when not NULL, says whether frames were left), never blocking.
    EZSHM_OK; EZSHM_ERR_NOENT / EZSHM_ERR_NOTREADY: no ring now (retry; the plot keeps what
    it showed); EZSHM_ERR_TOOBIG: a frame over CONSOLE_DECIMATE_MAX_FRAME_BYTES;
    EZSHM_ERR_NOMEM; the mirror's errors (EZSHM_ERR_HEADER, EZSHM_ERR_BUS, ...: it detached,
    the next pump attaches afresh). A rebuild is followed: new shape, the plot starts again. */
int console_decimate_pump(console_decimate_t *self, uint64_t max_frames, bool *more);

/*  The plot now (see console_columns_t). */
void console_decimate_columns(const console_decimate_t *self, console_columns_t *out);

/*  Marks every column unchanged: the columns' changed_first says what changed after this
    (the frame encoder sends only that part, console_frame.h). */
void console_decimate_clean(console_decimate_t *self);

/*  The attached ring's description (dtype, shape, srate, generation): EZSHM_ERR_NOTREADY
    before the first attach. */
int console_decimate_info(const console_decimate_t *self, ezshm_stream_info_t *info);

/*  The mirror the decimator reads, for ezshm_mirror_wait / _wait_frames / _wait_any (never
    read it directly: the decimator counts positions). */
ezshm_mirror_t *console_decimate_mirror(console_decimate_t *self);

/*  True when *view is one console_decimate_new and _set_view accept. */
bool console_view_valid(const console_view_t *view);

#ifdef __cplusplus
}
#endif
#endif
