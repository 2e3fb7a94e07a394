/* The code the librdkafka load generators share: see rdkafka-bench.h. */
#define _GNU_SOURCE
#include "rdkafka-bench.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------- */
/* Small utilities                                                                          */

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", generator.name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

double cpu_seconds(double *user, double *sys) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return *user + *sys;
}

void cpu_start(struct cpu_window *w) { cpu_seconds(&w->user0, &w->sys0); }

void cpu_stop(struct cpu_window *w) {
    double u, s;
    cpu_seconds(&u, &s);
    w->user = u - w->user0;
    w->sys = s - w->sys0;
}

/* ---------------------------------------------------------------------------------------- */
/* Percentiles                                                                              */

void print_percentiles(const char *name, struct percentiles p) {
    printf(",\"%s\":{\"count\":%" PRIu64 ",\"p50\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 "}", name, p.count, p.p50,
           p.p99, p.p999, p.max);
}

/* The middle of a bucket's range, so errors are symmetric. */
static uint64_t bucket_value(unsigned b) {
    if (b < 2 * SUB_COUNT) return b;
    unsigned shift = b / SUB_COUNT - 1;
    uint64_t low = (uint64_t)(SUB_COUNT + b % SUB_COUNT) << shift;
    return low + ((1ull << shift) >> 1);
}

static uint64_t hist_quantile(const struct histogram *h, double q) {
    if (h->total == 0) return 0;
    uint64_t rank = (uint64_t)(q * (double)h->total);
    if (rank >= h->total) rank = h->total - 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < BUCKETS; b++) {
        seen += h->counts[b];
        if (seen > rank) return bucket_value(b) < h->max ? bucket_value(b) : h->max;
    }
    return h->max;
}

struct percentiles hist_percentiles(const struct histogram *h) {
    return (struct percentiles){ h->total, hist_quantile(h, 0.5), hist_quantile(h, 0.99), hist_quantile(h, 0.999), h->max };
}

void sample_add(struct samples *s, uint64_t value) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("out of memory");
    }
    s->v[s->n++] = value;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t sample_quantile(const struct samples *s, double q) {
    if (s->n == 0) return 0;
    size_t rank = (size_t)(q * (double)s->n);
    return s->v[rank >= s->n ? s->n - 1 : rank];
}

struct percentiles samples_percentiles(struct samples *s) {
    qsort(s->v, s->n, sizeof *s->v, cmp_u64);
    return (struct percentiles){ s->n, sample_quantile(s, 0.5), sample_quantile(s, 0.99), sample_quantile(s, 0.999), s->n ? s->v[s->n - 1] : 0 };
}

/* ---------------------------------------------------------------------------------------- */
/* Options                                                                                  */

uint64_t parse_u64(const char *name, const char *s) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s) die("%s: not a number: %s", name, s);
    return (uint64_t)v;
}

void parse_options(int argc, char **argv, const char *usage, struct common_options *c, extra_option_fn extra, void *own) {
    if (argc < 2) die("usage: %s", usage);
    *c = (struct common_options){ .mode = argv[1], .linger_ms = "5", .consumers = 1 };
    for (int i = 2; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) die("%s needs a value", k);
        if (!strcmp(k, "--bootstrap")) c->bootstrap = v;
        else if (!strcmp(k, "--topic")) c->topic = v;
        else if (!strcmp(k, "--count")) c->count = parse_u64(k, v);
        else if (!strcmp(k, "--size")) c->size = parse_u64(k, v);
        else if (!strcmp(k, "--linger-ms")) c->linger_ms = v;
        else if (!strcmp(k, "--consumers")) c->consumers = parse_u64(k, v);
        else if (!strcmp(k, "--set")) {
            if (c->n_settings == MAX_SETTINGS || !strchr(v, '=')) die("--set takes key=value, at most %d times", MAX_SETTINGS);
            c->settings[c->n_settings++] = v;
        }
        else if (!extra(own, k, v)) die("unknown option %s", k);
    }
}

void require_topic(const struct common_options *c) {
    if (!c->bootstrap || !c->topic || !c->count) die("--bootstrap, --topic and --count are required");
}

/* ---------------------------------------------------------------------------------------- */
/* Kafka helpers                                                                            */

void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) die("%s=%s: %s", key, value, err);
}

/* Client-level errors (connection refused, broker down) would otherwise only be logged. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    (void)opaque;
    fprintf(stderr, "%s: librdkafka error %s: %s\n", generator.name, rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) exit(1);
}

rd_kafka_conf_t *client_conf(const struct common_options *c) {
    require_topic(c);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", c->bootstrap);
    set(conf, "client.id", generator.client_id);
    /* As the Java client does: Nagle would hold back small requests (the paced run's latency). */
    set(conf, "socket.nagle.disable", "true");
    /* Frames up to the largest fetch the consumer asks for, plus headers. */
    set(conf, "receive.message.max.bytes", "200000000");
    for (int i = 0; i < c->n_settings; i++) {
        char key[256];
        const char *eq = strchr(c->settings[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - c->settings[i]), c->settings[i]);
        set(conf, key, eq + 1);
    }
    rd_kafka_conf_set_error_cb(conf, on_error);
    return conf;
}

int wait_for_topic(rd_kafka_t *rk, const char *topic) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    for (int attempt = 0; attempt < 100; attempt++) {
        const struct rd_kafka_metadata *md;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            int partitions = 0;
            if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                partitions = md->topics[0].partition_cnt;
                for (int i = 0; i < md->topics[0].partition_cnt; i++)
                    if (md->topics[0].partitions[i].leader < 0) partitions = 0;
            }
            rd_kafka_metadata_destroy(md);
            if (partitions > 0) {
                rd_kafka_topic_destroy(rkt);
                return partitions;
            }
        }
        usleep(100 * 1000);
    }
    die("topic %s did not appear", topic);
}

/* ---------------------------------------------------------------------------------------- */
/* produce                                                                                  */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    struct deliveries *d = opaque;
    if (m->err) {
        if (!d->failed++) d->first_error = m->err;
        return;
    }
    d->delivered++;
    if (d->latency_us) hist_add(d->latency_us, (now_ns() - (uint64_t)(uintptr_t)m->_private) / 1000);
}

rd_kafka_conf_t *producer_conf(const struct common_options *c, const char *batch_bytes, struct deliveries *d) {
    if (!c->size) die("--size is required");
    rd_kafka_conf_t *conf = client_conf(c);
    set(conf, "linger.ms", c->linger_ms);
    set(conf, "batch.size", batch_bytes);
    set(conf, "batch.num.messages", "1000000");
    set(conf, "message.max.bytes", "2000000");
    set(conf, "queue.buffering.max.messages", "1000000");
    set(conf, "queue.buffering.max.kbytes", "1048576");
    set(conf, "compression.codec", "none");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, d);
    return conf;
}

char *make_payload(const struct common_options *c) {
    char *payload = malloc(c->size);
    if (!payload) die("out of memory");
    for (uint64_t i = 0; i < c->size; i++) payload[i] = (char)('a' + i % 26);
    return payload;
}

void print_produce_result(const struct common_options *c, int partitions, const struct deliveries *d, double seconds, const struct cpu_window *cpu) {
    printf("{\"mode\":\"produce\",\"topic\":\"%s\",\"partitions\":%d,\"size\":%" PRIu64 ",\"msgs\":%" PRIu64 ",\"failed\":%" PRIu64
           ",\"firstError\":%s%s%s,\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"cpuUserSeconds\":%.3f,\"cpuSystemSeconds\":%.3f",
           c->topic, partitions, c->size, d->delivered, d->failed, d->failed ? "\"" : "", d->failed ? rd_kafka_err2name(d->first_error) : "null",
           d->failed ? "\"" : "", d->delivered * c->size, seconds, cpu->user, cpu->sys);
}

/* ---------------------------------------------------------------------------------------- */
/* consume                                                                                  */

#define CONSUME_BATCH 10000
#define MAX_CONSUMERS 64

/*
 * State shared by the consumer threads. One librdkafka consumer parses every fetched record
 * on one broker thread, which caps it near a core; several consumers, each with its own share
 * of the partitions, keep the load generator from being what is measured.
 */
struct consume_shared {
    const struct common_options *c;
    const char *fetch_bytes;
    const char *isolation;
    int partitions;
    int consumers;
    pthread_barrier_t ready;
    uint64_t t0;
    struct cpu_window cpu;
    _Atomic uint64_t msgs, bytes, errors;
    _Atomic uint64_t done_ns;
};

struct consumer_arg {
    struct consume_shared *shared;
    int index;
};

static rd_kafka_t *new_consumer(const struct consume_shared *sh) {
    rd_kafka_conf_t *conf = client_conf(sh->c);
    set(conf, "group.id", generator.client_id);
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.auto.offset.store", "false");
    set(conf, "auto.offset.reset", "earliest");
    if (sh->isolation) set(conf, "isolation.level", sh->isolation);
    set(conf, "fetch.max.bytes", sh->fetch_bytes);
    set(conf, "max.partition.fetch.bytes", sh->fetch_bytes);
    set(conf, "fetch.wait.max.ms", "100");
    /* Prefetch deep enough that the broker never waits on us between fetches. */
    set(conf, "queued.min.messages", "10000000");
    set(conf, "queued.max.messages.kbytes", "1048576");
    set(conf, "check.crcs", "false");
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) die("consumer: %s", err);
    return rk;
}

/* The first thread to see the target reached stops the clocks for everyone. */
static void finish_consume(struct consume_shared *sh) {
    uint64_t expected = 0, t = now_ns();
    if (atomic_compare_exchange_strong(&sh->done_ns, &expected, t)) cpu_stop(&sh->cpu);
}

static void *consumer_thread(void *p) {
    struct consumer_arg *arg = p;
    struct consume_shared *sh = arg->shared;
    const struct common_options *c = sh->c;
    rd_kafka_t *rk = new_consumer(sh);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(sh->partitions);
    for (int part = arg->index; part < sh->partitions; part += sh->consumers)
        rd_kafka_topic_partition_list_add(list, c->topic, part)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t **batch = malloc(CONSUME_BATCH * sizeof *batch);
    if (!queue || !batch) die("consumer queue");

    /* Set-up is done before the clock starts; the second wait lets the main thread start it. */
    pthread_barrier_wait(&sh->ready);
    pthread_barrier_wait(&sh->ready);
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
    if (e) die("assign: %s", rd_kafka_err2str(e));
    uint64_t last_progress = now_ns();
    while (atomic_load(&sh->msgs) < c->count) {
        ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch, CONSUME_BATCH);
        if (n < 0) die("consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
        uint64_t msgs = 0, bytes = 0;
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = batch[i];
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                msgs++;
                bytes += m->len;
            } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (atomic_fetch_add(&sh->errors, 1) == 0) fprintf(stderr, "%s: consume error: %s\n", generator.name, rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        }
        uint64_t t = now_ns();
        if (msgs > 0) {
            last_progress = t;
            atomic_fetch_add(&sh->bytes, bytes);
            if (atomic_fetch_add(&sh->msgs, msgs) + msgs >= c->count) finish_consume(sh);
        } else if (t - last_progress > 30ull * 1000000000u) {
            die("no records for 30 s after %" PRIu64 " of %" PRIu64, atomic_load(&sh->msgs), c->count);
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_queue_destroy(queue);
    free(batch);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

int run_consume(const struct common_options *c, const char *fetch_bytes, const char *isolation) {
    require_topic(c);
    struct consume_shared *sh = calloc(1, sizeof *sh);
    if (!sh) die("out of memory");
    sh->c = c;
    sh->fetch_bytes = fetch_bytes;
    sh->isolation = isolation;
    {
        rd_kafka_t *rk = new_consumer(sh);
        sh->partitions = wait_for_topic(rk, c->topic);
        rd_kafka_destroy(rk);
    }
    if (c->consumers < 1) die("--consumers must be at least 1");
    sh->consumers = c->consumers < (uint64_t)sh->partitions ? (int)c->consumers : sh->partitions;
    if (sh->consumers > MAX_CONSUMERS) die("at most %d consumers", MAX_CONSUMERS);
    pthread_barrier_init(&sh->ready, NULL, (unsigned)sh->consumers + 1);
    pthread_t threads[MAX_CONSUMERS];
    struct consumer_arg args[MAX_CONSUMERS];
    for (int i = 0; i < sh->consumers; i++) {
        args[i] = (struct consumer_arg){ sh, i };
        if (pthread_create(&threads[i], NULL, consumer_thread, &args[i])) die("pthread_create");
    }
    pthread_barrier_wait(&sh->ready);
    cpu_start(&sh->cpu);
    sh->t0 = now_ns();
    pthread_barrier_wait(&sh->ready);
    for (int i = 0; i < sh->consumers; i++) pthread_join(threads[i], NULL);
    double seconds = (double)(atomic_load(&sh->done_ns) - sh->t0) / 1e9;

    printf("{\"mode\":\"consume\",\"topic\":\"%s\"", c->topic);
    if (isolation) printf(",\"isolation\":\"%s\"", isolation);
    printf(",\"partitions\":%d,\"consumers\":%d,\"msgs\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"errors\":%" PRIu64
           ",\"seconds\":%.6f,\"cpuUserSeconds\":%.3f,\"cpuSystemSeconds\":%.3f}\n",
           sh->partitions, sh->consumers, atomic_load(&sh->msgs), atomic_load(&sh->bytes), atomic_load(&sh->errors), seconds, sh->cpu.user,
           sh->cpu.sys);
    pthread_barrier_destroy(&sh->ready);
    free(sh);
    return 0;
}
