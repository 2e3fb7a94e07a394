/*
 * Load generator for Redis Streams in the peers benchmark (bench/peers.ts), on hiredis: the C
 * counterpart of the librdkafka generator (bench/broker/loadgen.c) that drives Sluice, so both
 * servers see a client that costs them as little as C can.
 *
 *   redis-loadgen produce --bootstrap H:P --topic STREAM --count N --size S [--window 1000] [--rate MSGS_PER_SEC]
 *                         [--max-seconds 0]
 *   redis-loadgen consume --bootstrap H:P --topic STREAM --count N [--batch 10000]
 *
 * produce pipelines XADD STREAM * v PAYLOAD with up to --window commands in flight (Redis's own
 * way to batch); with --rate each command is sent at its slot whatever is still in flight, as
 * librdkafka does with linger.ms=0, and timed from its send to its reply; with --max-seconds it
 * stops sending then, short of --count, and reports what was stored. consume reads the
 * stream from its start with XREAD COUNT --batch. Each prints one JSON line in the shape of
 * loadgen's (the percentiles, options and CPU windows are bench/support/rdkafka-bench.c's).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/rdkafka-bench.h"

const struct generator generator = { .name = "redis-loadgen", .client_id = "sluice-bench" };

struct options {
    struct common_options c;
    uint64_t window;
    double rate;
    uint64_t batch;
    uint64_t max_seconds;
};

static int own_option(void *own, const char *k, const char *v) {
    struct options *o = own;
    if (!strcmp(k, "--window")) o->window = parse_u64(k, v);
    else if (!strcmp(k, "--rate")) o->rate = (double)parse_u64(k, v);
    else if (!strcmp(k, "--batch")) o->batch = parse_u64(k, v);
    else if (!strcmp(k, "--max-seconds")) o->max_seconds = parse_u64(k, v);
    else return 0;
    return 1;
}

static redisContext *connect_to(const struct common_options *c) {
    require_topic(c);
    const char *colon = strrchr(c->bootstrap, ':');
    if (!colon) die("--bootstrap must be host:port");
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(colon - c->bootstrap), c->bootstrap);
    /* hiredis sets TCP_NODELAY on TCP connections, as the Kafka generator does. */
    redisContext *r = redisConnect(host, (int)parse_u64("port", colon + 1));
    if (!r || r->err) die("connect %s: %s", c->bootstrap, r ? r->errstr : "out of memory");
    return r;
}

/* One reply already in the reader (or NULL); an error reply or a broken connection ends the run. */
static redisReply *next_buffered(redisContext *r) {
    void *reply = NULL;
    if (redisGetReplyFromReader(r, &reply) != REDIS_OK) die("reply: %s", r->errstr);
    redisReply *rr = reply;
    if (rr && rr->type == REDIS_REPLY_ERROR) die("server error: %s", rr->str);
    return rr;
}

static void flush_writes(redisContext *r) {
    int done = 0;
    while (!done)
        if (redisBufferWrite(r, &done) != REDIS_OK) die("write: %s", r->errstr);
}

/* Waits up to `timeout_ns` (forever when negative) for replies, and reads what has come. */
static void read_some(redisContext *r, int64_t timeout_ns) {
    struct pollfd p = { .fd = r->fd, .events = POLLIN };
    struct timespec ts = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    int n = ppoll(&p, 1, timeout_ns < 0 ? NULL : &ts, NULL);
    if (n < 0 && errno != EINTR) die("poll: %s", strerror(errno));
    if (n > 0 && redisBufferRead(r) != REDIS_OK) die("read: %s", r->errstr);
}

static int run_stream_produce(const struct options *o) {
    const struct common_options *c = &o->c;
    if (!c->size) die("--size is required");
    redisContext *r = connect_to(c);
    char *payload = make_payload(c);
    const char *argv[] = { "XADD", c->topic, "*", "v", payload };
    size_t lens[] = { 4, strlen(c->topic), 1, 1, c->size };
    char *cmd;
    int cmd_len = redisFormatCommandArgv(&cmd, 5, argv, lens);
    if (cmd_len < 0) die("out of memory");

    /* Send times of the commands in flight, in order: replies come back in the order sent. */
    uint64_t *sent_at = malloc(c->count * sizeof *sent_at);
    struct histogram *latency_us = calloc(1, sizeof *latency_us);
    if (!sent_at || !latency_us) die("out of memory");
    double interval_ns = o->rate > 0 ? 1e9 / o->rate : 0;

    struct cpu_window cpu;
    cpu_start(&cpu);
    uint64_t t0 = now_ns(), sent = 0, acked = 0, target = c->count;
    uint64_t deadline = o->max_seconds ? t0 + o->max_seconds * 1000000000u : UINT64_MAX;
    while (acked < target) {
        if (sent < target && now_ns() > deadline) target = sent;
        if (interval_ns > 0) {
            uint64_t due = t0 + (uint64_t)((double)sent * interval_ns);
            uint64_t now = now_ns();
            if (sent < target && now >= due) {
                if (redisAppendFormattedCommand(r, cmd, (size_t)cmd_len) != REDIS_OK) die("append: %s", r->errstr);
                sent_at[sent++] = now_ns();
                flush_writes(r);
                continue;
            }
            read_some(r, sent < target ? (int64_t)(due - now) : -1);
        } else {
            while (sent < target && sent - acked < o->window) {
                if (redisAppendFormattedCommand(r, cmd, (size_t)cmd_len) != REDIS_OK) die("append: %s", r->errstr);
                sent_at[sent++] = now_ns();
            }
            flush_writes(r);
            read_some(r, -1);
        }
        for (redisReply *reply; (reply = next_buffered(r)) != NULL; acked++) {
            hist_add(latency_us, (now_ns() - sent_at[acked]) / 1000);
            freeReplyObject(reply);
        }
    }
    double seconds = (double)(now_ns() - t0) / 1e9;
    cpu_stop(&cpu);

    struct deliveries d = { .delivered = acked };
    print_produce_result(c, 1, &d, seconds, &cpu);
    print_percentiles("latencyUs", hist_percentiles(latency_us));
    printf("}\n");
    redisFreeCommand(cmd);
    free(sent_at);
    free(latency_us);
    free(payload);
    redisFree(r);
    return 0;
}

static int run_stream_consume(const struct options *o) {
    const struct common_options *c = &o->c;
    redisContext *r = connect_to(c);
    char last_id[64] = "0-0", batch[32];
    snprintf(batch, sizeof batch, "%" PRIu64, o->batch);
    uint64_t msgs = 0, bytes = 0;

    struct cpu_window cpu;
    cpu_start(&cpu);
    uint64_t t0 = now_ns();
    while (msgs < c->count) {
        const char *argv[] = { "XREAD", "COUNT", batch, "STREAMS", c->topic, last_id };
        redisReply *reply = redisCommandArgv(r, 6, argv, NULL);
        if (!reply) die("XREAD: %s", r->errstr);
        if (reply->type == REDIS_REPLY_ERROR) die("XREAD: %s", reply->str);
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1) die("XREAD: stream %s ended after %" PRIu64 " entries", c->topic, msgs);
        /* [[stream, [[id, [field, value]], ...]]] */
        redisReply *entries = reply->element[0]->element[1];
        for (size_t i = 0; i < entries->elements; i++) {
            redisReply *fields = entries->element[i]->element[1];
            for (size_t f = 1; f < fields->elements; f += 2) bytes += fields->element[f]->len;
        }
        msgs += entries->elements;
        redisReply *last = entries->element[entries->elements - 1]->element[0];
        snprintf(last_id, sizeof last_id, "%.*s", (int)last->len, last->str);
        freeReplyObject(reply);
    }
    double seconds = (double)(now_ns() - t0) / 1e9;
    cpu_stop(&cpu);

    printf("{\"mode\":\"consume\",\"topic\":\"%s\",\"partitions\":1,\"consumers\":1,\"msgs\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"errors\":0,\"seconds\":%.6f,\"cpuUserSeconds\":%.3f,\"cpuSystemSeconds\":%.3f}\n",
           c->topic, msgs, bytes, seconds, cpu.user, cpu.sys);
    redisFree(r);
    return 0;
}

int main(int argc, char **argv) {
    struct options o = { .window = 1000, .batch = 10000 };
    parse_options(argc, argv, "redis-loadgen produce|consume [--option value]...", &o.c, own_option, &o);
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(o.c.mode, "produce")) return run_stream_produce(&o);
    if (!strcmp(o.c.mode, "consume")) return run_stream_consume(&o);
    die("unknown mode %s (produce or consume)", o.c.mode);
}
