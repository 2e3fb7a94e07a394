import { resolve } from 'node:path';
import { PACKAGE_ROOT } from '../../package-root.js';

export const GENERATED_DIR = resolve(PACKAGE_ROOT, 'src/protocol/generated');

/** Kafka's specs sit beside the repository in development and CI, not on a user's machine. */
export function defaultSpecDir(): string {
  return process.env.SLUICE_PROTOCOL_SPECS ?? resolve(PACKAGE_ROOT, '../shared/kafka-protocol');
}

/** Specs of API versions newer than the reference set's (see specs/README.md). */
export const SPEC_OVERLAY_DIR = resolve(PACKAGE_ROOT, 'src/protocol/codegen/specs');
