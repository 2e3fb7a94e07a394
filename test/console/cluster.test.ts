import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clusterSkip, loopbackNetwork, startCluster, type Settings, type TestCluster } from '../support/cluster.js';
import { browserSkip, openBrowser } from './browser.js';
import { eventually, http } from './console-fixtures.js';

const TOPIC = 'spread';

describe('the console of one broker of a three-broker cluster', { skip: clusterSkip('loopback'), timeout: 120_000 }, () => {
  let cluster: TestCluster;
  let base: string;
  const api = <T = any>(method: string, path: string, options?: Parameters<typeof http>[3]) => http<T>(base, method, path, options);

  before(async () => {
    // Only broker 1 serves a console: on its own loopback address, a port of the system's choice.
    cluster = await startCluster({ brokers: 3, addresses: 'loopback', overrides: (id): Settings => (id === 1 ? { 'sluice.console.listener': `${loopbackNetwork.host(1)}:0` } : {}) });
    base = await cluster.consoleUrl(1);
  });

  after(async () => {
    await cluster?.close();
  });

  test('lists every broker with its address, and the controller', async () => {
    const controllerId = await cluster.controllerId();
    const { status, body } = await api('GET', '/api/cluster');
    assert.equal(status, 200);
    assert.deepEqual([body.brokerId, body.controllerId], [1, controllerId]);
    assert.deepEqual(body.metadataStore, { kind: 'etcd', connected: true, writable: true, reason: null });
    assert.deepEqual(
      body.brokers.map((b: any) => [b.id, b.registered, b.address, b.shuttingDown, b.controller, b.self]),
      cluster.ids.map((id) => [id, true, cluster.address(id), false, id === controllerId, id === 1]),
    );
    const overview = (await api('GET', '/api/overview')).body;
    assert.deepEqual([overview.metadataStore, overview.brokers, overview.controllerId], ['etcd', 3, controllerId]);
  });

  test('a topic made through the console is spread over the brokers, each partition with its replicas and ISR', async () => {
    const created = await api('POST', '/api/topics', { json: { name: TOPIC, partitions: 3, replicationFactor: 3 } });
    assert.equal(created.status, 201, created.text);
    const detail = created.body;
    assert.deepEqual(
      detail.placement.map((p: any) => [p.partition, [...p.replicas].sort(), [...p.isr].sort(), p.offlineReplicas, p.offline, p.underReplicated]),
      [0, 1, 2].map((i) => [i, [1, 2, 3], [1, 2, 3], [], false, false]),
    );
    const leaders = detail.placement.map((p: any) => p.leader);
    assert.deepEqual([...leaders].sort(), [1, 2, 3], 'each broker leads one partition');
    assert.deepEqual(
      detail.partitionDetails.map((p: any) => [p.partition, p.role]),
      leaders.map((leader: number, i: number) => [i, leader === 1 ? 'leader' : 'follower']),
      'broker 1 holds a replica of every partition, and leads the one it is given',
    );

    // Produced through broker 1's console to a partition another broker leads: the console finds the leader.
    const elsewhere = leaders.findIndex((id: number) => id !== 1);
    const produced = await api('POST', `/api/topics/${TOPIC}/records`, { json: { partition: elsewhere, value: 'routed' } });
    assert.deepEqual([produced.status, produced.body.partition, produced.body.offset], [201, elsewhere, 0], produced.text);
    const followed = await eventually('broker 1 to replicate the record', async () => {
      const p = (await api('GET', `/api/topics/${TOPIC}`)).body.partitionDetails[elsewhere];
      return p.logEndOffset === 1 && p.highWatermark === 1 ? p : undefined;
    });
    assert.deepEqual([followed.role, followed.lag, followed.followers], ['follower', 0, []]);
    const read = await api('GET', `/api/topics/${TOPIC}/partitions/${elsewhere}/records`);
    assert.deepEqual(
      read.body.records.map((r: any) => r.value.text),
      ['routed'],
      'a follower’s records are browsed from its own log',
    );

    const led = leaders.indexOf(1);
    const leader = (await api('GET', `/api/topics/${TOPIC}`)).body.partitionDetails[led];
    assert.deepEqual(
      leader.followers.map((f: any) => f.id).sort(),
      [2, 3],
    );
    assert.ok(
      leader.followers.every((f: any) => f.inSync),
      JSON.stringify(leader.followers),
    );

    const summary = (await api('GET', '/api/cluster')).body;
    assert.deepEqual(
      summary.brokers.map((b: any) => [b.id, b.leaders >= 1, b.replicas >= 3]),
      [
        [1, true, true],
        [2, true, true],
        [3, true, true],
      ],
    );
    assert.deepEqual([summary.partitions.offline, summary.partitions.underReplicated], [0, 0]);
  });

  test('partitions with no replica here are placed but not shown as logs, nor browsed', async () => {
    const created = await api('POST', '/api/topics', { json: { name: 'single-copies', partitions: 3, replicationFactor: 1 } });
    assert.equal(created.status, 201, created.text);
    const { placement, partitionDetails, replicasHere } = created.body;
    const here = placement.filter((p: any) => p.replicas[0] === 1).map((p: any) => p.partition);
    assert.equal(here.length, 1, JSON.stringify(placement));
    assert.deepEqual(
      partitionDetails.map((p: any) => p.partition),
      here,
    );
    assert.equal(replicasHere, 1);
    const away = placement.find((p: any) => p.replicas[0] !== 1);
    const read = await api('GET', `/api/topics/single-copies/partitions/${away.partition}/records`);
    assert.equal(read.status, 404);
    assert.match(read.body.error, new RegExp(`holds no replica of single-copies-${away.partition} \\(brokers ${away.replicas[0]} do\\)`));
  });

  test('a broker that stops leaves its partitions under-replicated, its replicas offline, and shows as not registered', async () => {
    assert.equal(await cluster.stop(3), 0);
    const view = await eventually('broker 3 to be gone from the ISRs', async () => {
      const c = (await api('GET', '/api/cluster')).body;
      const mine = c.unhealthy.filter((p: any) => p.topic === TOPIC);
      return mine.length === 3 && mine.every((p: any) => !p.isr.includes(3)) ? c : undefined;
    });
    assert.deepEqual(
      view.brokers.map((b: any) => [b.id, b.registered, b.address]),
      [
        [1, true, cluster.address(1)],
        [2, true, cluster.address(2)],
        [3, false, null],
      ],
      'it still holds replicas, so it is listed',
    );
    assert.ok(view.partitions.underReplicated >= 3, JSON.stringify(view.partitions));
    const stranded = view.unhealthy.filter((p: any) => p.offline);
    assert.deepEqual(
      stranded.map((p: any) => [p.topic, p.leader, p.replicas, p.offlineReplicas]),
      [['single-copies', -1, [3], [3]]],
      'its only copy went with it',
    );
    assert.equal(view.partitions.offline, 1);
    const placement = (await api('GET', `/api/topics/${TOPIC}`)).body.placement;
    assert.deepEqual(
      placement.map((p: any) => [p.offlineReplicas, p.underReplicated, p.leader !== 3]),
      [0, 1, 2].map(() => [[3], true, true]),
    );
    const metrics = (await api('GET', '/metrics')).text;
    assert.match(metrics, /^kafka_server_replicamanager_isrshrinks_total \d+$/m);
  });

  test('in a browser: the brokers, the one gone, and the partitions it left short', { skip: browserSkip }, async () => {
    const { page, problems, shot, close } = await openBrowser();
    try {
      await page.goto(`${base}/#/cluster`);
      const brokers = page.getByRole('table', { name: 'Brokers' }).locator('tbody tr');
      // The heading comes first, the tables with the first answer.
      await brokers.first().waitFor();
      assert.equal(await brokers.count(), 3);
      assert.match(await brokers.nth(0).innerText(), /^1\s.*this broker/);
      assert.match(await brokers.nth(2).innerText(), /^3\s+not registered\s+—/);
      const attention = page.getByRole('table', { name: 'Partitions needing attention' }).locator('tbody tr');
      assert.match(await attention.filter({ hasText: 'single-copies' }).innerText(), /single-copies\s+\d+\s+none\s+\d+\s+3\s+3\s+3\s+offline$/);
      assert.equal(await attention.filter({ hasText: 'under-replicated' }).count(), 3);
      await shot('cluster-three-brokers');

      await page.getByRole('link', { name: TOPIC, exact: true }).first().click();
      await page.getByRole('heading', { name: `Topic ${TOPIC}` }).waitFor();
      const replicas = page.getByRole('table', { name: `Replicas of ${TOPIC}` }).locator('tbody tr');
      assert.equal(await replicas.count(), 3);
      for (let i = 0; i < 3; i++) assert.match(await replicas.nth(i).innerText(), /\b3\s+under-replicated$/, 'broker 3 is an offline replica');
      assert.equal(await page.getByRole('table', { name: `Partitions of ${TOPIC}` }).locator('tbody tr').count(), 3, 'broker 1 holds them all');
      await shot('topic-replicated');

      await page.getByRole('link', { name: 'Topics', exact: true }).click();
      const single = page.getByRole('table', { name: 'Topics' }).getByRole('row', { name: /^single-copies / });
      assert.match(await single.innerText(), /^single-copies\s+1 offline\s+3\s+1\s+0\b/, 'three partitions, one of them here');
      assert.match(await page.getByRole('row', { name: new RegExp(`^${TOPIC} `) }).innerText(), new RegExp(`^${TOPIC}\\s+3 under-replicated\\s+3\\s+all\\s+1\\b`));
      await shot('topics-cluster');
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });
});
