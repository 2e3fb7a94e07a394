/*
 * Load generator for the broker benchmark (bench/broker.ts), on librdkafka so the broker is
 * driven by the same client code path production users have.
 *
 *   loadgen produce  --bootstrap H:P --topic T --count N --size S [--acks 1|0|-1]
 *                    [--linger-ms 5] [--batch-bytes 1000000] [--rate MSGS_PER_SEC] [--end-to-end 1]
 *   loadgen consume  --bootstrap H:P --topic T --count N [--consumers K] [--fetch-bytes 16777216]
 *   loadgen fetch    --bootstrap H:P --topic T --count N --size S [--fetch-bytes 16777216]
 *                    (Fetch v4 on a plain socket, batch headers only: what the broker serves)
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
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
/* fetch: what the broker serves, read by a client that parses no record                   */

/*
 * librdkafka parses every record it fetches, so at 1 KiB its consumers, not the broker, set
 * the consume rate on 2 vCPUs. This mode speaks Fetch v4 on one plain socket, reads each
 * response whole into one reused buffer and walks only the record batch headers, for the
 * record count and the next offset: nearly all of its CPU is the kernel's copy out of the
 * socket. librdkafka serves only the metadata, before the measured window.
 */
#define FETCH_API_KEY 1
#define FETCH_VERSION 4
/* Record batch v2 (magic 2): the fields this mode reads, by their offset in the batch. */
#define BATCH_LENGTH_AT 8
#define BATCH_LOG_OVERHEAD 12
#define BATCH_MAGIC_AT 16
#define BATCH_LAST_OFFSET_DELTA_AT 23
#define BATCH_RECORD_COUNT_AT 57
#define BATCH_HEADER_BYTES 61

struct cursor {
    const unsigned char *p, *end;
};

static const unsigned char *take(struct cursor *cur, size_t n) {
    if ((size_t)(cur->end - cur->p) < n) die("fetch: truncated response");
    const unsigned char *at = cur->p;
    cur->p += n;
    return at;
}

static uint16_t be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t be64(const unsigned char *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static int32_t take32(struct cursor *cur) { return (int32_t)be32(take(cur, 4)); }

static void put16(unsigned char **p, uint16_t v) { (*p)[0] = (unsigned char)(v >> 8); (*p)[1] = (unsigned char)v; *p += 2; }
static void put32(unsigned char **p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p, (uint16_t)v); }
static void put64(unsigned char **p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p, (uint32_t)v); }

static void write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) die("fetch: write to the broker: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

static void read_all(int fd, unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("fetch: read from the broker: %s", strerror(errno));
        if (r == 0) die("fetch: the broker closed the connection with %zu bytes of a response unread", n);
        p += r;
        n -= (size_t)r;
    }
}

static int connect_to(const char *bootstrap) {
    char host[256];
    const char *colon = strrchr(bootstrap, ':');
    if (!colon || strchr(bootstrap, ',') || (size_t)(colon - bootstrap) >= sizeof host) die("fetch: --bootstrap must be one host:port");
    snprintf(host, sizeof host, "%.*s", (int)(colon - bootstrap), bootstrap);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    int e = getaddrinfo(host, colon + 1, &hints, &res);
    if (e) die("fetch: %s: %s", bootstrap, gai_strerror(e));
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen)) die("fetch: connect to %s: %s", bootstrap, strerror(errno));
    freeaddrinfo(res);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* The topic's partition count, after checking that one broker leads them all: the one this mode talks to. */
static int single_broker_partitions(const struct common_options *c) {
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, client_conf(c), err, sizeof err);
    if (!rk) die("fetch: metadata client: %s", err);
    int partitions = wait_for_topic(rk, c->topic);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, c->topic, NULL);
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
    if (e) die("fetch: metadata: %s", rd_kafka_err2str(e));
    if (md->broker_cnt != 1) die("fetch: talks to the bootstrap broker only, and the cluster has %d brokers", md->broker_cnt);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return partitions;
}

/* A Fetch v4 request (header v1) for one partition from `offset`, into `buf`; returns its length, size prefix included. */
static size_t fetch_request(unsigned char *buf, int32_t correlation, const char *topic, int32_t partition, int64_t offset, int32_t max_bytes) {
    size_t topic_len = strlen(topic), client_len = strlen(generator.client_id);
    unsigned char *p = buf + 4;
    put16(&p, FETCH_API_KEY);
    put16(&p, FETCH_VERSION);
    put32(&p, (uint32_t)correlation);
    put16(&p, (uint16_t)client_len);
    memcpy(p, generator.client_id, client_len);
    p += client_len;
    put32(&p, (uint32_t)-1); /* replica_id: a consumer */
    put32(&p, 0); /* max_wait_ms: the topic is read as it stands */
    put32(&p, 1); /* min_bytes */
    put32(&p, (uint32_t)max_bytes);
    *p++ = 0; /* isolation_level: read_uncommitted */
    put32(&p, 1);
    put16(&p, (uint16_t)topic_len);
    memcpy(p, topic, topic_len);
    p += topic_len;
    put32(&p, 1);
    put32(&p, (uint32_t)partition);
    put64(&p, (uint64_t)offset);
    put32(&p, (uint32_t)max_bytes);
    size_t n = (size_t)(p - buf);
    unsigned char *size = buf;
    put32(&size, (uint32_t)(n - 4));
    return n;
}

struct fetched {
    uint64_t records, batch_bytes;
};

/*
 * Walks the whole batches of one partition's records and returns the offset after the last;
 * a batch cut off by the size limit is left for the next fetch.
 */
static int64_t walk_batches(const unsigned char *p, size_t len, int64_t offset, struct fetched *f) {
    size_t at = 0;
    while (len - at >= BATCH_LOG_OVERHEAD) {
        uint32_t batch_length = be32(p + at + BATCH_LENGTH_AT);
        size_t whole = BATCH_LOG_OVERHEAD + (size_t)batch_length;
        if (len - at < whole) break;
        if (whole < BATCH_HEADER_BYTES || p[at + BATCH_MAGIC_AT] != 2) die("fetch: not a v2 record batch at offset %" PRId64, offset);
        offset = (int64_t)be64(p + at) + (int32_t)be32(p + at + BATCH_LAST_OFFSET_DELTA_AT) + 1;
        f->records += be32(p + at + BATCH_RECORD_COUNT_AT);
        f->batch_bytes += whole;
        at += whole;
    }
    return offset;
}

/*
 * Reads one Fetch v4 response from `cur` (after its correlation id) to a one-partition
 * request: advances that partition's offset past its whole batches, sets its high watermark
 * and returns the partition.
 */
static int32_t read_fetch_response(struct cursor *cur, const char *topic, int64_t *offsets, int64_t *high_watermarks, int partitions, struct fetched *f) {
    take32(cur); /* throttle_time_ms */
    int answered = 0;
    int32_t partition = -1;
    for (int32_t topics = take32(cur); topics > 0; topics--) {
        uint16_t name_len = be16(take(cur, 2));
        const unsigned char *name = take(cur, name_len);
        if (name_len != strlen(topic) || memcmp(name, topic, name_len)) die("fetch: a response for topic %.*s", (int)name_len, name);
        for (int32_t n = take32(cur); n > 0; n--) {
            partition = take32(cur);
            int16_t error = (int16_t)be16(take(cur, 2));
            int64_t high_watermark = (int64_t)be64(take(cur, 8));
            take(cur, 8); /* last stable offset */
            int32_t aborted = take32(cur);
            if (aborted > 0) take(cur, (size_t)aborted * 16);
            int32_t records = take32(cur);
            if (partition < 0 || partition >= partitions) die("fetch: a response for partition %" PRId32 " of %d", partition, partitions);
            if (error) die("fetch: %s/%" PRId32 " at offset %" PRId64 ": error code %d (%s)", topic, partition, offsets[partition], error, rd_kafka_err2name((rd_kafka_resp_err_t)error));
            high_watermarks[partition] = high_watermark;
            int64_t before = offsets[partition];
            if (records > 0) offsets[partition] = walk_batches(take(cur, (size_t)records), (size_t)records, before, f);
            if (records > 0 && offsets[partition] == before) die("fetch: %s/%" PRId32 ": a batch larger than --fetch-bytes at offset %" PRId64, topic, partition, before);
            answered++;
        }
    }
    if (answered != 1) die("fetch: a response with %d partitions to a request for one", answered);
    return partition;
}

/* One connection to the broker and the buffer its responses are read into, reused. */
struct fetch_conn {
    int fd;
    unsigned char *buf;
    size_t cap;
    int32_t sent, received;
    uint64_t response_bytes;
};

static void send_fetch(struct fetch_conn *conn, const char *topic, int32_t partition, int64_t offset, int32_t max_bytes) {
    unsigned char request[512];
    write_all(conn->fd, request, fetch_request(request, conn->sent++, topic, partition, offset, max_bytes));
}

/* Reads the next response whole, then walks it; returns the partition it answered. */
static int32_t receive_fetch(struct fetch_conn *conn, const char *topic, int64_t *offsets, int64_t *high_watermarks, int partitions, struct fetched *f) {
    unsigned char head[8];
    read_all(conn->fd, head, sizeof head);
    uint32_t size = be32(head);
    int32_t correlation = (int32_t)be32(head + 4);
    if (size < 8) die("fetch: a response of %" PRIu32 " bytes", size);
    if (correlation != conn->received) die("fetch: response %" PRId32 " came where %" PRId32 " was due", correlation, conn->received);
    conn->received++;
    if (size - 4 > conn->cap) {
        free(conn->buf);
        conn->cap = size - 4;
        if (!(conn->buf = malloc(conn->cap))) die("out of memory");
    }
    read_all(conn->fd, conn->buf, size - 4);
    conn->response_bytes += 4 + (uint64_t)size;
    struct cursor cur = { conn->buf, conn->buf + size - 4 };
    return read_fetch_response(&cur, topic, offsets, high_watermarks, partitions, f);
}

/*
 * One request in flight per partition, all on one connection: while this thread walks one
 * response, the broker is already sending the next. Kafka answers a connection's requests in
 * order, so each response is read whole into the one buffer before its batches are walked.
 * The topic is read as it stands, with no wait for records to come: a partition read up to
 * the high watermark its last answer gave is not asked again.
 */
static int run_fetch(const struct options *o) {
    const struct common_options *c = &o->c;
    require_topic(c);
    if (!c->size) die("--size is required: the payload bytes reported are records x size");
    if (c->n_settings > 0) die("fetch speaks plaintext Kafka on its own socket: --set is not for it");
    uint64_t fetch_bytes = parse_u64("--fetch-bytes", o->fetch_bytes);
    if (fetch_bytes < BATCH_HEADER_BYTES || fetch_bytes > INT32_MAX) die("--fetch-bytes must be between %d and %d", BATCH_HEADER_BYTES, INT32_MAX);
    if (strlen(c->topic) > 255) die("fetch: the topic name is too long for this client");
    int partitions = single_broker_partitions(c);
    int64_t *offsets = calloc((size_t)partitions, sizeof *offsets);
    int64_t *high_watermarks = calloc((size_t)partitions, sizeof *high_watermarks);
    struct fetch_conn conn = { .fd = connect_to(c->bootstrap), .cap = fetch_bytes + 4096 };
    conn.buf = malloc(conn.cap);
    if (!offsets || !high_watermarks || !conn.buf) die("out of memory");

    struct fetched f = { 0 };
    struct cpu_window cpu;
    cpu_start(&cpu);
    uint64_t t0 = now_ns();
    for (int part = 0; part < partitions; part++) send_fetch(&conn, c->topic, part, 0, (int32_t)fetch_bytes);
    while (f.records < c->count) {
        if (conn.received == conn.sent) die("fetch: the topic holds %" PRIu64 " records, fewer than --count", f.records);
        int32_t part = receive_fetch(&conn, c->topic, offsets, high_watermarks, partitions, &f);
        if (f.records < c->count && offsets[part] < high_watermarks[part]) send_fetch(&conn, c->topic, part, offsets[part], (int32_t)fetch_bytes);
    }
    double seconds = (double)(now_ns() - t0) / 1e9;
    cpu_stop(&cpu);
    uint64_t response_bytes = conn.response_bytes;
    int32_t responses = conn.received;
    /* The requests still in flight are answered outside the window: closing on them would cut the broker's writes. */
    struct fetched past_count = { 0 };
    while (conn.received < conn.sent) receive_fetch(&conn, c->topic, offsets, high_watermarks, partitions, &past_count);

    printf("{\"mode\":\"fetch\",\"topic\":\"%s\",\"partitions\":%d,\"consumers\":1,\"msgs\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"batchBytes\":%" PRIu64
           ",\"responseBytes\":%" PRIu64 ",\"responses\":%" PRId32 ",\"errors\":0,\"seconds\":%.6f,\"cpuUserSeconds\":%.3f,\"cpuSystemSeconds\":%.3f}\n",
           c->topic, partitions, f.records, f.records * c->size, f.batch_bytes, response_bytes, responses, seconds, cpu.user, cpu.sys);
    close(conn.fd);
    free(conn.buf);
    free(offsets);
    free(high_watermarks);
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
    parse_options(argc, argv, "loadgen produce|consume|fetch|tcp [--option value]...", &o.c, own_option, &o);
    /* A broker that goes away mid-run must be an error message, not a silent SIGPIPE death. */
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(o.c.mode, "produce")) return run_produce(&o);
    if (!strcmp(o.c.mode, "consume")) return run_consume(&o.c, o.fetch_bytes, NULL);
    if (!strcmp(o.c.mode, "fetch")) return run_fetch(&o);
    if (!strcmp(o.c.mode, "tcp")) return run_tcp(&o);
    die("unknown mode %s (produce, consume, fetch or tcp)", o.c.mode);
}
