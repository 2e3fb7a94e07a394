/*
 * Load generator for the broker benchmark (bench/broker.ts), on librdkafka so the broker is
 * driven by the same client code path production users have.
 *
 *   loadgen produce  --bootstrap H:P --topic T --count N --size S [--acks 1|0|-1]
 *                    [--linger-ms 5] [--batch-bytes 1000000] [--rate MSGS_PER_SEC]
 *   loadgen consume  --bootstrap H:P --topic T --count N [--consumers K] [--fetch-bytes 16777216]
 *   loadgen tcp      --bytes N     (loopback TCP baseline: a forked receiver, no Kafka)
 *
 * Each mode prints one JSON object on stdout. CPU figures are getrusage(RUSAGE_SELF) over the
 * measured window, librdkafka's threads included, so the caller can tell whether this process
 * rather than the broker was the limit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------- */
/* Small utilities                                                                          */

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
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

static double cpu_seconds(int who, double *user, double *sys) {
    struct rusage ru;
    getrusage(who, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return *user + *sys;
}

/* CPU used between two points: the part of this process's cost that belongs to the run. */
struct cpu_window {
    double user0, sys0, user, sys;
};

static void cpu_start(struct cpu_window *w) { cpu_seconds(RUSAGE_SELF, &w->user0, &w->sys0); }

static void cpu_stop(struct cpu_window *w) {
    double u, s;
    cpu_seconds(RUSAGE_SELF, &u, &s);
    w->user = u - w->user0;
    w->sys = s - w->sys0;
}

/* ---------------------------------------------------------------------------------------- */
/* Latency histogram                                                                        */

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

static unsigned bucket_of(uint64_t v) {
    if (v < 2 * SUB_COUNT) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - SUB_BITS;
    return (shift + 1) * SUB_COUNT + (unsigned)((v >> shift) - SUB_COUNT);
}

/* The middle of a bucket's range, so errors are symmetric. */
static uint64_t bucket_value(unsigned b) {
    if (b < 2 * SUB_COUNT) return b;
    unsigned shift = b / SUB_COUNT - 1;
    uint64_t low = (uint64_t)(SUB_COUNT + b % SUB_COUNT) << shift;
    return low + ((1ull << shift) >> 1);
}

static void hist_add(struct histogram *h, uint64_t v) {
    h->counts[bucket_of(v)]++;
    h->total++;
    if (v > h->max) h->max = v;
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

/* ---------------------------------------------------------------------------------------- */
/* Options                                                                                  */

struct options {
    const char *mode;
    const char *bootstrap;
    const char *topic;
    uint64_t count;
    uint64_t size;
    uint64_t bytes;
    const char *acks;
    const char *linger_ms;
    const char *batch_bytes;
    double rate;
    uint64_t consumers;
    const char *fetch_bytes;
};

static uint64_t parse_u64(const char *name, const char *s) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s) die("%s: not a number: %s", name, s);
    return (uint64_t)v;
}

static void parse_options(int argc, char **argv, struct options *o) {
    if (argc < 2) die("usage: loadgen produce|consume|tcp [--option value]...");
    *o = (struct options){ .mode = argv[1], .acks = "1", .linger_ms = "5", .batch_bytes = "1000000", .consumers = 1, .fetch_bytes = "16777216" };
    for (int i = 2; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) die("%s needs a value", k);
        if (!strcmp(k, "--bootstrap")) o->bootstrap = v;
        else if (!strcmp(k, "--topic")) o->topic = v;
        else if (!strcmp(k, "--count")) o->count = parse_u64(k, v);
        else if (!strcmp(k, "--size")) o->size = parse_u64(k, v);
        else if (!strcmp(k, "--bytes")) o->bytes = parse_u64(k, v);
        else if (!strcmp(k, "--acks")) o->acks = v;
        else if (!strcmp(k, "--linger-ms")) o->linger_ms = v;
        else if (!strcmp(k, "--batch-bytes")) o->batch_bytes = v;
        else if (!strcmp(k, "--rate")) o->rate = (double)parse_u64(k, v);
        else if (!strcmp(k, "--consumers")) o->consumers = parse_u64(k, v);
        else if (!strcmp(k, "--fetch-bytes")) o->fetch_bytes = v;
        else die("unknown option %s", k);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Kafka helpers                                                                            */

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) die("%s=%s: %s", key, value, err);
}

/* Client-level errors (connection refused, broker down) would otherwise only be logged. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    (void)opaque;
    fprintf(stderr, "loadgen: librdkafka error %s: %s\n", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) exit(1);
}

static rd_kafka_conf_t *base_conf(const struct options *o) {
    if (!o->bootstrap || !o->topic || !o->count) die("--bootstrap, --topic and --count are required");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", o->bootstrap);
    set(conf, "client.id", "sluice-bench");
    /* As the Java client does: Nagle would hold back small requests (the paced run's latency). */
    set(conf, "socket.nagle.disable", "true");
    /* Frames up to the largest fetch the consumer asks for, plus headers. */
    set(conf, "receive.message.max.bytes", "200000000");
    rd_kafka_conf_set_error_cb(conf, on_error);
    return conf;
}

/*
 * Waits until the topic has partitions with leaders. Asking for its metadata also creates it
 * on a broker with auto.create.topics.enable, so timing starts with the topic in place.
 */
static int wait_for_topic(rd_kafka_t *rk, rd_kafka_topic_t *rkt) {
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
            if (partitions > 0) return partitions;
        }
        usleep(100 * 1000);
    }
    die("topic %s did not appear", rd_kafka_topic_name(rkt));
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* produce                                                                                  */

struct produce_state {
    struct histogram latency_us;
    uint64_t delivered;
    uint64_t failed;
    rd_kafka_resp_err_t first_error;
};

/*
 * The produce time travels in the message's opaque pointer, so no per-message bookkeeping is
 * needed; the delivery report arrives on the thread that calls rd_kafka_poll (this one).
 */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    struct produce_state *st = opaque;
    if (m->err) {
        if (!st->failed++) st->first_error = m->err;
        return;
    }
    st->delivered++;
    hist_add(&st->latency_us, (now_ns() - (uint64_t)(uintptr_t)m->_private) / 1000);
}

static int run_produce(const struct options *o) {
    if (!o->size) die("--size is required");
    struct produce_state *st = calloc(1, sizeof *st);
    if (!st) die("out of memory");

    rd_kafka_conf_t *conf = base_conf(o);
    set(conf, "acks", o->acks);
    set(conf, "linger.ms", o->linger_ms);
    set(conf, "batch.size", o->batch_bytes);
    set(conf, "batch.num.messages", "1000000");
    set(conf, "message.max.bytes", "2000000");
    /* Enough queued to keep the pipe full without letting the backlog grow to gigabytes. */
    set(conf, "queue.buffering.max.messages", "1000000");
    set(conf, "queue.buffering.max.kbytes", "1048576");
    set(conf, "compression.codec", "none");
    set(conf, "enable.idempotence", "false");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, st);

    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) die("producer: %s", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    int partitions = wait_for_topic(rk, rkt);

    /* Every message points at one buffer: librdkafka does not copy it (no MSG_F_COPY). */
    char *payload = malloc(o->size);
    if (!payload) die("out of memory");
    for (uint64_t i = 0; i < o->size; i++) payload[i] = (char)('a' + i % 26);

    struct cpu_window cpu;
    cpu_start(&cpu);
    uint64_t t0 = now_ns();
    double interval_ns = o->rate > 0 ? 1e9 / o->rate : 0;
    for (uint64_t i = 0; i < o->count; i++) {
        if (interval_ns > 0) {
            /*
             * Paced: each message waits for its slot, so latency is not queueing delay. Slots
             * are served in 1 ms steps; between them the thread blocks in poll, which wakes for
             * each delivery report. Spinning to 50 µs slots would take a core the broker needs.
             */
            uint64_t due = t0 + (uint64_t)((double)i * interval_ns);
            while (now_ns() < due) rd_kafka_poll(rk, 1);
        }
        for (;;) {
            void *sent_at = (void *)(uintptr_t)now_ns();
            if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, payload, o->size, NULL, 0, sent_at) == 0) break;
            rd_kafka_resp_err_t e = rd_kafka_last_error();
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce: %s", rd_kafka_err2str(e));
            rd_kafka_poll(rk, 1);
        }
        /* Serve delivery reports now and then so their timestamps are not late by our loop. */
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    while (st->delivered + st->failed < o->count) rd_kafka_poll(rk, 10);
    double seconds = (double)(now_ns() - t0) / 1e9;
    cpu_stop(&cpu);

    printf("{\"mode\":\"produce\",\"topic\":\"%s\",\"partitions\":%d,\"acks\":\"%s\",\"size\":%" PRIu64 ",\"msgs\":%" PRIu64
           ",\"failed\":%" PRIu64 ",\"firstError\":%s%s%s,\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"latencyUs\":{\"p50\":%" PRIu64
           ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 "},\"cpuUserSeconds\":%.3f,\"cpuSystemSeconds\":%.3f}\n",
           o->topic, partitions, o->acks, o->size, st->delivered, st->failed, st->failed ? "\"" : "",
           st->failed ? rd_kafka_err2name(st->first_error) : "null", st->failed ? "\"" : "", st->delivered * o->size, seconds,
           hist_quantile(&st->latency_us, 0.5), hist_quantile(&st->latency_us, 0.99), hist_quantile(&st->latency_us, 0.999),
           st->latency_us.max, cpu.user, cpu.sys);

    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(payload);
    int failed = st->failed > 0;
    free(st);
    return failed;
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
    const struct options *o;
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

static rd_kafka_t *new_consumer(const struct options *o) {
    rd_kafka_conf_t *conf = base_conf(o);
    /* assign() needs no group, but librdkafka's consumer API wants a group.id set. */
    set(conf, "group.id", "sluice-bench");
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.auto.offset.store", "false");
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "fetch.max.bytes", o->fetch_bytes);
    set(conf, "max.partition.fetch.bytes", o->fetch_bytes);
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
    const struct options *o = sh->o;
    rd_kafka_t *rk = new_consumer(o);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(sh->partitions);
    for (int part = arg->index; part < sh->partitions; part += sh->consumers)
        rd_kafka_topic_partition_list_add(list, o->topic, part)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t **batch = malloc(CONSUME_BATCH * sizeof *batch);
    if (!queue || !batch) die("consumer queue");

    /* Set-up is done before the clock starts; the second wait lets the main thread start it. */
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
                if (atomic_fetch_add(&sh->errors, 1) == 0) fprintf(stderr, "loadgen: consume error: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        }
        uint64_t t = now_ns();
        if (msgs > 0) {
            last_progress = t;
            atomic_fetch_add(&sh->bytes, bytes);
            if (atomic_fetch_add(&sh->msgs, msgs) + msgs >= o->count) finish_consume(sh);
        } else if (t - last_progress > 30ull * 1000000000u) {
            die("no messages for 30 s after %" PRIu64 " of %" PRIu64, atomic_load(&sh->msgs), o->count);
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
    if (!o->bootstrap || !o->topic || !o->count) die("--bootstrap, --topic and --count are required");
    struct consume_shared *sh = calloc(1, sizeof *sh);
    if (!sh) die("out of memory");
    sh->o = o;
    {
        rd_kafka_t *rk = new_consumer(o);
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
        sh->partitions = wait_for_topic(rk, rkt);
        rd_kafka_topic_destroy(rkt);
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

    printf("{\"mode\":\"consume\",\"topic\":\"%s\",\"partitions\":%d,\"consumers\":%d,\"msgs\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"seconds\":%.6f,\"cpuUserSeconds\":%.3f,\"cpuSystemSeconds\":%.3f}\n",
           o->topic, sh->partitions, sh->consumers, atomic_load(&sh->msgs), atomic_load(&sh->bytes), atomic_load(&sh->errors), seconds,
           sh->cpu.user, sh->cpu.sys);
    pthread_barrier_destroy(&sh->ready);
    free(sh);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* tcp: loopback baseline                                                                   */

#define TCP_CHUNK (1u << 20)

/* Reads until EOF, then reports the byte count and its own CPU time through a pipe. */
static void tcp_receive(int listener, int report) {
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) die("accept: %s", strerror(errno));
    char *buf = malloc(TCP_CHUNK);
    if (!buf) die("out of memory");
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, TCP_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("read: %s", strerror(errno));
        if (n == 0) break;
        total += (uint64_t)n;
    }
    double user, sys;
    cpu_seconds(RUSAGE_SELF, &user, &sys);
    char line[128];
    int len = snprintf(line, sizeof line, "%" PRIu64 " %.3f %.3f", total, user, sys);
    if (write(report, line, (size_t)len) != len) die("report: %s", strerror(errno));
    _exit(0);
}

static int run_tcp(const struct options *o) {
    if (!o->bytes) die("--bytes is required");
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof addr;
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1) ||
        getsockname(listener, (struct sockaddr *)&addr, &alen))
        die("listen: %s", strerror(errno));
    int pipefd[2];
    if (pipe(pipefd)) die("pipe: %s", strerror(errno));
    pid_t child = fork();
    if (child < 0) die("fork: %s", strerror(errno));
    if (child == 0) {
        close(pipefd[0]);
        tcp_receive(listener, pipefd[1]);
    }
    close(pipefd[1]);
    close(listener);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr)) die("connect: %s", strerror(errno));
    char *buf = malloc(TCP_CHUNK);
    if (!buf) die("out of memory");
    memset(buf, 'x', TCP_CHUNK);

    struct cpu_window cpu;
    cpu_start(&cpu);
    uint64_t t0 = now_ns();
    for (uint64_t sent = 0; sent < o->bytes;) {
        size_t want = o->bytes - sent < TCP_CHUNK ? (size_t)(o->bytes - sent) : TCP_CHUNK;
        ssize_t n = write(fd, buf, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("write: %s", strerror(errno));
        sent += (uint64_t)n;
    }
    shutdown(fd, SHUT_WR);
    char line[128] = { 0 };
    ssize_t got = read(pipefd[0], line, sizeof line - 1);
    double seconds = (double)(now_ns() - t0) / 1e9;
    cpu_stop(&cpu);
    int status;
    waitpid(child, &status, 0);
    uint64_t received = 0;
    double ruser = 0, rsys = 0;
    if (got <= 0 || sscanf(line, "%" SCNu64 " %lf %lf", &received, &ruser, &rsys) != 3) die("receiver reported nothing");
    if (received != o->bytes) die("receiver got %" PRIu64 " of %" PRIu64 " bytes", received, o->bytes);

    printf("{\"mode\":\"tcp\",\"bytes\":%" PRIu64 ",\"chunk\":%u,\"seconds\":%.6f,\"cpuUserSeconds\":%.3f,\"cpuSystemSeconds\":%.3f,"
           "\"receiverCpuUserSeconds\":%.3f,\"receiverCpuSystemSeconds\":%.3f}\n",
           received, TCP_CHUNK, seconds, cpu.user, cpu.sys, ruser, rsys);
    close(fd);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    struct options o;
    parse_options(argc, argv, &o);
    /* A broker that goes away mid-run must be an error message, not a silent SIGPIPE death. */
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(o.mode, "produce")) return run_produce(&o);
    if (!strcmp(o.mode, "consume")) return run_consume(&o);
    if (!strcmp(o.mode, "tcp")) return run_tcp(&o);
    die("unknown mode %s (produce, consume or tcp)", o.mode);
    return 1;
}
