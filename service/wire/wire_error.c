/*  wire_error.c — names and sentences of the wire result codes. */
#include "wire.h"

typedef struct {
    const char *name;
    const char *sentence;
} reason_t;

static const reason_t s_reasons[WIRE_REASON_COUNT] = {
    {"ok", "success"},
    {"frame_count", "message does not have 1, 2 or 3 frames"},
    {"invalid_json", "payload is not a JSON object, or holds invalid base64"},
    {"missing_field", "a required field is absent or has the wrong type"},
    {"unknown_dtype", "dtype is unknown or not numeric"},
    {"shape_mismatch", "dims, shape and data length disagree"},
    {"bad_ndim", "array has 0 or more than 64 dimensions"},
    {"size_overflow", "array byte size overflows"},
    {"out_of_memory", "decoder ran out of memory"},
};

const char *
wire_strerror(int code)
{
    if (code > 0 || code <= -WIRE_REASON_COUNT)
        return "unknown wire error";
    return s_reasons[-code].sentence;
}

const char *
wire_reason_name(int code)
{
    if (code > 0 || code <= -WIRE_REASON_COUNT)
        return "unknown";
    return s_reasons[-code].name;
}
