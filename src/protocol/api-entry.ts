import type { MessageCodec } from './codec-runtime.js';

/** One API of the protocol: its key, its versions and the codecs of both directions. */
export interface ApiEntry<Req, Res> {
  readonly apiKey: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** First flexible version, or null when the API has none. */
  readonly flexibleFrom: number | null;
  readonly deprecatedVersions: readonly [number, number] | null;
  readonly request: MessageCodec<Req>;
  readonly response: MessageCodec<Res>;
}

export function api<Req, Res>(
  apiKey: number,
  name: string,
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
  deprecatedVersions: readonly [number, number] | null,
): ApiEntry<Req, Res> {
  return {
    apiKey,
    name,
    minVersion: request.minVersion,
    maxVersion: request.maxVersion,
    flexibleFrom: request.flexibleFrom,
    deprecatedVersions,
    request,
    response,
  };
}
