/*  web_console.c — see web_console.h. */
#include "web_console.h"
#include "console_session.h"
#include "ezshm.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUMP_BUDGET 65536          /* frames per pump call: bounds the time the lock is held  */
#define WAIT_MS 50                 /* longest sleep: a new subscription is seen within it      */
#define IDLE_MS 200                /* no mirror to sleep on: the receive signal wakes us first */

struct _web_console_conn_t {
    web_console_t *owner;
    struct lws *wsi;               /* NULL once lws closed it: the pump thread frees it  */
    console_session_t *session;
    bool flagged;                  /* the pump has something for the loop to send         */
    double flag_now;               /* the turn that flagged it (the frame's send time), 0  */
    char msg[CONSOLE_MESSAGE_MAX + 1];   /* the browser message being collected (lws thread) */
    size_t msg_len;
    bool msg_binary;
    unsigned char *buf;            /* LWS_PRE + the largest message sent so far           */
    size_t cap;
};

struct _web_console_t {
    struct lws_context *ctx;
    int max;
    web_console_conn_t **conns;    /* max slots, NULL: free                               */
    ezshm_mirror_t **mirrors;      /* the pump thread's wait list                         */
    pthread_mutex_t lock;          /* every session and slot                              */
    pthread_cond_t wake;           /* a message arrived or a connection closed            */
    pthread_t thread;
    bool started, stop;
};

static void
s_free_conn(web_console_conn_t *conn)
{
    console_session_destroy(&conn->session);
    free(conn->buf);
    free(conn);
}

static bool
s_wants_write(web_console_conn_t *conn, double now)
{
    return console_session_has_text(conn->session) || console_session_frame_due(conn->session, now);
}

/*  One turn of the pump under the lock: free what lws closed, and collect what to sleep on.
    Returns the number of mirrors; *now_due when a request waits for a pump. */
static size_t
s_collect(web_console_t *self, bool *now_due)
{
    size_t n = 0;
    *now_due = false;
    for (int i = 0; i < self->max; i++) {
        web_console_conn_t *conn = self->conns[i];
        if (!conn)
            continue;
        if (!conn->wsi) {
            s_free_conn(conn);
            self->conns[i] = NULL;
            continue;
        }
        uint64_t block;
        ezshm_mirror_t *m = console_session_mirror(conn->session, &block);
        if (m)
            self->mirrors[n++] = m;
        else if (block == 0)
            *now_due = true;
    }
    return n;
}

static void
s_sleep_locked(web_console_t *self, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long) ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&self->wake, &self->lock, &until);
}

static void *
s_pump(void *arg)
{
    web_console_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stop) {
        bool now_due;
        size_t n = s_collect(self, &now_due);
        if (!now_due && n == 0)
            s_sleep_locked(self, IDLE_MS);
        else if (!now_due) {
            /*  Asleep on every stream at once, without the lock: only this thread frees a
                session's mirror, so the ones in the list stay valid. */
            pthread_mutex_unlock(&self->lock);
            ezshm_mirror_wait_any(self->mirrors, n, WAIT_MS, NULL);
            pthread_mutex_lock(&self->lock);
        }
        if (self->stop)
            break;
        bool any = false;
        double now = ezshm_time_mono();
        for (int i = 0; i < self->max; i++) {
            web_console_conn_t *conn = self->conns[i];
            if (!conn || !conn->wsi)
                continue;
            bool more;
            do
                more = console_session_pump(conn->session, PUMP_BUDGET, &more) == EZSHM_OK && more;
            while (more);
            if (!conn->flagged && s_wants_write(conn, now)) {
                any = conn->flagged = true;
                conn->flag_now = now;
            }
        }
        pthread_mutex_unlock(&self->lock);
        if (any)
            lws_cancel_service(self->ctx);
        /*  At most one turn per display frame of the fastest client: a stream at 1 kHz of
            chunks must not wake this thread a thousand times a second. Turns start at least
            1/60 s apart, and a frame counts as sent at the turn that flagged it, so a client
            at 60 frames/s gets one every turn rather than every other one. */
        double wait = now + 1.0 / CONSOLE_FPS_MAX - ezshm_time_mono();
        if (wait > 0) {
            struct timespec ts = {0, (long) (wait * 1e9)};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

int
web_console_new(struct lws_context *ctx, int max, web_console_t **out)
{
    web_console_t *self = calloc(1, sizeof *self);
    if (!self)
        return EZSHM_ERR_NOMEM;
    self->ctx = ctx;
    self->max = max;
    self->conns = calloc((size_t) max, sizeof *self->conns);
    self->mirrors = calloc((size_t) max, sizeof *self->mirrors);
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->wake, NULL);
    if (!self->conns || !self->mirrors) {
        web_console_destroy(&self);
        return EZSHM_ERR_NOMEM;
    }
    if (pthread_create(&self->thread, NULL, s_pump, self) != 0) {
        web_console_destroy(&self);
        return EZSHM_ERR_NOMEM;
    }
    self->started = true;
    *out = self;
    return EZSHM_OK;
}

void
web_console_destroy(web_console_t **self_p)
{
    web_console_t *self = *self_p;
    if (!self)
        return;
    if (self->started) {
        pthread_mutex_lock(&self->lock);
        self->stop = true;
        pthread_cond_signal(&self->wake);
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->thread, NULL);
    }
    for (int i = 0; self->conns && i < self->max; i++)
        if (self->conns[i])
            s_free_conn(self->conns[i]);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self->conns);
    free(self->mirrors);
    free(self);
    *self_p = NULL;
}

int
web_console_clients(web_console_t *self)
{
    int n = 0;
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->max; i++)
        n += self->conns[i] != NULL;
    pthread_mutex_unlock(&self->lock);
    return n;
}

int
web_console_open(web_console_t *self, struct lws *wsi, web_console_conn_t **out)
{
    web_console_conn_t *conn = calloc(1, sizeof *conn);
    if (!conn || console_session_new(NULL, NULL, &conn->session) != EZSHM_OK) {
        free(conn);
        return -1;
    }
    conn->owner = self;
    conn->wsi = wsi;
    pthread_mutex_lock(&self->lock);
    int slot = -1;
    for (int i = 0; i < self->max && slot < 0; i++)
        if (!self->conns[i])
            slot = i;
    if (slot >= 0)
        self->conns[slot] = conn;
    pthread_mutex_unlock(&self->lock);
    if (slot < 0) {
        s_free_conn(conn);
        return -1;
    }
    *out = conn;
    return 0;
}

void
web_console_receive(web_console_conn_t *conn, const void *in, size_t len, bool first, bool final, bool binary)
{
    if (first) {
        conn->msg_len = 0;
        conn->msg_binary = binary;
    }
    /*  One byte beyond the limit is kept: the session then answers too_big. */
    size_t room = sizeof conn->msg - conn->msg_len;
    size_t take = len < room ? len : room;
    memcpy(conn->msg + conn->msg_len, in, take);
    conn->msg_len += take;
    if (!final)
        return;
    web_console_t *self = conn->owner;
    pthread_mutex_lock(&self->lock);
    /*  A binary message is no JSON text: the session answers bad_json. */
    console_session_receive(conn->session, conn->msg_binary ? NULL : conn->msg, conn->msg_binary ? 0 : conn->msg_len);
    bool write = s_wants_write(conn, ezshm_time_mono());
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    conn->msg_len = 0;
    if (write)
        lws_callback_on_writable(conn->wsi);
}

/*  conn->buf holds at least LWS_PRE + n bytes; false when it cannot. */
static bool
s_reserve(web_console_conn_t *conn, size_t n)
{
    if (conn->cap >= LWS_PRE + n)
        return true;
    unsigned char *grown = realloc(conn->buf, LWS_PRE + n);
    if (!grown)
        return false;
    conn->buf = grown;
    conn->cap = LWS_PRE + n;
    return true;
}

int
web_console_writable(web_console_conn_t *conn)
{
    web_console_t *self = conn->owner;
    int rc = 0;
    pthread_mutex_lock(&self->lock);
    double now = conn->flag_now > 0 ? conn->flag_now : ezshm_time_mono();
    char *text = console_session_next_text(conn->session);
    if (text) {
        size_t n = strlen(text);
        if (!s_reserve(conn, n))
            rc = -1;
        else {
            memcpy(conn->buf + LWS_PRE, text, n);
            rc = lws_write(conn->wsi, conn->buf + LWS_PRE, n, LWS_WRITE_TEXT) < (int) n ? -1 : 0;
        }
        free(text);
    } else if (console_session_frame_due(conn->session, now)) {
        size_t need = console_session_frame_size(conn->session), len;
        if (!s_reserve(conn, need)
            || console_session_encode(conn->session, now, conn->buf + LWS_PRE, need, &len) != EZSHM_OK)
            rc = -1;
        else
            rc = lws_write(conn->wsi, conn->buf + LWS_PRE, len, LWS_WRITE_BINARY) < (int) len ? -1 : 0;
        conn->flag_now = 0;
    }
    bool again = rc == 0 && s_wants_write(conn, now);
    pthread_mutex_unlock(&self->lock);
    if (again)
        lws_callback_on_writable(conn->wsi);
    return rc;
}

void
web_console_close(web_console_conn_t *conn)
{
    web_console_t *self = conn->owner;
    pthread_mutex_lock(&self->lock);
    conn->wsi = NULL;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
}

void
web_console_flush(web_console_t *self)
{
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->max; i++) {
        web_console_conn_t *conn = self->conns[i];
        if (conn && conn->wsi && conn->flagged) {
            conn->flagged = false;
            lws_callback_on_writable(conn->wsi);
        }
    }
    pthread_mutex_unlock(&self->lock);
}
