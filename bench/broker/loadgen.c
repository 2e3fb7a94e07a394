/*
 * Load generator for the broker benchmark (bench/broker.ts), on librdkafka so the broker is
 * driven by the same client code path production users have.
 *
 *   loadgen produce  --bootstrap H:P --topic T --count N --size S [--acks 1|0|-1]
 *                    [--linger-ms 5] [--batch-bytes 1000000] [--rate MSGS_PER_SEC] [--end-to-end 1]
 *   loadgen consume  --bootstrap H:P --topic T --count N [--consumers K] [--fetch-bytes 16777216]
 *   loadgen tcp      --bytes N     (loopback TCP baseline: a forked receiver, no Kafka)
 *
 * Each mode prints one JSON object on stdout. CPU figures are getrusage(RUSAGE_SELF) over the
 * measured window, librdkafka's threads included, so the caller can tell whether this process
 * rather than the broker was the limit. What it shares with the transactions benchmark's
 * generator (bench/transactions/txngen.c) is in bench/support/rdkafka-bench.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/rdkafka-bench.h"

const struct generator generator = { .name = "loadgen", .client_id = "sluice-bench" };

/* ---------------------------------------------------------------------------------------- */
/* Options                                                                                  */

struct options {
    struct common_options c;
    uint64_t bytes;
    const char *acks;
    const char *batch_bytes;
    double rate;
    const char *fetch_bytes;
    int end_to_end;
};

static int own_option(void *own, const char *k, const char *v) {
    struct options *o = own;
    if (!strcmp(k, "--bytes")) o->bytes = parse_u64(k, v);
    else if (!strcmp(k, "--acks")) o->acks = v;
    else if (!strcmp(k, "--batch-bytes")) o->batch_bytes = v;
    else if (!strcmp(k, "--rate")) o->rate = (double)parse_u64(k, v);
    else if (!strcmp(k, "--fetch-bytes")) o->fetch_bytes = v;
    else if (!strcmp(k, "--end-to-end")) o->end_to_end = parse_u64(k, v) != 0;
    else return 0;
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* end to end: a consumer in this process, timing each record from its produce call         */

/*
 * Each record carries the CLOCK_MONOTONIC time of its produce call and its sequence number in
 * its first 16 bytes; the consumer thread subtracts that time from its own clock on receipt.
 * One process, one clock: no skew to correct.
 */
#define STAMP_BYTES 16
/* The primer's sequence: a record produced before the run, not timed. */
#define PRIMER UINT64_MAX

struct receiver {
    const struct common_options *c;
    rd_kafka_t *rk;
    struct histogram *latency_us;
    _Atomic uint64_t received;
    _Atomic int primed;
    _Atomic int stop;
    pthread_t thread;
};

static void *receive_thread(void *p) {
    struct receiver *r = p;
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(r->rk);
    while (!atomic_load(&r->stop)) {
        /* One message at a time: the batch call waits for a full batch or its timeout. */
        rd_kafka_message_t *m = rd_kafka_consume_queue(queue, 100);
        if (!m) continue;
        uint64_t now = now_ns();
        if (!m->err && m->len >= STAMP_BYTES) {
            uint64_t sent, seq;
            memcpy(&sent, m->payload, 8);
            memcpy(&seq, (char *)m->payload + 8, 8);
            if (seq == PRIMER) atomic_store(&r->primed, 1);
            else {
                hist_add(r->latency_us, (now - sent) / 1000);
                atomic_fetch_add(&r->received, 1);
            }
        } else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "%s: end-to-end consume error: %s\n", generator.name, rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_queue_destroy(queue);
    return NULL;
}

/* A consumer of all of the topic's partitions from their start (the topic is new), on its own thread. */
static void start_receiver(struct receiver *r, const struct common_options *c, int partitions) {
    rd_kafka_conf_t *conf = client_conf(c);
    set(conf, "group.id", generator.client_id);
    set(conf, "enable.auto.commit", "false");
    set(conf, "auto.offset.reset", "earliest");
    /* The broker answers a long poll as soon as a record arrives; the wait only bounds idle polls. */
    set(conf, "fetch.wait.max.ms", "500");
    set(conf, "fetch.min.bytes", "1");
    char err[512];
    r->c = c;
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!r->rk) die("end-to-end consumer: %s", err);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int part = 0; part < partitions; part++) rd_kafka_topic_partition_list_add(list, c->topic, part)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_assign(r->rk, list)) die("end-to-end assign failed");
    rd_kafka_topic_partition_list_destroy(list);
    r->latency_us = calloc(1, sizeof *r->latency_us);
    if (!r->latency_us) die("out of memory");
    if (pthread_create(&r->thread, NULL, receive_thread, r)) die("pthread_create");
}

static void stop_receiver(struct receiver *r) {
    atomic_store(&r->stop, 1);
    pthread_join(r->thread, NULL);
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    free(r->latency_us);
}

/* Writes the produce time and sequence into a record's first bytes (the payload is copied per record). */
static void stamp(char *payload, uint64_t seq) {
    uint64_t t = now_ns();
    memcpy(payload, &t, 8);
    memcpy(payload + 8, &seq, 8);
}

static void produce_stamped(rd_kafka_t *rk, rd_kafka_topic_t *rkt, char *payload, size_t size, uint64_t seq) {
    for (;;) {
        stamp(payload, seq);
        void *sent_at = (void *)(uintptr_t)now_ns();
        if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, payload, size, NULL, 0, sent_at) == 0) return;
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(rk, 1);
    }
}

/*
 * Produces one untimed record and waits until the consumer has it: from then on the consumer
 * is parked in a long poll at the log's end, as a live consumer is, and the run starts.
 */
static void prime_receiver(struct receiver *r, rd_kafka_t *rk, rd_kafka_topic_t *rkt, char *payload, size_t size, const struct deliveries *d) {
    produce_stamped(rk, rkt, payload, size, PRIMER);
    uint64_t deadline = now_ns() + 30ull * 1000000000u;
    while (!atomic_load(&r->primed) || d->delivered + d->failed == 0) {
        if (now_ns() > deadline) die("end-to-end: the consumer did not receive the primer record within 30 s");
        rd_kafka_poll(rk, 10);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* produce                                                                                  */

static int run_produce(const struct options *o) {
    const struct common_options *c = &o->c;
    struct histogram *latency_us = calloc(1, sizeof *latency_us);
    if (!latency_us) die("out of memory");
    struct deliveries d = { .latency_us = latency_us };

    rd_kafka_conf_t *conf = producer_conf(c, o->batch_bytes, &d);
    set(conf, "acks", o->acks);
    set(conf, "enable.idempotence", "false");

    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) die("producer: %s", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, c->topic, NULL);
    int partitions = wait_for_topic(rk, c->topic);
    char *payload = make_payload(c);
    struct receiver receiver = { 0 };
    if (o->end_to_end) {
        if (c->size < STAMP_BYTES) die("--end-to-end needs --size of at least %d", STAMP_BYTES);
        start_receiver(&receiver, c, partitions);
        prime_receiver(&receiver, rk, rkt, payload, c->size, &d);
        memset(&d, 0, sizeof d);
        d.latency_us = latency_us;
        memset(latency_us, 0, sizeof *latency_us);
    }

    struct cpu_window cpu;
    cpu_start(&cpu);
    uint64_t t0 = now_ns();
    double interval_ns = o->rate > 0 ? 1e9 / o->rate : 0;
    for (uint64_t i = 0; i < c->count; i++) {
        if (interval_ns > 0) {
            /*
             * Paced: each message waits for its slot, so latency is not queueing delay. Slots
             * are served in 1 ms steps; between them the thread blocks in poll, which wakes for
             * each delivery report. Spinning to 50 µs slots would take a core the broker needs.
             */
            uint64_t due = t0 + (uint64_t)((double)i * interval_ns);
            while (now_ns() < due) rd_kafka_poll(rk, 1);
        }
        if (o->end_to_end) produce_stamped(rk, rkt, payload, c->size, i);
        else produce_one(rk, rkt, RD_KAFKA_PARTITION_UA, payload, c->size, 1);
        /* Serve delivery reports now and then so their timestamps are not late by our loop. */
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    while (d.delivered + d.failed < c->count) rd_kafka_poll(rk, 10);
    if (o->end_to_end) {
        uint64_t deadline = now_ns() + 30ull * 1000000000u;
        while (atomic_load(&receiver.received) < d.delivered && now_ns() < deadline) usleep(1000);
    }
    double seconds = (double)(now_ns() - t0) / 1e9;
    cpu_stop(&cpu);

    print_produce_result(c, partitions, &d, seconds, &cpu);
    printf(",\"acks\":\"%s\"", o->acks);
    print_percentiles("latencyUs", hist_percentiles(latency_us));
    if (o->end_to_end) {
        if (atomic_load(&receiver.received) < d.delivered) die("end-to-end: %" PRIu64 " of %" PRIu64 " records received", atomic_load(&receiver.received), d.delivered);
        print_percentiles("endToEndUs", hist_percentiles(receiver.latency_us));
        stop_receiver(&receiver);
    }
    printf("}\n");

    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(payload);
    free(latency_us);
    return d.failed > 0;
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
    cpu_seconds(&user, &sys);
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
    struct options o = { .acks = "1", .batch_bytes = "1000000", .fetch_bytes = "16777216" };
    parse_options(argc, argv, "loadgen produce|consume|tcp [--option value]...", &o.c, own_option, &o);
    /* A broker that goes away mid-run must be an error message, not a silent SIGPIPE death. */
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(o.c.mode, "produce")) return run_produce(&o);
    if (!strcmp(o.c.mode, "consume")) return run_consume(&o.c, o.fetch_bytes, NULL);
    if (!strcmp(o.c.mode, "tcp")) return run_tcp(&o);
    die("unknown mode %s (produce, consume or tcp)", o.c.mode);
}
