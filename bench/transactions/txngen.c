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
 * included. The consume mode, client settings, options and output it shares with the broker
 * benchmark's generator (bench/broker/loadgen.c) are in bench/support/rdkafka-bench.c.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/rdkafka-bench.h"

const struct generator generator = { .name = "txngen", .client_id = "sluice-bench-txn" };

struct options {
    struct common_options c;
    const char *isolation, *transactional_id;
    uint64_t txn_records, abort_every;
};

static int own_option(void *own, const char *k, const char *v) {
    struct options *o = own;
    if (!strcmp(k, "--txn-records")) o->txn_records = parse_u64(k, v);
    else if (!strcmp(k, "--abort-every")) o->abort_every = parse_u64(k, v);
    else if (!strcmp(k, "--transactional-id")) o->transactional_id = v;
    else if (!strcmp(k, "--isolation")) o->isolation = v;
    else return 0;
    return 1;
}

/* A transactional call's error is fatal here: the benchmark runs on a healthy broker. */
static void check(rd_kafka_error_t *error, const char *what) {
    if (!error) return;
    die("%s: %s (%s)", what, rd_kafka_error_string(error), rd_kafka_error_name(error));
}

static int run_produce(const struct options *o) {
    const struct common_options *c = &o->c;
    int transactional = o->txn_records > 0;
    struct deliveries d = { 0 };
    rd_kafka_conf_t *conf = producer_conf(c, "1000000", &d);
    set(conf, "enable.idempotence", "true");
    set(conf, "acks", "all");
    if (transactional) set(conf, "transactional.id", o->transactional_id);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) die("producer: %s", err);
    int partitions = wait_for_topic(rk, c->topic);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, c->topic, NULL);
    if (transactional) check(rd_kafka_init_transactions(rk, 30000), "init_transactions");
    char *payload = make_payload(c);

    struct samples commit_us = { 0 }, txn_us = { 0 };
    uint64_t txns = 0, aborted = 0, committed_records = 0;
    struct cpu_window cpu;
    cpu_start(&cpu);
    uint64_t t0 = now_ns();
    uint64_t per_txn = transactional ? o->txn_records : c->count;
    for (uint64_t sent = 0; sent < c->count;) {
        uint64_t n = c->count - sent < per_txn ? c->count - sent : per_txn;
        uint64_t began = now_ns();
        if (transactional) check(rd_kafka_begin_transaction(rk), "begin_transaction");
        for (uint64_t i = 0; i < n; i++) {
            /* Round-robin over the partitions, so every transaction of more than one record spans them all. */
            produce_one(rk, rkt, (int32_t)((sent + i) % (uint64_t)partitions), payload, c->size, 0);
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
            uint64_t committing = now_ns();
            check(rd_kafka_commit_transaction(rk, 30000), "commit_transaction");
            uint64_t done = now_ns();
            sample_add(&commit_us, (done - committing) / 1000);
            sample_add(&txn_us, (done - began) / 1000);
            committed_records += n;
        }
    }
    rd_kafka_flush(rk, 60000);
    double seconds = (double)(now_ns() - t0) / 1e9;
    cpu_stop(&cpu);
    if (!transactional) committed_records = d.delivered;

    print_produce_result(c, partitions, &d, seconds, &cpu);
    printf(",\"txnRecords\":%" PRIu64 ",\"transactions\":%" PRIu64 ",\"aborted\":%" PRIu64 ",\"committedMsgs\":%" PRIu64, o->txn_records, txns, aborted,
           committed_records);
    print_percentiles("commitUs", samples_percentiles(&commit_us));
    print_percentiles("transactionUs", samples_percentiles(&txn_us));
    printf("}\n");
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(payload);
    free(commit_us.v);
    free(txn_us.v);
    return d.failed > 0;
}

int main(int argc, char **argv) {
    struct options o = { .transactional_id = "sluice-bench-txn", .isolation = "read_committed" };
    parse_options(argc, argv, "txngen produce|consume [--option value]...", &o.c, own_option, &o);
    require_topic(&o.c);
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(o.c.mode, "produce")) return run_produce(&o);
    if (!strcmp(o.c.mode, "consume")) {
        if (strcmp(o.isolation, "read_committed") && strcmp(o.isolation, "read_uncommitted")) die("--isolation: read_committed or read_uncommitted");
        return run_consume(&o.c, "16777216", o.isolation);
    }
    die("unknown mode %s (produce or consume)", o.c.mode);
}
