"""Produces over TLS with confluent-kafka or kafka-python, consumes the messages back, and prints
their values as a JSON array.

argv: <confluent|kafka-python> <host:port> <topic> <count> <ca file> [<cert file> <key file>]
"""
import json
import sys
import time

library, bootstrap, topic, count, cafile = sys.argv[1:6]
count = int(count)
certfile, keyfile = (sys.argv[6], sys.argv[7]) if len(sys.argv) > 7 else (None, None)
values = []
deadline = time.time() + 30

if library == 'confluent':
    from confluent_kafka import Consumer, Producer

    tls = {'bootstrap.servers': bootstrap, 'security.protocol': 'SSL', 'ssl.ca.location': cafile}
    if certfile:
        tls.update({'ssl.certificate.location': certfile, 'ssl.key.location': keyfile})
    producer = Producer(tls)
    for i in range(count):
        producer.produce(topic, f'confluent {i}'.encode())
    if producer.flush(20) != 0:
        sys.exit('messages left unsent')
    consumer = Consumer({**tls, 'group.id': f'confluent-{topic}', 'auto.offset.reset': 'earliest'})
    consumer.subscribe([topic])
    while len(values) < count and time.time() < deadline:
        m = consumer.poll(0.5)
        if m is None:
            continue
        if m.error():
            sys.exit(str(m.error()))
        values.append(m.value().decode())
    consumer.close()
else:
    from kafka import KafkaConsumer, KafkaProducer

    tls = {'bootstrap_servers': bootstrap, 'security_protocol': 'SSL', 'ssl_cafile': cafile, 'ssl_check_hostname': True}
    if certfile:
        tls.update({'ssl_certfile': certfile, 'ssl_keyfile': keyfile})
    producer = KafkaProducer(**tls)
    for i in range(count):
        producer.send(topic, f'kafka-python {i}'.encode())
    producer.flush(20)
    producer.close()
    consumer = KafkaConsumer(topic, group_id=f'kafka-python-{topic}', auto_offset_reset='earliest', **tls)
    while len(values) < count and time.time() < deadline:
        for records in consumer.poll(500).values():
            values.extend(r.value.decode() for r in records)
    consumer.close()

print(json.dumps(values))
