import { Reader } from './primitives/reader.js';
import { Writer } from './primitives/writer.js';
import { ProtocolError } from './protocol-error.js';
import { ApiKey, apiByKey } from './generated/api-table.js';
import { RequestHeaderCodec, type RequestHeader } from './generated/messages/request-header.js';
import { ResponseHeaderCodec } from './generated/messages/response-header.js';

function isFlexible(apiKey: number, apiVersion: number): boolean {
  const from = apiByKey(apiKey)?.flexibleFrom;
  return from !== undefined && from !== null && apiVersion >= from;
}

/** Header v2 for flexible API versions, else v1; v0 survives only in ControlledShutdown v0. */
export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ApiKey.ControlledShutdown && apiVersion === 0) return 0;
  return isFlexible(apiKey, apiVersion) ? 2 : 1;
}

/**
 * Header v1 for flexible API versions, else v0. ApiVersions always answers with v0, so a
 * client that does not yet know what the broker speaks can read the reply.
 */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ApiKey.ApiVersions) return 0;
  return isFlexible(apiKey, apiVersion) ? 1 : 0;
}

/**
 * Reads a request header. The api key and version come first in every header version, so they
 * are peeked to choose the header version; an unknown api key gets header v1, which is enough
 * to answer with its correlation id.
 */
export function readRequestHeader(r: Reader): RequestHeader {
  if (r.remaining < 4) throw new ProtocolError('truncated', 'request shorter than its api key and version');
  const apiKey = r.buf.readInt16BE(r.pos);
  const apiVersion = r.buf.readInt16BE(r.pos + 2);
  return RequestHeaderCodec.read(r, requestHeaderVersion(apiKey, apiVersion));
}

/** A size-prefixed request frame, as a client sends it. */
export function encodeRequestFrame<T>(
  header: Omit<RequestHeader, 'requestApiKey' | 'requestApiVersion'>,
  apiKey: number,
  apiVersion: number,
  body: T,
): Buffer {
  const api = apiByKey(apiKey);
  if (!api) throw new ProtocolError('unsupported-version', `unknown api key ${apiKey}`);
  const w = new Writer();
  const size = w.reserveInt32();
  RequestHeaderCodec.write(w, { ...header, requestApiKey: apiKey, requestApiVersion: apiVersion }, requestHeaderVersion(apiKey, apiVersion));
  (api.request as { write(w: Writer, m: T, v: number): void }).write(w, body, apiVersion);
  w.patchInt32(size, w.pos - 4);
  return w.finish();
}

/** Writes a response header and body into `w`; the caller frames it (it may hold file regions). */
export function writeResponse<T>(w: Writer, correlationId: number, apiKey: number, apiVersion: number, body: T): void {
  const api = apiByKey(apiKey);
  if (!api) throw new ProtocolError('unsupported-version', `unknown api key ${apiKey}`);
  ResponseHeaderCodec.write(w, { correlationId }, responseHeaderVersion(apiKey, apiVersion));
  (api.response as { write(w: Writer, m: T, v: number): void }).write(w, body, apiVersion);
}

/** A size-prefixed response frame held entirely in memory. */
export function encodeResponseFrame<T>(correlationId: number, apiKey: number, apiVersion: number, body: T): Buffer {
  const w = new Writer();
  const size = w.reserveInt32();
  writeResponse(w, correlationId, apiKey, apiVersion, body);
  w.patchInt32(size, w.pos - 4);
  return w.finish();
}

export interface DecodedRequest {
  header: RequestHeader;
  body: unknown;
}

/**
 * Decodes a request frame without its size prefix: header, then the body by the api's codec.
 * An api key or version Sluice has no codec for is a ProtocolError of kind 'unsupported-version'
 * (the header is still readable from the error's caller through readRequestHeader).
 */
export function decodeRequestFrame(frame: Buffer): DecodedRequest {
  const r = new Reader(frame);
  const header = readRequestHeader(r);
  const api = apiByKey(header.requestApiKey);
  if (!api) throw new ProtocolError('unsupported-version', `unknown api key ${header.requestApiKey}`);
  return { header, body: api.request.read(r, header.requestApiVersion) };
}

/** Decodes a response frame without its size prefix, for a request of the given api and version. */
export function decodeResponseFrame(frame: Buffer, apiKey: number, apiVersion: number): { correlationId: number; body: unknown } {
  const api = apiByKey(apiKey);
  if (!api) throw new ProtocolError('unsupported-version', `unknown api key ${apiKey}`);
  const r = new Reader(frame);
  const { correlationId } = ResponseHeaderCodec.read(r, responseHeaderVersion(apiKey, apiVersion));
  return { correlationId, body: api.response.read(r, apiVersion) };
}
