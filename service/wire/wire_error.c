/*  wire_error.c — names of the drop reasons, sentences of the decoder's. */
#include "wire.h"

static const char *const s_names[DROP_REASON_COUNT] = {
    "ok", "frame_count", "invalid_json", "missing_field", "unknown_dtype", "shape_mismatch", "bad_ndim",
    "size_overflow", "out_of_memory", "axis_missing", "bad_gain", "empty_chunk", "ring_too_big", "no_space",
    "shm_error", "rebuild_rate_limited", "no_stream", "max_streams", "stream_failed",
    "fd_limit", "name_conflict", "meta_not_published",
};

static const char *const s_sentences[WIRE_REASON_COUNT] = {
    "success",
    "message does not have 1, 2 or 3 frames",
    "payload is not a JSON object, or holds invalid base64",
    "a required field is absent or has the wrong type",
    "dtype is unknown or not numeric",
    "dims, shape and data length disagree",
    "array has 0 or more than 64 dimensions",
    "array byte size overflows",
    "decoder ran out of memory",
};

const char *
wire_strerror(int code)
{
    if (code > 0 || code <= -WIRE_REASON_COUNT)
        return "unknown wire error";
    return s_sentences[-code];
}

const char *
drop_reason_name(int code)
{
    if (code > 0 || code <= -DROP_REASON_COUNT)
        return "unknown";
    return s_names[-code];
}
