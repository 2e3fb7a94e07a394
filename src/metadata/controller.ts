import { log } from '../log.js';
import { completeReassignment, electOnBrokerChange, electPreferred } from './elections.js';
import { NO_LEADER, type PartitionImage } from './image.js';
import type { MetadataStore } from './store.js';

export interface ControllerSettings {
  nodeId: number;
  /** unclean.leader.election.enable of a topic (its override, else the broker's). */
  uncleanElection: (topic: string) => boolean;
  /** auto.leader.rebalance.enable. */
  autoLeaderRebalance: boolean;
  /** leader.imbalance.check.interval.seconds, in ms. */
  rebalanceIntervalMs: number;
}

/** Counts for /metrics, as Kafka's controller reports them. */
export interface ControllerStats {
  active: boolean;
  elections: number;
  uncleanElections: number;
}

/**
 * The cluster's controller, on whichever broker holds the controller key in etcd (a new one
 * takes over within a session timeout when it dies). It watches the brokers and moves
 * leadership when a leader goes (lease expired) or stops (controlled shutdown), takes
 * departed brokers out of ISRs, finishes reassignments once the new replicas are in sync, and
 * gives leadership back to preferred replicas. Every change is a compare-and-set on the
 * partition epoch, so a controller that lost its role meanwhile changes nothing.
 */
export class Controller {
  readonly stats: ControllerStats = { active: false, elections: 0, uncleanElections: 0 };
  private running = false;
  private again = false;
  private rebalanceTimer: NodeJS.Timeout | null = null;
  private stopListening: (() => void) | null = null;

  constructor(
    private readonly store: MetadataStore,
    private readonly settings: ControllerSettings,
  ) {}

  start(): void {
    this.stopListening = this.store.onChange((c) => {
      if (c.controller || c.brokers || c.topics.size > 0) this.kick();
    });
    this.rebalanceTimer = setInterval(() => this.kick(true), this.settings.rebalanceIntervalMs);
    this.rebalanceTimer.unref();
    this.kick();
  }

  stop(): void {
    this.stopListening?.();
    if (this.rebalanceTimer) clearInterval(this.rebalanceTimer);
    this.stats.active = false;
  }

  private get isActive(): boolean {
    return this.store.image.controllerId === this.settings.nodeId;
  }

  /** Runs a pass now, or right after the one under way: passes never overlap. */
  private kick(rebalance = false): void {
    const active = this.isActive;
    if (active !== this.stats.active) {
      this.stats.active = active;
      if (active) log.info({ nodeId: this.settings.nodeId }, 'controller active');
    }
    if (!active) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.pass(rebalance)
      .catch((e: unknown) => log.warn({ err: (e as Error).message }, 'controller pass failed; the next change retries'))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async pass(rebalance: boolean): Promise<void> {
    for (const t of this.store.image.allTopics()) {
      for (let i = 0; i < t.partitions.length; i++) {
        if (!this.isActive) return;
        const state = t.partitions[i];
        if (state.partitionEpoch < 0) continue;
        const next = this.decide(t.name, state, rebalance);
        if (!next) continue;
        const changedLeader = next.leader !== state.leader;
        if (await this.store.alterPartition(t.name, i, state.partitionEpoch, next)) {
          if (changedLeader) {
            this.stats.elections++;
            log.info({ partition: `${t.name}-${i}`, leader: next.leader, leaderEpoch: next.leaderEpoch, isr: next.isr, was: state.leader }, 'leader elected');
          }
        }
      }
    }
  }

  private decide(topic: string, state: PartitionImage, rebalance: boolean): PartitionImage | null {
    const image = this.store.image;
    const reassigned = completeReassignment(state, image);
    if (reassigned) return reassigned;
    // A leader a cancelled reassignment left outside the replicas hands over.
    if (state.leader !== NO_LEADER && !state.replicas.includes(state.leader)) {
      return electOnBrokerChange({ ...state, leader: NO_LEADER, isr: state.isr.filter((id) => state.replicas.includes(id)) }, image, false)?.next ?? null;
    }
    const unclean = this.settings.uncleanElection(topic);
    const elected = electOnBrokerChange(state, image, unclean);
    if (elected) {
      if (elected.unclean) {
        this.stats.uncleanElections++;
        log.error(
          { topic, leader: elected.next.leader, lostIsr: state.isr },
          'unclean leader election: an out-of-sync replica leads, and records only the lost in-sync replicas had are gone',
        );
      }
      return elected.next;
    }
    return rebalance && this.settings.autoLeaderRebalance ? electPreferred(state, image) : null;
  }
}
