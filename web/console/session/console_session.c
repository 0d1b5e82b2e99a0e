/*  console_session.c — docs/console.md §3 and §4 for one connection (see the header). */
#include "console_session.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_NAME_MAX 255

typedef enum { STATE_NONE, STATE_WAITING, STATE_LIVE, STATE_REBUILDING, STATE_ERROR } state_t;

static const char *const s_state_names[] = {"none", "waiting", "live", "rebuilding", "error"};

struct console_session_t {
    console_stream_known_fn *known;
    void                    *arg;
    console_decimate_t      *dec;             /* the plot, NULL without one                 */
    char                     stream[STREAM_NAME_MAX + 1];   /* dec's stream                 */
    bool                     subscribed;      /* as the browser asked                       */
    bool                     pending;         /* a change for the next pump to carry out    */
    char                     want[STREAM_NAME_MAX + 1];     /* the stream asked for         */
    console_view_t           view;
    uint32_t                 id;              /* the subscription's id                      */
    uint32_t                 fps;
    bool                     paused;
    bool                     frozen_due;      /* the pause's frame is still to be sent      */
    state_t                  state;
    int                      state_rc;
    bool                     stream_sent;     /* the stream message of this generation went */
    uint32_t                 sent_generation, sent_rebuilds, sent_meta;
    uint32_t                 sequence;        /* frames sent on this subscription           */
    bool                     awaiting;        /* a frame went, its "drawn" did not come     */
    double                   last_sent;
    uint64_t                 last_changes;
    uint64_t                 sent_geometry;   /* the layout of the last frame sent           */
    char                    *outbox[CONSOLE_SESSION_OUTBOX];
    size_t                   out_first, out_n;
};

int
console_session_new(console_stream_known_fn *known, void *arg, console_session_t **out)
{
    if (!out)
        return EZSHM_ERR_INVAL;
    *out = calloc(1, sizeof **out);
    if (!*out)
        return EZSHM_ERR_NOMEM;
    (*out)->known = known;
    (*out)->arg = arg;
    return EZSHM_OK;
}

void
console_session_destroy(console_session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    console_session_t *self = *self_p;
    console_decimate_destroy(&self->dec);
    char *text;
    while ((text = console_session_next_text(self)))
        free(text);
    free(self);
    *self_p = NULL;
}

/*  ---- the outbox ---------------------------------------------------------------------- */

/*  Queues json as text (json is deleted); a full outbox drops its oldest message. */
static void
s_post(console_session_t *self, cJSON *json)
{
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!text)
        return;
    if (self->out_n == CONSOLE_SESSION_OUTBOX) {
        free(self->outbox[self->out_first]);
        self->out_first = (self->out_first + 1) % CONSOLE_SESSION_OUTBOX;
        self->out_n--;
    }
    self->outbox[(self->out_first + self->out_n++) % CONSOLE_SESSION_OUTBOX] = text;
}

char *
console_session_next_text(console_session_t *self)
{
    if (!self || !self->out_n)
        return NULL;
    char *text = self->outbox[self->out_first];
    self->out_first = (self->out_first + 1) % CONSOLE_SESSION_OUTBOX;
    self->out_n--;
    return text;
}

bool
console_session_has_text(const console_session_t *self)
{
    return self && self->out_n > 0;
}

static const char *
s_error(console_session_t *self, const char *code, const char *message)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "error");
    cJSON_AddStringToObject(j, "code", code);
    cJSON_AddStringToObject(j, "message", message);
    s_post(self, j);
    return code;
}

/*  ---- the browser's messages ------------------------------------------------------------ */

/*  An integer field in [lo, hi] into *out: 1 when present and good, 0 when absent, -1 bad. */
static int
s_uint(const cJSON *msg, const char *key, double lo, double hi, uint32_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return -1;
    *out = (uint32_t) v->valuedouble;
    return 1;
}

/*  A subscribe message into the view, name and fps it asks for; the name of the bad field
    in *bad. */
static bool
s_parse_subscribe(const cJSON *msg, console_view_t *view, const char **name, uint32_t *id, uint32_t *fps,
                  const char **bad)
{
    memset(view, 0, sizeof *view);
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(msg, "stream");
    const cJSON *window = cJSON_GetObjectItemCaseSensitive(msg, "window");
    const cJSON *slice = cJSON_GetObjectItemCaseSensitive(msg, "slice");
    *fps = CONSOLE_FPS_DEFAULT;
    if (s_uint(msg, "id", 0, UINT32_MAX, id) != 1)
        return *bad = "id", false;
    if (!cJSON_IsString(stream) || !stream->valuestring[0] || strlen(stream->valuestring) > STREAM_NAME_MAX)
        return *bad = "stream", false;
    *name = stream->valuestring;
    if (s_uint(msg, "columns", 1, CONSOLE_DECIMATE_MAX_COLUMNS, &view->columns) != 1)
        return *bad = "columns", false;
    if (!cJSON_IsNumber(window) || !(window->valuedouble > 0) || window->valuedouble > CONSOLE_DECIMATE_MAX_WINDOW)
        return *bad = "window", false;
    view->window = window->valuedouble;
    if (s_uint(msg, "channel_first", 0, UINT32_MAX, &view->channel_first) < 0)
        return *bad = "channel_first", false;
    if (s_uint(msg, "channel_count", 0, UINT32_MAX, &view->channel_count) < 0)
        return *bad = "channel_count", false;
    if (s_uint(msg, "fps", 1, CONSOLE_FPS_MAX, fps) < 0)
        return *bad = "fps", false;
    if (slice && (!cJSON_IsArray(slice) || cJSON_GetArraySize(slice) > (int) CONSOLE_DECIMATE_MAX_SLICE))
        return *bad = "slice", false;
    const cJSON *item;
    cJSON_ArrayForEach(item, slice) {
        double v = cJSON_IsNumber(item) ? item->valuedouble : -1;
        if (v < 0 || v > UINT32_MAX || v != floor(v))
            return *bad = "slice", false;
        view->slice[view->n_slice++] = (uint32_t) v;
    }
    return true;
}

static const char *
s_subscribe(console_session_t *self, const cJSON *msg)
{
    console_view_t view;
    const char *name = NULL, *bad = NULL;
    uint32_t id, fps;
    char text[128];
    if (!s_parse_subscribe(msg, &view, &name, &id, &fps, &bad)) {
        snprintf(text, sizeof text, "subscribe: \"%s\" is missing, of the wrong type or out of range", bad);
        return s_error(self, "bad_request", text);
    }
    if (self->known && !self->known(self->arg, name))
        return s_error(self, "unknown_stream", "no configured ezshmd has a stream of that name");
    snprintf(self->want, sizeof self->want, "%s", name);
    self->subscribed = self->pending = true;
    self->state = STATE_NONE;
    self->view = view;
    self->id = id;
    self->fps = fps;
    self->paused = self->frozen_due = false;
    self->stream_sent = false;
    self->sequence = 0;
    self->awaiting = false;
    self->last_sent = -INFINITY;
    self->last_changes = UINT64_MAX;
    return NULL;
}

static const char *
s_drawn(console_session_t *self, const cJSON *msg)
{
    uint32_t id, sequence;
    if (s_uint(msg, "id", 0, UINT32_MAX, &id) != 1 || s_uint(msg, "sequence", 0, UINT32_MAX, &sequence) != 1)
        return s_error(self, "bad_request", "drawn: \"id\" and \"sequence\" are integers");
    /*  Only the newest frame's acknowledgement gives the credit back; one of an older
        subscription is late, not wrong. */
    if (self->awaiting && id == self->id && sequence + 1 == self->sequence)
        self->awaiting = false;
    return NULL;
}

const char *
console_session_receive(console_session_t *self, const char *text, size_t len)
{
    if (!self)
        return "bad_json";
    if (!text)
        len = 0;
    if (len > CONSOLE_MESSAGE_MAX)
        return s_error(self, "too_big", "a console message is at most 4096 bytes");
    cJSON *msg = text && ezshm_utf8_valid(text, len) ? cJSON_ParseWithLength(text, len) : NULL;
    if (!cJSON_IsObject(msg)) {
        cJSON_Delete(msg);
        return s_error(self, "bad_json", "a console message is one UTF-8 JSON object");
    }
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "type"));
    const char *code = NULL;
    if (type && strcmp(type, "subscribe") == 0)
        code = s_subscribe(self, msg);
    else if (type && strcmp(type, "drawn") == 0)
        code = s_drawn(self, msg);
    else if (type && (strcmp(type, "pause") == 0 || strcmp(type, "resume") == 0)) {
        bool pause = type[0] == 'p';
        if (self->subscribed && pause != self->paused) {
            self->paused = self->frozen_due = pause;
            self->pending |= !pause;   /* live again: the view again, the plot refilled */
        }
    }
    else if (type && strcmp(type, "unsubscribe") == 0) {
        self->subscribed = false;
        self->pending = true;
    }
    else
        code = s_error(self, "unknown_type", "type is one of subscribe, drawn, pause, resume, unsubscribe");
    cJSON_Delete(msg);
    return code;
}

/*  ---- state, stream, frames --------------------------------------------------------------- */

static void
s_post_state(console_session_t *self, state_t state, int rc)
{
    if (state == self->state && (state != STATE_ERROR || rc == self->state_rc))
        return;
    self->state = state;
    self->state_rc = rc;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "state");
    cJSON_AddNumberToObject(j, "id", self->id);
    cJSON_AddStringToObject(j, "state", s_state_names[state]);
    if (state == STATE_ERROR)
        cJSON_AddStringToObject(j, "message", ezshm_strerror(rc));
    s_post(self, j);
}

static cJSON *
s_uint_array(const uint32_t *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

/*  The channel dim's labels and unit from the stream metadata (ezshm_frame_labels: one
    label per frame element; a channel's is its first element's, without the "[0]" of each
    further dim), into j; null without metadata. */
static void
s_add_labels(console_session_t *self, cJSON *j, const ezshm_stream_info_t *info)
{
    ezshm_mirror_t *m = console_decimate_mirror(self->dec);
    self->sent_meta = m ? ezshm_mirror_meta_generation(m) : 0;
    ezshm_tree_t *tree = self->sent_meta ? ezshm_tree_new() : NULL;
    char err[64], unit[64] = "";
    uint32_t gen;
    uint64_t per_frame = info->frame_bytes / info->itemsize, channels = info->ndim >= 2 ? info->shape[1] : 0;
    char **labels = tree && ezshm_mirror_meta(m, tree, &gen, err, sizeof err) == EZSHM_OK
                    ? ezshm_frame_labels(ezshm_tree_root(tree), info, unit, sizeof unit) : NULL;
    if (!labels || !channels) {
        cJSON_AddNullToObject(j, "labels");
        cJSON_AddNullToObject(j, "unit");
    } else {
        cJSON *a = cJSON_AddArrayToObject(j, "labels");
        size_t suffix = 3 * (info->ndim - 2);
        for (uint64_t c = 0; c < channels; c++) {
            char *l = labels[c * (per_frame / channels)];
            if (l && strlen(l) >= suffix)
                l[strlen(l) - suffix] = '\0';
            cJSON_AddItemToArray(a, l ? cJSON_CreateString(l) : cJSON_CreateNull());
        }
        if (unit[0])
            cJSON_AddStringToObject(j, "unit", unit);
        else
            cJSON_AddNullToObject(j, "unit");
    }
    ezshm_labels_free(labels, per_frame);
    ezshm_tree_destroy(&tree);
}

/*  The stream message: what the plot of this generation is (docs/console.md §3), with the
    metadata's channel labels and unit. */
static void
s_post_stream(console_session_t *self, const console_columns_t *c)
{
    ezshm_stream_info_t info;
    if (console_decimate_info(self->dec, &info) != EZSHM_OK)
        return;
    char dtype[2] = {info.dtype, '\0'};
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "stream");
    cJSON_AddNumberToObject(j, "id", self->id);
    cJSON_AddStringToObject(j, "stream", self->stream);
    cJSON_AddNumberToObject(j, "generation", info.generation);
    cJSON_AddStringToObject(j, "dtype", dtype);
    cJSON_AddItemToObject(j, "shape", s_uint_array(info.shape, info.ndim));
    cJSON_AddNumberToObject(j, "srate", info.srate);
    cJSON_AddNumberToObject(j, "channels_total", c->channels_total);
    cJSON_AddNumberToObject(j, "channel_first", c->channel_first);
    cJSON_AddNumberToObject(j, "channels", c->channels);
    cJSON_AddItemToObject(j, "slice", s_uint_array(c->slice, c->n_slice));
    cJSON_AddItemToObject(j, "slice_dims", s_uint_array(info.shape + 2, info.ndim > 2 ? c->n_slice : 0));
    s_add_labels(self, j, &info);
    s_post(self, j);
    self->stream_sent = true;
    self->sent_generation = c->generation;
    self->sent_rebuilds = c->rebuilds;
}

/*  Carries out what the browser asked since the last pump. Decimators are made and dropped
    here only: the pump's thread may be asleep on the old one's mirror until now. */
static int
s_apply(console_session_t *self)
{
    self->pending = false;
    if (self->subscribed && self->dec && strcmp(self->want, self->stream) == 0)
        return console_decimate_set_view(self->dec, &self->view);
    console_decimate_destroy(&self->dec);
    self->stream[0] = '\0';
    if (!self->subscribed)
        return EZSHM_OK;
    int rc = console_decimate_new(self->want, &self->view, &self->dec);
    if (rc == EZSHM_OK)
        snprintf(self->stream, sizeof self->stream, "%s", self->want);
    return rc;
}

int
console_session_pump(console_session_t *self, uint64_t max_frames, bool *more)
{
    if (more)
        *more = false;
    if (!self)
        return EZSHM_ERR_INVAL;
    int rc = self->pending ? s_apply(self) : EZSHM_OK;
    if (rc != EZSHM_OK)
        return rc;
    if (!self->subscribed || !self->dec || self->paused)
        return EZSHM_OK;
    rc = console_decimate_pump(self->dec, max_frames, more);
    state_t state = rc == EZSHM_OK ? STATE_LIVE : rc == EZSHM_ERR_NOENT ? STATE_WAITING
                  : rc == EZSHM_ERR_NOTREADY ? STATE_REBUILDING : STATE_ERROR;
    s_post_state(self, state, rc);
    console_columns_t c;
    console_decimate_columns(self->dec, &c);
    ezshm_mirror_t *m = console_decimate_mirror(self->dec);
    bool meta_changed = m && ezshm_mirror_meta_generation(m) != self->sent_meta;
    if (c.attached && (!self->stream_sent || c.generation != self->sent_generation || c.rebuilds != self->sent_rebuilds
                       || meta_changed))
        s_post_stream(self, &c);
    return rc;
}

ezshm_mirror_t *
console_session_mirror(console_session_t *self, uint64_t *block)
{
    if (block)
        *block = self && self->pending ? 0 : 1;
    if (!self || self->pending || !self->subscribed || !self->dec || self->paused)
        return NULL;
    ezshm_stream_info_t info;
    if (block && console_decimate_info(self->dec, &info) == EZSHM_OK && info.srate > 0) {
        double per = info.srate / self->fps;
        *block = per > 1 ? (uint64_t) per : 1;
    }
    return console_decimate_mirror(self->dec);
}

bool
console_session_frame_due(const console_session_t *self, double now)
{
    if (!self || !self->subscribed || self->pending || !self->dec || !self->stream_sent || self->awaiting)
        return false;
    if (self->paused)
        return self->frozen_due;
    console_columns_t c;
    console_decimate_columns(self->dec, &c);
    return c.attached && c.changes != self->last_changes && now - self->last_sent >= 1.0 / self->fps;
}

/*  A delta frame when the browser holds the previous frame of this layout: not the first
    of the subscription, the same geometry (view, shape, generation) as the last one. */
static bool
s_delta(const console_session_t *self, const console_columns_t *c)
{
    return self->sequence > 0 && c->geometry == self->sent_geometry;
}

size_t
console_session_frame_size(const console_session_t *self)
{
    console_columns_t c;
    console_decimate_columns(self ? self->dec : NULL, &c);
    return console_frame_size(&c, self && s_delta(self, &c));
}

int
console_session_encode(console_session_t *self, double now, uint8_t *dst, size_t cap, size_t *len)
{
    if (!console_session_frame_due(self, now))
        return EZSHM_ERR_INVAL;
    console_columns_t c;
    console_decimate_columns(self->dec, &c);
    console_frame_ids_t ids = {self->id, self->sequence, self->paused ? CONSOLE_FRAME_PAUSED : 0,
                               s_delta(self, &c)};
    int rc = console_frame_encode(&c, &ids, dst, cap, len);
    if (rc != EZSHM_OK)
        return rc;
    console_decimate_clean(self->dec);
    self->sent_geometry = c.geometry;
    self->sequence++;
    self->awaiting = true;
    self->last_sent = now;
    self->last_changes = c.changes;
    self->frozen_due = false;
    return EZSHM_OK;
}
