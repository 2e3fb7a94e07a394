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
 * rather than the broker was the limit. What it shares with the transactions benchmark's
 * generator (bench/transactions/txngen.c) is in bench/support/rdkafka-bench.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
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
};

static int own_option(void *own, const char *k, const char *v) {
    struct options *o = own;
    if (!strcmp(k, "--bytes")) o->bytes = parse_u64(k, v);
    else if (!strcmp(k, "--acks")) o->acks = v;
    else if (!strcmp(k, "--batch-bytes")) o->batch_bytes = v;
    else if (!strcmp(k, "--rate")) o->rate = (double)parse_u64(k, v);
    else if (!strcmp(k, "--fetch-bytes")) o->fetch_bytes = v;
    else return 0;
    return 1;
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
        produce_one(rk, rkt, RD_KAFKA_PARTITION_UA, payload, c->size, 1);
        /* Serve delivery reports now and then so their timestamps are not late by our loop. */
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    while (d.delivered + d.failed < c->count) rd_kafka_poll(rk, 10);
    double seconds = (double)(now_ns() - t0) / 1e9;
    cpu_stop(&cpu);

    print_produce_result(c, partitions, &d, seconds, &cpu);
    printf(",\"acks\":\"%s\"", o->acks);
    print_percentiles("latencyUs", hist_percentiles(latency_us));
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
