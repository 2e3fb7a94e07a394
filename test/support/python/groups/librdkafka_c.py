"""Parts of librdkafka's C API that Debian's confluent-kafka does not wrap, called through ctypes.

Debian 12 ships confluent-kafka 1.7 on librdkafka 2.0.2. confluent-kafka gained
list_consumer_groups, describe_consumer_groups, list/alter_consumer_group_offsets and
delete_consumer_groups in its 2.0 line (1.7's AdminClient has only list_groups), while the C
library here has all of them; calling them directly makes the broker answer librdkafka's own
admin requests, as a newer confluent-kafka would send them. The same goes for
rd_kafka_rebalance_protocol(), which 1.7's Consumer does not expose.

Every handle here is opaque except the topic-partition list, whose layout rdkafka.h makes public.
"""

import ctypes
from ctypes import POINTER, byref, c_char_p, c_int, c_int32, c_int64, c_size_t, c_uint16, c_void_p

RD_KAFKA_PRODUCER = 0
RD_KAFKA_CONF_OK = 0

# rd_kafka_admin_op_t
OP_DELETEGROUPS = 7
OP_LISTCONSUMERGROUPS = 12
OP_DESCRIBECONSUMERGROUPS = 13
OP_LISTCONSUMERGROUPOFFSETS = 14
OP_ALTERCONSUMERGROUPOFFSETS = 15

# rd_kafka_consumer_group_state_t, by the names Kafka gives the states.
GROUP_STATES = {
    "PreparingRebalance": 1,
    "CompletingRebalance": 2,
    "Stable": 3,
    "Dead": 4,
    "Empty": 5,
}


class TopicPartition(ctypes.Structure):
    _fields_ = [
        ("topic", c_char_p),
        ("partition", c_int32),
        ("offset", c_int64),
        ("metadata", c_void_p),
        ("metadata_size", c_size_t),
        ("opaque", c_void_p),
        ("err", c_int),
        ("_private", c_void_p),
    ]


class TopicPartitionList(ctypes.Structure):
    _fields_ = [("cnt", c_int), ("size", c_int), ("elems", POINTER(TopicPartition))]


TPLIST = POINTER(TopicPartitionList)


def _load():
    lib = ctypes.CDLL("librdkafka.so.1")
    # Without an explicit restype ctypes assumes int, which would cut 64-bit pointers in half.
    signatures = {
        "rd_kafka_version_str": (c_char_p, []),
        "rd_kafka_name": (c_char_p, [c_void_p]),
        "rd_kafka_rebalance_protocol": (c_char_p, [c_void_p]),
        "rd_kafka_err2name": (c_char_p, [c_int]),
        "rd_kafka_conf_new": (c_void_p, []),
        "rd_kafka_conf_set": (c_int, [c_void_p, c_char_p, c_char_p, c_char_p, c_size_t]),
        "rd_kafka_new": (c_void_p, [c_int, c_void_p, c_char_p, c_size_t]),
        "rd_kafka_destroy": (None, [c_void_p]),
        "rd_kafka_queue_new": (c_void_p, [c_void_p]),
        "rd_kafka_queue_destroy": (None, [c_void_p]),
        "rd_kafka_queue_poll": (c_void_p, [c_void_p, c_int]),
        "rd_kafka_event_destroy": (None, [c_void_p]),
        "rd_kafka_event_error": (c_int, [c_void_p]),
        "rd_kafka_event_error_string": (c_char_p, [c_void_p]),
        "rd_kafka_error_code": (c_int, [c_void_p]),
        "rd_kafka_error_string": (c_char_p, [c_void_p]),
        "rd_kafka_error_destroy": (None, [c_void_p]),
        "rd_kafka_AdminOptions_new": (c_void_p, [c_void_p, c_int]),
        "rd_kafka_AdminOptions_destroy": (None, [c_void_p]),
        "rd_kafka_AdminOptions_set_request_timeout": (c_int, [c_void_p, c_int, c_char_p, c_size_t]),
        "rd_kafka_AdminOptions_set_match_consumer_group_states": (c_void_p, [c_void_p, POINTER(c_int), c_size_t]),
        "rd_kafka_topic_partition_list_new": (TPLIST, [c_int]),
        "rd_kafka_topic_partition_list_add": (POINTER(TopicPartition), [TPLIST, c_char_p, c_int32]),
        "rd_kafka_topic_partition_list_destroy": (None, [TPLIST]),
        "rd_kafka_consumer_group_state_name": (c_char_p, [c_int]),
        "rd_kafka_ListConsumerGroups": (None, [c_void_p, c_void_p, c_void_p]),
        "rd_kafka_event_ListConsumerGroups_result": (c_void_p, [c_void_p]),
        "rd_kafka_ListConsumerGroups_result_valid": (POINTER(c_void_p), [c_void_p, POINTER(c_size_t)]),
        "rd_kafka_ListConsumerGroups_result_errors": (POINTER(c_void_p), [c_void_p, POINTER(c_size_t)]),
        "rd_kafka_ConsumerGroupListing_group_id": (c_char_p, [c_void_p]),
        "rd_kafka_ConsumerGroupListing_is_simple_consumer_group": (c_int, [c_void_p]),
        "rd_kafka_ConsumerGroupListing_state": (c_int, [c_void_p]),
        "rd_kafka_DescribeConsumerGroups": (None, [c_void_p, POINTER(c_char_p), c_size_t, c_void_p, c_void_p]),
        "rd_kafka_event_DescribeConsumerGroups_result": (c_void_p, [c_void_p]),
        "rd_kafka_DescribeConsumerGroups_result_groups": (POINTER(c_void_p), [c_void_p, POINTER(c_size_t)]),
        "rd_kafka_ConsumerGroupDescription_group_id": (c_char_p, [c_void_p]),
        "rd_kafka_ConsumerGroupDescription_error": (c_void_p, [c_void_p]),
        "rd_kafka_ConsumerGroupDescription_is_simple_consumer_group": (c_int, [c_void_p]),
        "rd_kafka_ConsumerGroupDescription_partition_assignor": (c_char_p, [c_void_p]),
        "rd_kafka_ConsumerGroupDescription_state": (c_int, [c_void_p]),
        "rd_kafka_ConsumerGroupDescription_coordinator": (c_void_p, [c_void_p]),
        "rd_kafka_ConsumerGroupDescription_member_count": (c_size_t, [c_void_p]),
        "rd_kafka_ConsumerGroupDescription_member": (c_void_p, [c_void_p, c_size_t]),
        "rd_kafka_Node_id": (c_int, [c_void_p]),
        "rd_kafka_Node_host": (c_char_p, [c_void_p]),
        "rd_kafka_Node_port": (c_uint16, [c_void_p]),
        "rd_kafka_MemberDescription_client_id": (c_char_p, [c_void_p]),
        "rd_kafka_MemberDescription_group_instance_id": (c_char_p, [c_void_p]),
        "rd_kafka_MemberDescription_consumer_id": (c_char_p, [c_void_p]),
        "rd_kafka_MemberDescription_host": (c_char_p, [c_void_p]),
        "rd_kafka_MemberDescription_assignment": (c_void_p, [c_void_p]),
        "rd_kafka_MemberAssignment_partitions": (TPLIST, [c_void_p]),
        "rd_kafka_DeleteGroup_new": (c_void_p, [c_char_p]),
        "rd_kafka_DeleteGroup_destroy_array": (None, [POINTER(c_void_p), c_size_t]),
        "rd_kafka_DeleteGroups": (None, [c_void_p, POINTER(c_void_p), c_size_t, c_void_p, c_void_p]),
        "rd_kafka_event_DeleteGroups_result": (c_void_p, [c_void_p]),
        "rd_kafka_DeleteGroups_result_groups": (POINTER(c_void_p), [c_void_p, POINTER(c_size_t)]),
        "rd_kafka_group_result_error": (c_void_p, [c_void_p]),
        "rd_kafka_group_result_name": (c_char_p, [c_void_p]),
        "rd_kafka_group_result_partitions": (TPLIST, [c_void_p]),
        "rd_kafka_ListConsumerGroupOffsets_new": (c_void_p, [c_char_p, TPLIST]),
        "rd_kafka_ListConsumerGroupOffsets_destroy_array": (None, [POINTER(c_void_p), c_size_t]),
        "rd_kafka_ListConsumerGroupOffsets": (None, [c_void_p, POINTER(c_void_p), c_size_t, c_void_p, c_void_p]),
        "rd_kafka_event_ListConsumerGroupOffsets_result": (c_void_p, [c_void_p]),
        "rd_kafka_ListConsumerGroupOffsets_result_groups": (POINTER(c_void_p), [c_void_p, POINTER(c_size_t)]),
        "rd_kafka_AlterConsumerGroupOffsets_new": (c_void_p, [c_char_p, TPLIST]),
        "rd_kafka_AlterConsumerGroupOffsets_destroy_array": (None, [POINTER(c_void_p), c_size_t]),
        "rd_kafka_AlterConsumerGroupOffsets": (None, [c_void_p, POINTER(c_void_p), c_size_t, c_void_p, c_void_p]),
        "rd_kafka_event_AlterConsumerGroupOffsets_result": (c_void_p, [c_void_p]),
        "rd_kafka_AlterConsumerGroupOffsets_result_groups": (POINTER(c_void_p), [c_void_p, POINTER(c_size_t)]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


_lib = _load()


class AdminError(Exception):
    """A request-level failure: the whole admin call failed, not one group of it."""


def _text(value):
    return None if value is None else value.decode()


def _error(err):
    """An rd_kafka_error_t as {code, name, message}, or None for no error."""
    if not err:
        return None
    code = _lib.rd_kafka_error_code(err)
    return {"code": code, "name": _err_name(code), "message": _text(_lib.rd_kafka_error_string(err))}


def _err_name(code):
    return _text(_lib.rd_kafka_err2name(code))


def _state_name(state):
    return _text(_lib.rd_kafka_consumer_group_state_name(state))


def _partitions(tplist):
    if not tplist:
        return []
    out = []
    for i in range(tplist.contents.cnt):
        tp = tplist.contents.elems[i]
        entry = {"topic": _text(tp.topic), "partition": tp.partition, "offset": tp.offset}
        if tp.err:
            entry["error"] = _err_name(tp.err)
        out.append(entry)
    return sorted(out, key=lambda e: (e["topic"], e["partition"]))


def _array(pointer, count):
    return [pointer[i] for i in range(count.value)]


class Admin:
    def __init__(self, bootstrap, timeout_ms=15_000):
        self._timeout_ms = timeout_ms
        errstr = ctypes.create_string_buffer(512)
        conf = _lib.rd_kafka_conf_new()
        status = _lib.rd_kafka_conf_set(conf, b"bootstrap.servers", bootstrap.encode(), errstr, len(errstr))
        if status != RD_KAFKA_CONF_OK:
            raise AdminError(_text(errstr.value))
        # rd_kafka_new takes the configuration over, on success only.
        self._rk = _lib.rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, len(errstr))
        if not self._rk:
            raise AdminError(_text(errstr.value))
        self._queue = _lib.rd_kafka_queue_new(self._rk)

    def close(self):
        _lib.rd_kafka_queue_destroy(self._queue)
        _lib.rd_kafka_destroy(self._rk)

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()

    def _options(self, op):
        options = _lib.rd_kafka_AdminOptions_new(self._rk, op)
        errstr = ctypes.create_string_buffer(512)
        _lib.rd_kafka_AdminOptions_set_request_timeout(options, self._timeout_ms, errstr, len(errstr))
        return options

    def _call(self, op, start, result_of, configure=None):
        """Starts one admin request and waits for its result event; returns read(result)."""
        options = self._options(op)
        try:
            if configure:
                configure(options)
            start(options)
            event = _lib.rd_kafka_queue_poll(self._queue, self._timeout_ms + 5_000)
        finally:
            _lib.rd_kafka_AdminOptions_destroy(options)
        if not event:
            raise AdminError("no result within the request timeout")
        try:
            if _lib.rd_kafka_event_error(event):
                raise AdminError(_text(_lib.rd_kafka_event_error_string(event)))
            return result_of(event)
        finally:
            _lib.rd_kafka_event_destroy(event)

    def list_consumer_groups(self, states=()):
        def configure(options):
            wanted = (c_int * len(states))(*(GROUP_STATES[s] for s in states))
            err = _lib.rd_kafka_AdminOptions_set_match_consumer_group_states(options, wanted, len(states))
            if err:
                problem = _error(err)
                _lib.rd_kafka_error_destroy(err)
                raise AdminError(problem["message"])

        def read(event):
            result = _lib.rd_kafka_event_ListConsumerGroups_result(event)
            count = c_size_t()
            valid = _lib.rd_kafka_ListConsumerGroups_result_valid(result, byref(count))
            groups = [
                {
                    "group_id": _text(_lib.rd_kafka_ConsumerGroupListing_group_id(g)),
                    "is_simple": bool(_lib.rd_kafka_ConsumerGroupListing_is_simple_consumer_group(g)),
                    "state": _state_name(_lib.rd_kafka_ConsumerGroupListing_state(g)),
                }
                for g in _array(valid, count)
            ]
            errors = _lib.rd_kafka_ListConsumerGroups_result_errors(result, byref(count))
            return {
                "groups": sorted(groups, key=lambda g: g["group_id"]),
                "errors": [_error(e) for e in _array(errors, count)],
            }

        return self._call(
            OP_LISTCONSUMERGROUPS,
            lambda options: _lib.rd_kafka_ListConsumerGroups(self._rk, options, self._queue),
            read,
            configure if states else None,
        )

    def describe_consumer_groups(self, group_ids):
        names = (c_char_p * len(group_ids))(*(g.encode() for g in group_ids))

        def member(m):
            assignment = _lib.rd_kafka_MemberDescription_assignment(m)
            return {
                "client_id": _text(_lib.rd_kafka_MemberDescription_client_id(m)),
                "group_instance_id": _text(_lib.rd_kafka_MemberDescription_group_instance_id(m)),
                "consumer_id": _text(_lib.rd_kafka_MemberDescription_consumer_id(m)),
                "host": _text(_lib.rd_kafka_MemberDescription_host(m)),
                "assignment": _partitions(_lib.rd_kafka_MemberAssignment_partitions(assignment)) if assignment else [],
            }

        def describe(g):
            coordinator = _lib.rd_kafka_ConsumerGroupDescription_coordinator(g)
            count = _lib.rd_kafka_ConsumerGroupDescription_member_count(g)
            return {
                "group_id": _text(_lib.rd_kafka_ConsumerGroupDescription_group_id(g)),
                "error": _error(_lib.rd_kafka_ConsumerGroupDescription_error(g)),
                "is_simple": bool(_lib.rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(g)),
                "partition_assignor": _text(_lib.rd_kafka_ConsumerGroupDescription_partition_assignor(g)),
                "state": _state_name(_lib.rd_kafka_ConsumerGroupDescription_state(g)),
                "coordinator": {
                    "id": _lib.rd_kafka_Node_id(coordinator),
                    "host": _text(_lib.rd_kafka_Node_host(coordinator)),
                    "port": _lib.rd_kafka_Node_port(coordinator),
                }
                if coordinator
                else None,
                "members": [member(_lib.rd_kafka_ConsumerGroupDescription_member(g, i)) for i in range(count)],
            }

        def read(event):
            result = _lib.rd_kafka_event_DescribeConsumerGroups_result(event)
            count = c_size_t()
            groups = _lib.rd_kafka_DescribeConsumerGroups_result_groups(result, byref(count))
            return [describe(g) for g in _array(groups, count)]

        return self._call(
            OP_DESCRIBECONSUMERGROUPS,
            lambda options: _lib.rd_kafka_DescribeConsumerGroups(self._rk, names, len(group_ids), options, self._queue),
            read,
        )

    @staticmethod
    def _group_results(groups, count):
        return [
            {
                "group_id": _text(_lib.rd_kafka_group_result_name(g)),
                "error": _error(_lib.rd_kafka_group_result_error(g)),
                "partitions": _partitions(_lib.rd_kafka_group_result_partitions(g)),
            }
            for g in _array(groups, count)
        ]

    def delete_consumer_groups(self, group_ids):
        requests = (c_void_p * len(group_ids))(*(_lib.rd_kafka_DeleteGroup_new(g.encode()) for g in group_ids))

        def read(event):
            count = c_size_t()
            result = _lib.rd_kafka_event_DeleteGroups_result(event)
            groups = _lib.rd_kafka_DeleteGroups_result_groups(result, byref(count))
            return self._group_results(groups, count)

        try:
            return self._call(
                OP_DELETEGROUPS,
                lambda options: _lib.rd_kafka_DeleteGroups(self._rk, requests, len(group_ids), options, self._queue),
                read,
            )
        finally:
            _lib.rd_kafka_DeleteGroup_destroy_array(requests, len(group_ids))

    def list_consumer_group_offsets(self, group_id, partitions=None):
        """The group's committed offsets: of `partitions` ([(topic, partition)]), or all of them."""
        tplist = self._tplist([(t, p, -1) for t, p in partitions]) if partitions is not None else None
        requests = (c_void_p * 1)(_lib.rd_kafka_ListConsumerGroupOffsets_new(group_id.encode(), tplist))

        def read(event):
            count = c_size_t()
            result = _lib.rd_kafka_event_ListConsumerGroupOffsets_result(event)
            groups = _lib.rd_kafka_ListConsumerGroupOffsets_result_groups(result, byref(count))
            return self._group_results(groups, count)[0]

        try:
            return self._call(
                OP_LISTCONSUMERGROUPOFFSETS,
                lambda options: _lib.rd_kafka_ListConsumerGroupOffsets(self._rk, requests, 1, options, self._queue),
                read,
            )
        finally:
            _lib.rd_kafka_ListConsumerGroupOffsets_destroy_array(requests, 1)
            if tplist:
                _lib.rd_kafka_topic_partition_list_destroy(tplist)

    def alter_consumer_group_offsets(self, group_id, offsets):
        """Sets the group's committed offsets: `offsets` is [(topic, partition, offset)]."""
        tplist = self._tplist(offsets)
        requests = (c_void_p * 1)(_lib.rd_kafka_AlterConsumerGroupOffsets_new(group_id.encode(), tplist))

        def read(event):
            count = c_size_t()
            result = _lib.rd_kafka_event_AlterConsumerGroupOffsets_result(event)
            groups = _lib.rd_kafka_AlterConsumerGroupOffsets_result_groups(result, byref(count))
            return self._group_results(groups, count)[0]

        try:
            return self._call(
                OP_ALTERCONSUMERGROUPOFFSETS,
                lambda options: _lib.rd_kafka_AlterConsumerGroupOffsets(self._rk, requests, 1, options, self._queue),
                read,
            )
        finally:
            _lib.rd_kafka_AlterConsumerGroupOffsets_destroy_array(requests, 1)
            _lib.rd_kafka_topic_partition_list_destroy(tplist)

    @staticmethod
    def _tplist(entries):
        tplist = _lib.rd_kafka_topic_partition_list_new(len(entries))
        for topic, partition, offset in entries:
            _lib.rd_kafka_topic_partition_list_add(tplist, topic.encode(), partition).contents.offset = offset
        return tplist


def rebalance_protocol(consumer, client_id):
    """librdkafka's rd_kafka_rebalance_protocol() for a confluent-kafka Consumer: "EAGER",
    "COOPERATIVE", or "NONE" outside a group.

    confluent-kafka 1.7 keeps the rd_kafka_t pointer as the first field after the object header
    of its Consumer (its C struct Handle). The pointer is used only if rd_kafka_name() of it
    names this consumer, and None is returned otherwise.
    """
    if hasattr(consumer, "rebalance_protocol"):
        return consumer.rebalance_protocol()
    header = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(c_void_p)  # ob_refcnt, ob_type
    rk = c_void_p.from_address(id(consumer) + header).value
    if not rk:
        return None
    # librdkafka names a handle "<client.id>#consumer-<n>".
    if not (_text(_lib.rd_kafka_name(rk)) or "").startswith(f"{client_id}#consumer-"):
        return None
    return _text(_lib.rd_kafka_rebalance_protocol(rk))
