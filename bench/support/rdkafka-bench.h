/*
 * What the librdkafka load generators share: bench/broker/loadgen.c (the broker, partitions and
 * cluster benchmarks) and bench/transactions/txngen.c (the transactions benchmark). Each is
 * compiled together with rdkafka-bench.c (bench/support/rdkafka-bench.ts builds them).
 *
 * Errors and clocks, CPU windows, percentiles, the options both take, librdkafka client
 * settings, waiting for a topic, producing and counting delivery reports, the JSON a produce
 * run starts its line with, and the whole consume run (threads reading a topic from its start).
 */
#ifndef SLUICE_RDKAFKA_BENCH_H
#define SLUICE_RDKAFKA_BENCH_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Which generator this is; each defines it. */
struct generator {
    /* The prefix of its messages on stderr. */
    const char *name;
    /* Its clients' client.id, and its consumers' group.id (assign() needs no group, but librdkafka wants one set). */
    const char *client_id;
};

extern const struct generator generator;

/* ---------------------------------------------------------------------------------------- */
/* Small utilities                                                                          */

__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* This process's CPU time so far (getrusage(RUSAGE_SELF): librdkafka's threads included). */
double cpu_seconds(double *user, double *sys);

/* CPU used between two points: the part of this process's cost that belongs to the run. */
struct cpu_window {
    double user0, sys0, user, sys;
};

void cpu_start(struct cpu_window *w);
void cpu_stop(struct cpu_window *w);

/* ---------------------------------------------------------------------------------------- */
/* Percentiles                                                                              */

struct percentiles {
    uint64_t count, p50, p99, p999, max;
};

/* Prints `,"name":{"count":…,"p50":…,"p99":…,"p999":…,"max":…}`, a field of a JSON line. */
void print_percentiles(const char *name, struct percentiles p);

/*
 * Log-linear buckets: exact below 128 µs, then 64 buckets per power of two (at most 1.6%
 * relative error). Constant memory whatever the message count, and recording is a few
 * instructions, which matters at a million delivery reports a second.
 */
#define SUB_BITS 6
#define SUB_COUNT (1u << SUB_BITS)
#define BUCKETS ((64 - SUB_BITS) * SUB_COUNT + SUB_COUNT)

struct histogram {
    uint64_t counts[BUCKETS];
    uint64_t total;
    uint64_t max;
};

static inline unsigned bucket_of(uint64_t v) {
    if (v < 2 * SUB_COUNT) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - SUB_BITS;
    return (shift + 1) * SUB_COUNT + (unsigned)((v >> shift) - SUB_COUNT);
}

static inline void hist_add(struct histogram *h, uint64_t v) {
    h->counts[bucket_of(v)]++;
    h->total++;
    if (v > h->max) h->max = v;
}

struct percentiles hist_percentiles(const struct histogram *h);

/* Whole values, for a few (at most one per transaction), sorted when asked for percentiles. */
struct samples {
    uint64_t *v;
    size_t n, cap;
};

void sample_add(struct samples *s, uint64_t value);
struct percentiles samples_percentiles(struct samples *s);

/* ---------------------------------------------------------------------------------------- */
/* Options                                                                                  */

#define MAX_SETTINGS 16

/* The options both generators take. */
struct common_options {
    const char *mode;
    const char *bootstrap;
    const char *topic;
    uint64_t count;
    uint64_t size;
    const char *linger_ms;
    uint64_t consumers;
    /* --set key=value, repeatable: more librdkafka settings (security.protocol=ssl...). */
    const char *settings[MAX_SETTINGS];
    int n_settings;
};

uint64_t parse_u64(const char *name, const char *s);

/*
 * An option parse_options does not know: returns 0 when the generator does not know it either.
 * Its own defaults are set before parse_options is called.
 */
typedef int (*extra_option_fn)(void *own, const char *key, const char *value);

/*
 * Parses `MODE --option value...` into `c` (--linger-ms 5 and one consumer unless given),
 * handing the options it does not know to `extra` with `own`.
 */
void parse_options(int argc, char **argv, const char *usage, struct common_options *c, extra_option_fn extra, void *own);

/* --bootstrap, --topic and --count, which the Kafka modes need. */
void require_topic(const struct common_options *c);

/* ---------------------------------------------------------------------------------------- */
/* Kafka helpers                                                                            */

void set(rd_kafka_conf_t *conf, const char *key, const char *value);

/* A client of c->bootstrap, named generator.client_id, that fails on the errors a run cannot survive. */
rd_kafka_conf_t *client_conf(const struct common_options *c);

/*
 * Waits until the topic has partitions with leaders, and returns how many. Asking for its
 * metadata also creates it on a broker with auto.create.topics.enable, so timing starts with
 * the topic in place.
 */
int wait_for_topic(rd_kafka_t *rk, const char *topic);

/* ---------------------------------------------------------------------------------------- */
/* produce                                                                                  */

struct deliveries {
    uint64_t delivered;
    uint64_t failed;
    rd_kafka_resp_err_t first_error;
    /*
     * When set, each delivered record's latency in microseconds: the produce time travels in
     * the message's opaque pointer (produce_one's `stamp`), so no per-message bookkeeping is
     * needed; the delivery report arrives on the thread that calls rd_kafka_poll.
     */
    struct histogram *latency_us;
};

/*
 * A producer's settings: batches of up to `batch_bytes` after c->linger_ms, enough queued to
 * keep the pipe full without letting the backlog grow to gigabytes, no compression; delivery
 * reports counted in `d`. acks and idempotence are the caller's.
 */
rd_kafka_conf_t *producer_conf(const struct common_options *c, const char *batch_bytes, struct deliveries *d);

/* c->size bytes that every record points at: librdkafka does not copy it (no MSG_F_COPY). */
char *make_payload(const struct common_options *c);

/*
 * Queues one record, serving delivery reports while librdkafka's queue is full. With `stamp`
 * the record carries the time of the call that queued it, for deliveries.latency_us.
 */
static inline void produce_one(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition, char *payload, size_t size, int stamp) {
    for (;;) {
        void *sent_at = stamp ? (void *)(uintptr_t)now_ns() : NULL;
        if (rd_kafka_produce(rkt, partition, 0, payload, size, NULL, 0, sent_at) == 0) return;
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(rk, 1);
    }
}

/*
 * Prints the start of a produce run's JSON line, what both generators report; the caller adds
 * its own fields and ends the line with "}\n".
 */
void print_produce_result(const struct common_options *c, int partitions, const struct deliveries *d, double seconds, const struct cpu_window *cpu);

/* ---------------------------------------------------------------------------------------- */
/* consume                                                                                  */

/*
 * Reads c->topic from its start until c->count records have come, with up to c->consumers
 * librdkafka consumers (threads), each with its share of the partitions, and prints one JSON
 * line. `isolation` sets isolation.level (and is reported) unless NULL.
 */
int run_consume(const struct common_options *c, const char *fetch_bytes, const char *isolation);

#endif
