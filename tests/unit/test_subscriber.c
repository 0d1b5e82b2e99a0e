/*  test_subscriber.c — the SUB socket: topic prefixes, whole messages, live resubscription,
    status, refused endpoints. A czmq PUB in the same process talks to it over inproc://. */
#include "subscriber.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_FRAMES 4

static void
s_settings(settings_t *s, const char *endpoint, const char *topic)
{
    settings_defaults(s);
    s->sub_bind.count = 1;
    snprintf(s->sub_bind.item[0], sizeof s->sub_bind.item[0], "%s", endpoint);
    s->topic.count = topic ? 1 : 0;
    if (topic)
        snprintf(s->topic.item[0], sizeof s->topic.item[0], "%s", topic);
}

/*  Publishes [topic, "payload"] every 10 ms until the subscriber returns a message of that
    topic (the subscription takes a moment to reach the PUB; messages of earlier exchanges
    still in flight are skipped) or 2 s passed; returns its first frame as text in got ("" when
    none came) and its frame count. */
static size_t
s_exchange(subscriber_t *sub, zsock_t *pub, const char *topic, char *got, size_t size)
{
    wire_frame_t frames[MAX_FRAMES];
    size_t n = 0;
    got[0] = '\0';
    struct pollfd pfd = {subscriber_fd(sub), POLLIN, 0};
    for (int i = 0; i < 200; i++) {
        zstr_sendx(pub, topic, "payload", NULL);
        poll(&pfd, 1, 10);
        while (subscriber_recv(sub, frames, MAX_FRAMES, &n) == 1)
            if (frames[0].size == strlen(topic) && memcmp(frames[0].data, topic, frames[0].size) == 0) {
                snprintf(got, size, "%s", topic);
                return n;
            }
    }
    return 0;
}

static void
s_drain(subscriber_t *sub)
{
    wire_frame_t frames[MAX_FRAMES];
    size_t n;
    while (subscriber_recv(sub, frames, MAX_FRAMES, &n) == 1)
        ;
}

Test(subscriber, topic_prefix_whole_messages_and_resubscription)
{
    char endpoint[64], err[256] = "", got[64];
    snprintf(endpoint, sizeof endpoint, "inproc://test-subscriber-%d", (int) getpid());
    settings_t s;
    s_settings(&s, endpoint, "alpha");
    subscriber_t *sub = subscriber_new(&s, err, sizeof err);
    cr_assert_not_null(sub, "%s", err);
    zsock_t *pub = zsock_new(ZMQ_PUB);
    cr_assert_not_null(pub);
    cr_assert_eq(zsock_connect(pub, "%s", endpoint), 0);

    cr_expect_eq(s_exchange(sub, pub, "alpha.1", got, sizeof got), 2, "a 2-frame message, whole");
    cr_expect_str_eq(got, "alpha.1");
    s_drain(sub);
    cr_expect_eq(s_exchange(sub, pub, "beta", got, sizeof got), 0, "not subscribed to beta");

    /*  More frames than the caller's array: reported as the array's size, so the decoder
        rejects the message instead of reading a truncated one. */
    zstr_sendx(pub, "alpha.5", "b", "c", "d", "e", NULL);
    wire_frame_t frames[MAX_FRAMES];
    size_t n = 0;
    struct pollfd pfd = {subscriber_fd(sub), POLLIN, 0};
    bool five = false;
    for (int i = 0; i < 200 && !five; i++) {
        poll(&pfd, 1, 10);
        while (!five && subscriber_recv(sub, frames, MAX_FRAMES, &n) == 1)
            five = frames[0].size == 7 && memcmp(frames[0].data, "alpha.5", 7) == 0;
    }
    cr_assert(five, "the 5-frame message never came");
    cr_expect_eq(n, MAX_FRAMES);

    settings_t next = s;
    snprintf(next.topic.item[0], sizeof next.topic.item[0], "beta");
    cr_assert_eq(subscriber_update(sub, &next, err, sizeof err), 0, "%s", err);
    s_drain(sub);
    cr_expect_eq(s_exchange(sub, pub, "beta", got, sizeof got), 2, "beta after the update");
    cr_expect_str_eq(got, "beta");

    cJSON *status = cJSON_CreateObject();
    subscriber_status(sub, status);
    const cJSON *topics = cJSON_GetObjectItemCaseSensitive(status, "topics");
    cr_expect_eq(cJSON_GetArraySize(topics), 1);
    cr_expect_str_eq(cJSON_GetArrayItem(topics, 0)->valuestring, "beta");
    const cJSON *bind = cJSON_GetObjectItemCaseSensitive(status, "bind");
    cr_expect_str_eq(cJSON_GetArrayItem(bind, 0)->valuestring, endpoint);
    cJSON_Delete(status);

    zsock_destroy(&pub);
    subscriber_destroy(&sub);
    cr_expect_null(sub);
    subscriber_destroy(&sub);
    subscriber_destroy(NULL);
}

Test(subscriber, refused_endpoint_is_one_line)
{
    char err[256] = "";
    settings_t s;
    s_settings(&s, "tcp://256.0.0.1:1", NULL);
    cr_expect_null(subscriber_new(&s, err, sizeof err));
    cr_expect_neq(strstr(err, "tcp://256.0.0.1:1"), NULL, "%s", err);
    cr_expect_null(strchr(err, '\n'));
}
