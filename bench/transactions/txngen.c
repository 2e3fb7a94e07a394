/*
 * Load generator for the transactions benchmark (bench/transactions.ts), on librdkafka's
 * transactional producer and read_committed consumer.
 *
 *   txngen produce --bootstrap H:P --topic T --count N --size S --txn-records K
 *                  [--abort-every M] [--linger-ms 5] [--transactional-id ID]
 *       N records, K to a transaction (every M-th transaction aborted); K = 0: no transactions,
 *       the same records from an idempotent producer (acks=all), the baseline.
 *   txngen consume --bootstrap H:P --topic T --count N --isolation read_committed|read_uncommitted
 *                  [--consumers C]
 *       reads the topic from its start until N records have come.
 *
 * Each mode prints one JSON object on stdout. The produce mode times each commit: the
 * rd_kafka_commit_transaction call after rd_kafka_flush has delivered the transaction's records,
 * so it is EndTxn's round trip and what the coordinator does before answering it; and each
 * transaction from begin to commit. CPU figures are getrusage(RUSAGE_SELF), librdkafka's threads
 * included.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("txngen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct cpu_window {
    double user0, sys0, user, sys;
};

static void cpu_now(double *user, double *sys) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void cpu_start(struct cpu_window *w) { cpu_now(&w->user0, &w->sys0); }

static void cpu_stop(struct cpu_window *w) {
    double u, s;
    cpu_now(&u, &s);
    w->user = u - w->user0;
    w->sys = s - w->sys0;
}

/* Latencies in microseconds, kept whole (at most one per transaction) and sorted at the end. */
struct samples {
    uint64_t *v;
    size_t n, cap;
};

static void sample_add(struct samples *s, uint64_t us) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("out of memory");
    }
    s->v[s->n++] = us;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t quantile(struct samples *s, double q) {
    if (s->n == 0) return 0;
    size_t rank = (size_t)(q * (double)s->n);
    return s->v[rank >= s->n ? s->n - 1 : rank];
}

static void print_samples(const char *name, struct samples *s) {
    qsort(s->v, s->n, sizeof *s->v, cmp_u64);
    printf(",\"%s\":{\"count\":%zu,\"p50\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 "}", name, s->n, quantile(s, 0.5),
           quantile(s, 0.99), quantile(s, 0.999), s->n ? s->v[s->n - 1] : 0);
}

struct options {
    const char *mode, *bootstrap, *topic, *isolation, *linger_ms, *transactional_id;
    uint64_t count, size, txn_records, abort_every, consumers;
};

static uint64_t parse_u64(const char *name, const char *s) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s) die("%s: not a number: %s", name, s);
    return (uint64_t)v;
}

static void parse_options(int argc, char **argv, struct options *o) {
    if (argc < 2) die("usage: txngen produce|consume [--option value]...");
    *o = (struct options){ .mode = argv[1], .linger_ms = "5", .transactional_id = "sluice-bench-txn", .consumers = 1, .isolation = "read_committed" };
    for (int i = 2; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) die("%s needs a value", k);
        if (!strcmp(k, "--bootstrap")) o->bootstrap = v;
        else if (!strcmp(k, "--topic")) o->topic = v;
        else if (!strcmp(k, "--count")) o->count = parse_u64(k, v);
        else if (!strcmp(k, "--size")) o->size = parse_u64(k, v);
        else if (!strcmp(k, "--txn-records")) o->txn_records = parse_u64(k, v);
        else if (!strcmp(k, "--abort-every")) o->abort_every = parse_u64(k, v);
        else if (!strcmp(k, "--linger-ms")) o->linger_ms = v;
        else if (!strcmp(k, "--transactional-id")) o->transactional_id = v;
        else if (!strcmp(k, "--isolation")) o->isolation = v;
        else if (!strcmp(k, "--consumers")) o->consumers = parse_u64(k, v);
        else die("unknown option %s", k);
    }
    if (!o->bootstrap || !o->topic || !o->count) die("--bootstrap, --topic and --count are required");
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) die("%s=%s: %s", key, value, err);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    (void)opaque;
    fprintf(stderr, "txngen: librdkafka error %s: %s\n", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) exit(1);
}

static rd_kafka_conf_t *base_conf(const struct options *o) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", o->bootstrap);
    set(conf, "client.id", "sluice-bench-txn");
    set(conf, "socket.nagle.disable", "true");
    set(conf, "receive.message.max.bytes", "200000000");
    rd_kafka_conf_set_error_cb(conf, on_error);
    return conf;
}

static int partitions_of(rd_kafka_t *rk, const char *topic) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    for (int attempt = 0; attempt < 100; attempt++) {
        const struct rd_kafka_metadata *md;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            int n = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR ? md->topics[0].partition_cnt : 0;
            rd_kafka_metadata_destroy(md);
            if (n > 0) {
                rd_kafka_topic_destroy(rkt);
                return n;
            }
        }
        usleep(100 * 1000);
    }
    die("topic %s did not appear", topic);
    return 0;
}

/* A transactional call's error is fatal here: the benchmark runs on a healthy broker. */
static void check(rd_kafka_error_t *error, const char *what) {
    if (!error) return;
    die("%s: %s (%s)", what, rd_kafka_error_string(error), rd_kafka_error_name(error));
}

struct produce_state {
    uint64_t delivered, failed;
    rd_kafka_resp_err_t first_error;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    struct produce_state *st = opaque;
    if (m->err) {
        if (!st->failed++) st->first_error = m->err;
    } else {
        st->delivered++;
    }
}

static int run_produce(const struct options *o) {
    if (!o->size) die("--size is required");
    int transactional = o->txn_records > 0;
    struct produce_state st = { 0 };
    rd_kafka_conf_t *conf = base_conf(o);
    set(conf, "linger.ms", o->linger_ms);
    set(conf, "batch.size", "1000000");
    set(conf, "batch.num.messages", "1000000");
    set(conf, "message.max.bytes", "2000000");
    set(conf, "queue.buffering.max.messages", "1000000");
    set(conf, "queue.buffering.max.kbytes", "1048576");
    set(conf, "compression.codec", "none");
    set(conf, "enable.idempotence", "true");
    set(conf, "acks", "all");
    if (transactional) set(conf, "transactional.id", o->transactional_id);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &st);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) die("producer: %s", err);
    int partitions = partitions_of(rk, o->topic);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    if (transactional) check(rd_kafka_init_transactions(rk, 30000), "init_transactions");

    char *payload = malloc(o->size);
    if (!payload) die("out of memory");
    for (uint64_t i = 0; i < o->size; i++) payload[i] = (char)('a' + i % 26);

    struct samples commit_us = { 0 }, txn_us = { 0 };
    uint64_t txns = 0, aborted = 0, committed_records = 0;
    struct cpu_window cpu;
    cpu_start(&cpu);
    uint64_t t0 = now_ns();
    uint64_t per_txn = transactional ? o->txn_records : o->count;
    for (uint64_t sent = 0; sent < o->count;) {
        uint64_t n = o->count - sent < per_txn ? o->count - sent : per_txn;
        uint64_t began = now_ns();
        if (transactional) check(rd_kafka_begin_transaction(rk), "begin_transaction");
        for (uint64_t i = 0; i < n; i++) {
            /* Round-robin over the partitions, so every transaction of more than one record spans them all. */
            int32_t partition = (int32_t)((sent + i) % (uint64_t)partitions);
            while (rd_kafka_produce(rkt, partition, 0, payload, o->size, NULL, 0, NULL) != 0) {
                rd_kafka_resp_err_t e = rd_kafka_last_error();
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce: %s", rd_kafka_err2str(e));
                rd_kafka_poll(rk, 1);
            }
            if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
        }
        sent += n;
        if (!transactional) continue;
        txns++;
        if (o->abort_every && txns % o->abort_every == 0) {
            /* Delivered first, so the aborted records are in the log for read_committed to skip (abort would purge what is queued). */
            rd_kafka_flush(rk, 30000);
            check(rd_kafka_abort_transaction(rk, 30000), "abort_transaction");
            aborted++;
        } else {
            /* Every record delivered first: the commit's time is then EndTxn's alone. */
            rd_kafka_flush(rk, 30000);
            uint64_t c = now_ns();
            check(rd_kafka_commit_transaction(rk, 30000), "commit_transaction");
            uint64_t done = now_ns();
            sample_add(&commit_us, (done - c) / 1000);
            sample_add(&txn_us, (done - began) / 1000);
            committed_records += n;
        }
    }
    rd_kafka_flush(rk, 60000);
    double seconds = (double)(now_ns() - t0) / 1e9;
    cpu_stop(&cpu);
    if (!transactional) committed_records = st.delivered;

    printf("{\"mode\":\"produce\",\"topic\":\"%s\",\"partitions\":%d,\"size\":%" PRIu64 ",\"txnRecords\":%" PRIu64 ",\"msgs\":%" PRIu64
           ",\"failed\":%" PRIu64 ",\"firstError\":\"%s\",\"transactions\":%" PRIu64 ",\"aborted\":%" PRIu64 ",\"committedMsgs\":%" PRIu64
           ",\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"cpuUserSeconds\":%.3f,\"cpuSystemSeconds\":%.3f",
           o->topic, partitions, o->size, o->txn_records, st.delivered, st.failed, st.failed ? rd_kafka_err2name(st.first_error) : "",
           txns, aborted, committed_records, st.delivered * o->size, seconds, cpu.user, cpu.sys);
    print_samples("commitUs", &commit_us);
    print_samples("transactionUs", &txn_us);
    printf("}\n");
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(payload);
    free(commit_us.v);
    free(txn_us.v);
    return st.failed > 0;
}

#define CONSUME_BATCH 10000
#define MAX_CONSUMERS 16

struct consume_shared {
    const struct options *o;
    int partitions, consumers;
    pthread_barrier_t ready;
    struct cpu_window cpu;
    uint64_t t0;
    _Atomic uint64_t msgs, bytes, errors, done_ns;
};

struct consumer_arg {
    struct consume_shared *shared;
    int index;
};

static rd_kafka_t *new_consumer(const struct options *o) {
    rd_kafka_conf_t *conf = base_conf(o);
    set(conf, "group.id", "sluice-bench-txn");
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.auto.offset.store", "false");
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "isolation.level", o->isolation);
    set(conf, "fetch.max.bytes", "16777216");
    set(conf, "max.partition.fetch.bytes", "16777216");
    set(conf, "fetch.wait.max.ms", "100");
    set(conf, "queued.min.messages", "10000000");
    set(conf, "queued.max.messages.kbytes", "1048576");
    set(conf, "check.crcs", "false");
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) die("consumer: %s", err);
    return rk;
}

static void *consumer_thread(void *p) {
    struct consumer_arg *arg = p;
    struct consume_shared *sh = arg->shared;
    const struct options *o = sh->o;
    rd_kafka_t *rk = new_consumer(o);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(sh->partitions);
    for (int part = arg->index; part < sh->partitions; part += sh->consumers)
        rd_kafka_topic_partition_list_add(list, o->topic, part)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t **batch = malloc(CONSUME_BATCH * sizeof *batch);
    if (!queue || !batch) die("consumer queue");
    pthread_barrier_wait(&sh->ready);
    pthread_barrier_wait(&sh->ready);
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
    if (e) die("assign: %s", rd_kafka_err2str(e));
    uint64_t last_progress = now_ns();
    while (atomic_load(&sh->msgs) < o->count) {
        ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch, CONSUME_BATCH);
        if (n < 0) die("consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
        uint64_t msgs = 0, bytes = 0;
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = batch[i];
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                msgs++;
                bytes += m->len;
            } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (atomic_fetch_add(&sh->errors, 1) == 0) fprintf(stderr, "txngen: consume error: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        }
        uint64_t t = now_ns();
        if (msgs > 0) {
            last_progress = t;
            atomic_fetch_add(&sh->bytes, bytes);
            if (atomic_fetch_add(&sh->msgs, msgs) + msgs >= o->count) {
                uint64_t expected = 0;
                if (atomic_compare_exchange_strong(&sh->done_ns, &expected, t)) cpu_stop(&sh->cpu);
            }
        } else if (t - last_progress > 30ull * 1000000000u) {
            die("no records for 30 s after %" PRIu64 " of %" PRIu64, atomic_load(&sh->msgs), o->count);
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_queue_destroy(queue);
    free(batch);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

static int run_consume(const struct options *o) {
    if (strcmp(o->isolation, "read_committed") && strcmp(o->isolation, "read_uncommitted")) die("--isolation: read_committed or read_uncommitted");
    struct consume_shared *sh = calloc(1, sizeof *sh);
    if (!sh) die("out of memory");
    sh->o = o;
    {
        rd_kafka_t *rk = new_consumer(o);
        sh->partitions = partitions_of(rk, o->topic);
        rd_kafka_destroy(rk);
    }
    if (o->consumers < 1) die("--consumers must be at least 1");
    sh->consumers = o->consumers < (uint64_t)sh->partitions ? (int)o->consumers : sh->partitions;
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
    printf("{\"mode\":\"consume\",\"topic\":\"%s\",\"isolation\":\"%s\",\"partitions\":%d,\"consumers\":%d,\"msgs\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"seconds\":%.6f,\"cpuUserSeconds\":%.3f,\"cpuSystemSeconds\":%.3f}\n",
           o->topic, o->isolation, sh->partitions, sh->consumers, atomic_load(&sh->msgs), atomic_load(&sh->bytes), atomic_load(&sh->errors), seconds,
           sh->cpu.user, sh->cpu.sys);
    pthread_barrier_destroy(&sh->ready);
    free(sh);
    return 0;
}

int main(int argc, char **argv) {
    struct options o;
    parse_options(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(o.mode, "produce")) return run_produce(&o);
    if (!strcmp(o.mode, "consume")) return run_consume(&o);
    die("unknown mode %s (produce or consume)", o.mode);
    return 1;
}
