import type { TestCluster } from '../cluster.js';
import type { BrokerProcess } from '../test-broker.js';
import type { Disruption } from './checker.js';
import { fullIsr, leaderOf, sleep, waitForViews } from './cluster-state.js';

/**
 * The faults, after Jepsen's Kafka and Redpanda analyses:
 * - kill-leader: SIGKILL the leader of a partition, start it again after a while;
 * - pause: SIGSTOP the leader of a partition for longer than broker.session.timeout.ms, then
 *   SIGCONT: a zombie that still believes it leads while another broker does;
 * - cut: take the leader of a partition off the network (the other brokers, etcd and the
 *   clients) for longer than the session timeout, then heal;
 * - restart-etcd: stop the metadata store, start it again on its data;
 * - rolling-restart: SIGTERM each broker in turn (the controller last), start it again, and
 *   wait for the in-sync replicas to fill before the next one, as an operator would;
 * - stale-replica: cut a follower off until it has left every ISR, SIGKILL the two in-sync
 *   brokers, heal the stale one, and start the others only after a session timeout. Without
 *   unclean leader election the partitions wait for an in-sync replica; with it, the stale
 *   replica leads and what only the killed ones had is gone.
 */
export const FAULT_KINDS = ['kill-leader', 'pause', 'cut', 'restart-etcd', 'rolling-restart', 'stale-replica'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRecord {
  kind: FaultKind;
  /** What was done, in words. */
  what: string;
  startMs: number;
  /** When the cluster was whole again: restarted, resumed, healed. */
  healedMs: number;
  /** The moments it took something away; recovery is timed from each. */
  disruptions: Disruption[];
  /** Anything unexpected on the way: an unclean exit, an ISR that did not fill in time. */
  notes: string[];
}

export interface NemesisOptions {
  topic: string;
  partitions: number;
  /** broker.session.timeout.ms: a zombie or cut leader stays away longer than this. */
  sessionTimeoutMs: number;
  /** replica.lag.time.max.ms. */
  lagTimeMs: number;
  /** How long a killed broker stays down, and etcd too. */
  faultMs: number;
  random: () => number;
  log: (line: string) => void;
}

/** How long a broker restarted by a fault may take to be back in every ISR. */
const REJOIN_TIMEOUT_MS = 60_000;

/** Injects faults into a running cluster, one at a time, each healed before it returns. */
export class Nemesis {
  /** The logs of broker processes that are gone, by node id. */
  private readonly pastLogs = new Map<number, string[][]>();
  /** The process each broker runs as, or last ran as if it died by itself. */
  private readonly current = new Map<number, BrokerProcess>();
  private readonly down = new Set<number>();
  private readonly paused = new Set<number>();
  private readonly cutOff = new Set<number>();
  private etcdDown = false;

  constructor(
    private readonly cluster: TestCluster,
    private readonly opts: NemesisOptions,
  ) {
    for (const id of cluster.ids) this.current.set(id, cluster.broker(id));
  }

  /** Runs one fault to its end; whatever it left broken when it failed is healed before it throws. */
  async inject(kind: FaultKind): Promise<FaultRecord> {
    const record: FaultRecord = { kind, what: '', startMs: Date.now(), healedMs: 0, disruptions: [], notes: [] };
    try {
      await this.faults[kind](record);
    } finally {
      record.notes.push(...this.deaths());
      await this.healAll();
      record.healedMs = Date.now();
    }
    return record;
  }

  /** Brokers that exited although no fault stopped them: each is a finding, and is started again. */
  deaths(): string[] {
    const out: string[] = [];
    for (const [id, p] of this.current) {
      if (this.down.has(id) || (p.child.exitCode === null && p.child.signalCode === null)) continue;
      out.push(`broker ${id} exited by itself (${p.child.exitCode ?? p.child.signalCode})`);
      this.retire(id);
      this.down.add(id);
    }
    return out;
  }

  private readonly faults: Record<FaultKind, (r: FaultRecord) => Promise<void>> = {
    'kill-leader': async (r) => {
      const { leader, partition } = await this.someLeader();
      r.what = `SIGKILL broker ${leader} (leader of ${partition}), start after ${this.opts.faultMs} ms`;
      await this.kill(leader, r);
      await sleep(this.opts.faultMs);
      await this.start(leader);
    },
    pause: async (r) => {
      const { leader, partition } = await this.someLeader();
      const ms = this.awayMs;
      r.what = `SIGSTOP broker ${leader} (leader of ${partition}) for ${ms} ms, then SIGCONT`;
      this.step(`SIGSTOP broker ${leader}`);
      this.cluster.pause(leader);
      this.paused.add(leader);
      this.disrupted(r);
      await sleep(ms);
      this.resume(leader);
    },
    cut: async (r) => {
      const { leader, partition } = await this.someLeader();
      const ms = this.awayMs;
      r.what = `cut broker ${leader} (leader of ${partition}) off the network for ${ms} ms`;
      this.step(`cut broker ${leader} off`);
      this.cluster.cut(leader);
      this.cutOff.add(leader);
      this.disrupted(r);
      await sleep(ms);
      this.heal(leader);
    },
    'restart-etcd': async (r) => {
      r.what = `stop etcd for ${this.opts.faultMs} ms, start it on its data`;
      this.step('stop etcd');
      this.etcdDown = true;
      this.disrupted(r);
      await this.cluster.stopEtcd();
      await sleep(this.opts.faultMs);
      await this.startEtcd();
    },
    'rolling-restart': async (r) => {
      const controller = await this.cluster.controllerId().catch(() => -1);
      const order = [...this.cluster.ids.filter((id) => id !== controller), ...this.cluster.ids.filter((id) => id === controller)];
      r.what = `SIGTERM and start brokers ${order.join(', ')} in turn, each once the ISRs are full`;
      for (const id of order) {
        this.step(`SIGTERM broker ${id}`);
        this.disrupted(r);
        this.retire(id);
        this.down.add(id);
        const code = await this.cluster.stop(id);
        if (code !== 0) r.notes.push(`broker ${id} exited with ${code} on SIGTERM`);
        await this.start(id);
        await this.waitForFullIsr(r, `after the restart of broker ${id}`);
      }
    },
    'stale-replica': async (r) => {
      const { leader, partition } = await this.someLeader();
      const stale = this.cluster.ids.find((id) => id !== leader && this.opts.random() < 0.5) ?? this.cluster.ids.find((id) => id !== leader)!;
      const others = this.cluster.ids.filter((id) => id !== stale);
      r.what = `cut broker ${stale} off until it left every ISR, SIGKILL ${others.join(' and ')} (${partition} led by ${leader}), heal ${stale}, start the others after ${this.awayMs} ms`;
      this.step(`cut broker ${stale} off`);
      this.cluster.cut(stale);
      this.cutOff.add(stale);
      this.disrupted(r);
      const left = await waitForViews(this.cluster, this.opts.topic, (p) => !p.isr.includes(stale), this.awayMs + this.opts.lagTimeMs + 20_000);
      if (!left.reached) r.notes.push(`broker ${stale} was still in some ISR when the others were killed`);
      // Writes that only the in-sync replicas take.
      await sleep(1000);
      this.step(`SIGKILL brokers ${others.join(', ')}`);
      await Promise.all(others.map((id) => this.kill(id, r)));
      this.heal(stale);
      await sleep(this.awayMs);
      for (const id of others) await this.start(id);
      await this.waitForFullIsr(r, 'after the stale replica and the killed brokers were back');
    },
  };

  /** Long enough that the broker's registration lapses, and then some. */
  private get awayMs(): number {
    return Math.max(this.opts.faultMs, this.opts.sessionTimeoutMs + 3000);
  }

  private step(what: string): void {
    this.opts.log(what);
  }

  /** Now, every partition may be unavailable: each broker holds a replica of each (RF = brokers), and acks=all waits for it. */
  private disrupted(r: FaultRecord): void {
    r.disruptions.push({ atMs: Date.now(), partitions: Array.from({ length: this.opts.partitions }, (_, i) => i) });
  }

  private async someLeader(): Promise<{ leader: number; partition: string }> {
    const p = Math.floor(this.opts.random() * this.opts.partitions);
    const leader = await leaderOf(this.cluster, this.opts.topic, p);
    const ids = this.cluster.ids;
    return { leader: leader >= 0 ? leader : ids[Math.floor(this.opts.random() * ids.length)], partition: `${this.opts.topic}-${p}` };
  }

  /** Keeps a broker process's log before it goes. */
  private retire(id: number): void {
    const p = this.current.get(id);
    if (p) this.pastLogs.set(id, [...(this.pastLogs.get(id) ?? []), p.output]);
    this.current.delete(id);
  }

  private async kill(id: number, r: FaultRecord): Promise<void> {
    this.step(`SIGKILL broker ${id}`);
    this.retire(id);
    this.down.add(id);
    this.disrupted(r);
    await this.cluster.kill(id);
  }

  private async start(id: number): Promise<void> {
    const began = Date.now();
    this.current.set(id, await this.cluster.start(id));
    this.down.delete(id);
    this.step(`started broker ${id} (${Date.now() - began} ms)`);
  }

  private resume(id: number): void {
    this.step(`SIGCONT broker ${id}`);
    this.cluster.resume(id);
    this.paused.delete(id);
  }

  private heal(id: number): void {
    this.step(`heal broker ${id}`);
    this.cluster.heal(id);
    this.cutOff.delete(id);
  }

  private async startEtcd(): Promise<void> {
    this.step('start etcd');
    await this.cluster.startEtcd();
    this.etcdDown = false;
  }

  private async waitForFullIsr(r: FaultRecord, when: string): Promise<void> {
    const { reached, views } = await waitForViews(this.cluster, this.opts.topic, fullIsr, REJOIN_TIMEOUT_MS);
    if (reached) return;
    const lacking = [...views].map(([id, v]) => `broker ${id}: ${v.filter((p) => !fullIsr(p)).map((p) => `${p.partition} isr [${p.isr}] leader ${p.leader}`).join(', ')}`);
    r.notes.push(`ISRs not full ${REJOIN_TIMEOUT_MS / 1000} s ${when}: ${lacking.join('; ')}`);
  }

  /** Undoes whatever is still in effect: etcd down, brokers paused, cut off or stopped. */
  async healAll(): Promise<void> {
    if (this.etcdDown) await this.startEtcd();
    for (const id of this.paused) this.resume(id);
    for (const id of this.cutOff) this.heal(id);
    for (const id of this.down) await this.start(id);
  }

  /** Every broker's log so far, its past processes first. */
  logs(): Map<number, string[]> {
    const out = new Map<number, string[]>();
    for (const id of this.cluster.ids) {
      const running = this.current.get(id);
      const processes = [...(this.pastLogs.get(id) ?? []), ...(running ? [running.output] : [])];
      out.set(id, processes.flatMap((lines, i) => [`--- process ${i + 1} ---`, ...lines]));
    }
    return out;
  }
}
