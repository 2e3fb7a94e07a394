/*
 * A KIP-932 share consumer on librdkafka's rd_kafka_share_* API, for the share group tests:
 * no JavaScript binding exposes that API. It acknowledges every record explicitly and reports
 * what it does on stdout, one JSON object a line, with `at` in epoch milliseconds:
 *
 *   {"event":"ready"}                                   subscribed
 *   {"event":"message","topic":..,"partition":..,"offset":..,"value":..,"deliveryCount":..}
 *   {"event":"record-error","partition":..,"offset":..,"error":..}
 *   {"event":"acked","type":"accept|release|reject","partition":..,"offset":..,"value":..,"error":..}
 *       once the broker answered the acknowledgement (error null when it took it)
 *   {"event":"holding","count":..}                      stopped polling, acknowledging nothing
 *   {"event":"error","error":..}                        a poll or commit that failed as a whole
 *   {"event":"closed"}                                  left the group after SIGTERM
 *
 * Usage: share-consumer BOOTSTRAP GROUP TOPIC [--release V[,V..]] [--reject V[,V..]]
 *                       [--hold-after N] [--client-id ID]
 * --hold-after N: after N records, stop polling and hold them unacknowledged until killed, as a
 * consumer that crashed mid-batch would (its heartbeats go on, from librdkafka's threads).
 * SHARE_CONSUMER_DEBUG=cgrp,fetch,protocol turns on librdkafka's debug log (stderr).
 */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_PENDING 100000

static volatile sig_atomic_t stopping = 0;

static void on_sigterm(int sig) {
        (void)sig;
        stopping = 1;
}

static double now_ms(void) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

/* JSON string literal of `len` bytes, or null. */
static void put_json_string(const char *s, size_t len) {
        size_t i;
        if (!s) {
                fputs("null", stdout);
                return;
        }
        putchar('"');
        for (i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c < 0x20)
                        printf("\\u%04x", c);
                else
                        putchar(c);
        }
        putchar('"');
}

static void put_str(const char *s) {
        put_json_string(s, s ? strlen(s) : 0);
}

/* Every line is flushed: the test reads them as they come and may SIGKILL this process. */
static void end_line(void) {
        printf(",\"at\":%.3f}\n", now_ms());
        fflush(stdout);
}

static void report_error(const char *what, rd_kafka_error_t *error) {
        printf("{\"event\":\"error\",\"during\":\"%s\",\"code\":%d,\"error\":", what,
               rd_kafka_error_code(error));
        put_str(rd_kafka_error_string(error));
        end_line();
        rd_kafka_error_destroy(error);
}

/* Whether `value` is one of the comma-separated `list`. */
static int listed(const char *list, const char *value, size_t len) {
        const char *p = list;
        while (p && *p) {
                const char *end = strchr(p, ',');
                size_t n        = end ? (size_t)(end - p) : strlen(p);
                if (n == len && memcmp(p, value, len) == 0)
                        return 1;
                p = end ? end + 1 : NULL;
        }
        return 0;
}

struct pending {
        char topic[256];
        int32_t partition;
        int64_t offset;
        char *value;
        size_t len;
        rd_kafka_share_AcknowledgeType_t type;
};

static struct pending pending[MAX_PENDING];
static size_t pending_cnt = 0;

static const char *type_name(rd_kafka_share_AcknowledgeType_t type) {
        return type == RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_ACCEPT
                   ? "accept"
                   : type == RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_RELEASE ? "release"
                                                                     : "reject";
}

/* The broker's answer for a partition in commit_sync's results; -1 when it is not there. */
static int partition_result(const rd_kafka_topic_partition_list_t *results,
                            const struct pending *p) {
        const rd_kafka_topic_partition_t *r;
        if (!results)
                return -1;
        r = rd_kafka_topic_partition_list_find(results, p->topic, p->partition);
        return r ? (int)r->err : -1;
}

/*
 * Sends the batch's acknowledgements and waits for the broker's answers, so that each "acked"
 * line says whether the broker took it: a record acknowledged after its lock ran out is not
 * accepted, and the tests must not count it as such.
 */
static void commit(rd_kafka_share_t *rkshare) {
        rd_kafka_topic_partition_list_t *results = NULL;
        rd_kafka_error_t *error;
        size_t i;
        if (pending_cnt == 0)
                return;
        error = rd_kafka_share_commit_sync(rkshare, 30000, &results);
        if (error)
                report_error("commit", error);
        for (i = 0; i < pending_cnt; i++) {
                int err = error ? -1 : partition_result(results, &pending[i]);
                printf("{\"event\":\"acked\",\"type\":\"%s\",\"topic\":",
                       type_name(pending[i].type));
                put_str(pending[i].topic);
                printf(",\"partition\":%d,\"offset\":%lld,\"value\":",
                       pending[i].partition, (long long)pending[i].offset);
                put_json_string(pending[i].value, pending[i].len);
                fputs(",\"error\":", stdout);
                free(pending[i].value);
                if (err == 0)
                        fputs("null", stdout);
                else if (err == -1)
                        put_str("no result for its partition");
                else
                        put_str(rd_kafka_err2name((rd_kafka_resp_err_t)err));
                end_line();
        }
        if (results)
                rd_kafka_topic_partition_list_destroy(results);
        pending_cnt = 0;
}

static void acknowledge(rd_kafka_share_t *rkshare, const rd_kafka_message_t *m,
                        rd_kafka_share_AcknowledgeType_t type) {
        rd_kafka_resp_err_t err = rd_kafka_share_acknowledge_type(rkshare, m, type);
        struct pending *p;
        if (err) {
                printf("{\"event\":\"error\",\"during\":\"acknowledge\",\"offset\":%lld,"
                       "\"error\":",
                       (long long)m->offset);
                put_str(rd_kafka_err2str(err));
                end_line();
                return;
        }
        if (pending_cnt == MAX_PENDING) {
                fprintf(stderr, "more than %d records in one batch\n", MAX_PENDING);
                exit(2);
        }
        p = &pending[pending_cnt++];
        snprintf(p->topic, sizeof(p->topic), "%s", rd_kafka_topic_name(m->rkt));
        p->partition = m->partition;
        p->offset    = m->offset;
        p->len       = m->payload ? m->len : 0;
        p->value     = m->payload ? malloc(p->len ? p->len : 1) : NULL;
        if (p->value)
                memcpy(p->value, m->payload, p->len);
        p->type      = type;
}

static void report_message(const rd_kafka_message_t *m) {
        printf("{\"event\":\"message\",\"topic\":");
        put_str(rd_kafka_topic_name(m->rkt));
        printf(",\"partition\":%d,\"offset\":%lld,\"value\":", m->partition,
               (long long)m->offset);
        put_json_string((const char *)m->payload, m->payload ? m->len : 0);
        printf(",\"deliveryCount\":%d", rd_kafka_message_delivery_count(m));
        end_line();
}

static void report_record_error(const rd_kafka_message_t *m) {
        printf("{\"event\":\"record-error\",\"partition\":%d,\"offset\":%lld,\"error\":",
               m->partition, (long long)m->offset);
        put_str(rd_kafka_err2name(m->err));
        end_line();
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value) {
        char errstr[512];
        if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
                fprintf(stderr, "%s=%s: %s\n", name, value, errstr);
                exit(2);
        }
}

struct options {
        const char *bootstrap, *group, *topic, *client_id;
        const char *release, *reject;
        long hold_after;
};

static struct options parse(int argc, char **argv) {
        struct options o = {NULL, NULL, NULL, "share-consumer", "", "", -1};
        int i;
        if (argc < 4) {
                fprintf(stderr,
                        "usage: %s BOOTSTRAP GROUP TOPIC [--release V,..] [--reject V,..] "
                        "[--hold-after N] [--client-id ID]\n",
                        argv[0]);
                exit(2);
        }
        o.bootstrap = argv[1];
        o.group     = argv[2];
        o.topic     = argv[3];
        for (i = 4; i + 1 < argc; i += 2) {
                if (!strcmp(argv[i], "--release"))
                        o.release = argv[i + 1];
                else if (!strcmp(argv[i], "--reject"))
                        o.reject = argv[i + 1];
                else if (!strcmp(argv[i], "--hold-after"))
                        o.hold_after = atol(argv[i + 1]);
                else if (!strcmp(argv[i], "--client-id"))
                        o.client_id = argv[i + 1];
                else {
                        fprintf(stderr, "unknown option %s\n", argv[i]);
                        exit(2);
                }
        }
        if (i != argc) {
                fprintf(stderr, "option %s has no value\n", argv[i]);
                exit(2);
        }
        return o;
}

static rd_kafka_share_t *create(const struct options *o) {
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const char *debug     = getenv("SHARE_CONSUMER_DEBUG");
        rd_kafka_share_t *rkshare;
        set(conf, "bootstrap.servers", o->bootstrap);
        set(conf, "group.id", o->group);
        set(conf, "client.id", o->client_id);
        set(conf, "share.acknowledgement.mode", "explicit");
        if (debug && *debug)
                set(conf, "debug", debug);
        rkshare = rd_kafka_share_consumer_new(conf, errstr, sizeof(errstr));
        if (!rkshare) {
                fprintf(stderr, "rd_kafka_share_consumer_new: %s\n", errstr);
                exit(2);
        }
        return rkshare;
}

static void subscribe(rd_kafka_share_t *rkshare, const char *topic) {
        rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_resp_err_t err;
        rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_share_subscribe(rkshare, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
                fprintf(stderr, "rd_kafka_share_subscribe: %s\n", rd_kafka_err2str(err));
                exit(2);
        }
        printf("{\"event\":\"ready\"");
        end_line();
}

/* Stops polling with the records it has, unacknowledged; only SIGKILL (or SIGTERM) ends it. */
static void hold(long count) {
        printf("{\"event\":\"holding\",\"count\":%ld", count);
        end_line();
        while (!stopping)
                usleep(100 * 1000);
        exit(0);
}

int main(int argc, char **argv) {
        struct options o          = parse(argc, argv);
        rd_kafka_share_t *rkshare = create(&o);
        long received             = 0;
        rd_kafka_error_t *error;

        signal(SIGTERM, on_sigterm);
        subscribe(rkshare, o.topic);

        while (!stopping) {
                rd_kafka_messages_t *batch = NULL;
                size_t i, n;
                error = rd_kafka_share_poll(rkshare, 200, &batch);
                if (error) {
                        report_error("poll", error);
                        usleep(200 * 1000);
                        continue;
                }
                n = rd_kafka_messages_count(batch);
                for (i = 0; i < n; i++) {
                        const rd_kafka_message_t *m = rd_kafka_messages_get(batch, i);
                        const char *value           = (const char *)m->payload;
                        size_t len                  = m->payload ? m->len : 0;
                        if (m->err) {
                                report_record_error(m);
                                continue;
                        }
                        report_message(m);
                        received++;
                        if (o.hold_after >= 0 && received >= o.hold_after)
                                hold(received);
                        acknowledge(rkshare, m,
                                    listed(o.reject, value, len)
                                        ? RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_REJECT
                                    : listed(o.release, value, len)
                                        ? RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_RELEASE
                                        : RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_ACCEPT);
                }
                rd_kafka_messages_destroy(batch);
                commit(rkshare);
        }

        error = rd_kafka_share_consumer_close(rkshare);
        if (error)
                report_error("close", error);
        error = rd_kafka_share_destroy(rkshare);
        if (error)
                report_error("destroy", error);
        printf("{\"event\":\"closed\"");
        end_line();
        return 0;
}
