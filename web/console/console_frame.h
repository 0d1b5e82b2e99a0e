/*  console_frame.h — one decimated plot as the binary WebSocket message the browser draws
    (docs/console.md, "Columns frame"): a 112-byte little-endian header, then float32 min
    and max per channel and column (oldest column first), then the gap and lost bitmaps —
    of every column (a full frame), or of the columns that changed since the last frame
    (a delta frame, ids.delta: the browser keeps the others).

        size_t need = console_frame_size(&cols, ids.delta);   // ≤ CONSOLE_FRAME_MAX_BYTES
        uint8_t *buf = malloc(LWS_PRE + need);                 // once per client, at its cap
        size_t len;
        console_frame_encode(&cols, &ids, buf + LWS_PRE, need, &len);
        console_decimate_clean(dec);                           // the next delta starts here
        lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_BINARY);

    Bounded by construction: one frame per client is encoded into the client's one buffer,
    and the server encodes the next only when the browser acknowledged the last one (the
    "drawn" message): a slow client gets fewer frames, never a queue.
*/
#ifndef CONSOLE_FRAME_H
#define CONSOLE_FRAME_H

#include "console_decimate.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CONSOLE_FRAME_MAGIC 0x31435A45u        /* bytes "EZC1" */
#define CONSOLE_FRAME_VERSION 1u
#define CONSOLE_FRAME_KIND_COLUMNS 1u
#define CONSOLE_FRAME_HEADER_BYTES 112u
/*  The largest frame: every cell of the cap, both bitmaps of the widest plot. */
#define CONSOLE_FRAME_MAX_BYTES \
    (CONSOLE_FRAME_HEADER_BYTES + 8u * CONSOLE_DECIMATE_MAX_CELLS + 2u * (CONSOLE_DECIMATE_MAX_COLUMNS / 8u))

/*  Header flag bits. */
#define CONSOLE_FRAME_CLOCK 1u      /* the newest frame's time came from the clock segment */
#define CONSOLE_FRAME_PAUSED 2u     /* the client paused: this frame is the frozen plot     */
#define CONSOLE_FRAME_DELTA 4u      /* only the changed columns: the rest as the last frame */

/*  What the server adds to the decimator's columns: which client request the frame answers
    and its place in the subscription's sequence. */
typedef struct {
    uint32_t subscription;   /* the "id" of the client's subscribe message      */
    uint32_t sequence;       /* frames sent on this subscription before this one */
    uint32_t flags;          /* CONSOLE_FRAME_PAUSED (CLOCK, DELTA are set here)  */
    bool     delta;          /* the browser holds the previous frame of the same
                                layout (cols->geometry): send the changed columns */
} console_frame_ids_t;

/*  Bytes of the frame of cols, full or delta. */
size_t console_frame_size(const console_columns_t *cols, bool delta);

/*  Encodes cols into dst (cap bytes); *len gets the frame's size. EZSHM_ERR_INVAL when an
    argument is NULL or cap is too small (nothing written then). */
int console_frame_encode(const console_columns_t *cols, const console_frame_ids_t *ids, uint8_t *dst,
                         size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
