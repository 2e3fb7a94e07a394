import type { ApiName } from '../protocol/generated/api-table.js';
import type { BrokerConnection, RequestOf, ResponseOf } from './connection.js';

/**
 * Sends a request whose shape depends on the version the connection negotiated (DeleteTopics
 * moved from names to topic states in v6, OffsetFetch to a list of groups in v8, LeaveGroup to a
 * list of members in v3): `build` is given that version.
 */
export function sendVersioned<N extends ApiName>(conn: BrokerConnection, name: N, build: (version: number) => RequestOf<N>): Promise<ResponseOf<N>> {
  const version = conn.versionFor(name);
  return conn.send(name, build(version), version);
}
