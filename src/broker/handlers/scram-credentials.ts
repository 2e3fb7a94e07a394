import { MetadataWriteError } from '../../metadata/store.js';
import type { ScramCredentialImage } from '../../metadata/image.js';
import { apis } from '../../protocol/generated/api-table.js';
import { ErrorCode } from '../../protocol/generated/errors.js';
import type { AlterUserScramCredentialsRequest, AlterUserScramCredentialsRequestScramCredentialUpsertion as ScramCredentialUpsertion } from '../../protocol/generated/messages/alter-user-scram-credentials-request.js';
import { createAlterUserScramCredentialsResponse } from '../../protocol/generated/messages/alter-user-scram-credentials-response.js';
import type { DescribeUserScramCredentialsRequest } from '../../protocol/generated/messages/describe-user-scram-credentials-request.js';
import { createDescribeUserScramCredentialsResponse } from '../../protocol/generated/messages/describe-user-scram-credentials-response.js';
import { credentialOf, MAX_ITERATIONS, MIN_ITERATIONS, scramMechanismNamed, scramMechanismOfType } from '../../security/scram/mechanisms.js';
import { credentialToImage } from '../../security/scram/stored.js';
import type { BrokerContext } from '../broker-context.js';
import { handler } from '../router.js';

type Outcome = { errorCode: number; errorMessage: string | null };
const OK: Outcome = { errorCode: ErrorCode.NONE, errorMessage: null };
const fail = (errorCode: number, errorMessage: string): Outcome => ({ errorCode, errorMessage });

/** DescribeUserScramCredentials: mechanisms and iterations of each user, never the keys. */
export function describeUserScramCredentialsHandler(ctx: BrokerContext) {
  return handler(apis.DescribeUserScramCredentials, 0, 0, (req: DescribeUserScramCredentialsRequest) => {
    const stored = ctx.metadata.scramCredentials;
    const res = createDescribeUserScramCredentialsResponse();
    const asked = req.users === null || req.users.length === 0 ? [...stored.keys()].sort() : req.users.map((u) => u.name);
    const counts = new Map<string, number>();
    for (const user of asked) counts.set(user, (counts.get(user) ?? 0) + 1);
    for (const user of new Set(asked)) {
      const credentials = stored.get(user);
      const outcome =
        counts.get(user)! > 1
          ? fail(ErrorCode.DUPLICATE_RESOURCE, `Cannot describe SCRAM credentials for the same user twice in a single request: ${user}`)
          : credentials
            ? OK
            : fail(ErrorCode.RESOURCE_NOT_FOUND, `Attempt to describe a user credential that does not exist: ${user}`);
      const credentialInfos = outcome === OK ? Object.entries(credentials!).map(([name, c]) => ({ mechanism: scramMechanismNamed(name)!.type, iterations: c.iterations })) : [];
      res.results.push({ user, ...outcome, credentialInfos });
    }
    return res;
  });
}

/** Why one change of a user's credentials cannot be made; null when it can. */
function refusal(user: string, change: { mechanism: number; upsert: ScramCredentialUpsertion | null }, current: Record<string, ScramCredentialImage>): Outcome | null {
  const mechanism = scramMechanismOfType(change.mechanism);
  const u = change.upsert;
  if (user === '') return fail(ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty');
  if (!mechanism) return fail(ErrorCode.UNSUPPORTED_SASL_MECHANISM, `Unknown SCRAM mechanism (type ${change.mechanism})`);
  if (!u) return current[mechanism.name] ? null : fail(ErrorCode.RESOURCE_NOT_FOUND, `Attempt to delete a user credential that does not exist: ${user} ${mechanism.name}`);
  if (u.iterations < MIN_ITERATIONS) return fail(ErrorCode.UNACCEPTABLE_CREDENTIAL, `Too few iterations: ${u.iterations} (at least ${MIN_ITERATIONS})`);
  if (u.iterations > MAX_ITERATIONS) return fail(ErrorCode.UNACCEPTABLE_CREDENTIAL, `Too many iterations: ${u.iterations} (at most ${MAX_ITERATIONS})`);
  if (u.salt.length === 0 || u.saltedPassword.length !== mechanism.keyLength) {
    return fail(ErrorCode.UNACCEPTABLE_CREDENTIAL, `The salt is empty or the salted password is not ${mechanism.keyLength} bytes`);
  }
  return null;
}

/**
 * AlterUserScramCredentials: upserts (from the salted password the client computed) and
 * deletions, all or nothing per user, as Kafka: any problem with one of a user's changes
 * fails all of that user's.
 */
export function alterUserScramCredentialsHandler(ctx: BrokerContext) {
  return handler(apis.AlterUserScramCredentials, 0, 0, async (req: AlterUserScramCredentialsRequest) => {
    const changes = [...req.deletions.map((d) => ({ ...d, upsert: null })), ...req.upsertions.map((u) => ({ ...u, upsert: u }))];
    const res = createAlterUserScramCredentialsResponse();
    for (const user of new Set(changes.map((c) => c.name))) {
      const mine = changes.filter((c) => c.name === user);
      const current = ctx.metadata.scramCredentials.get(user) ?? {};
      const twice = mine.find((c, i) => mine.findIndex((d) => d.mechanism === c.mechanism) !== i);
      const refused = twice
        ? fail(ErrorCode.DUPLICATE_RESOURCE, `A user credential cannot be altered twice in the same request: ${user} ${scramMechanismOfType(twice.mechanism)?.name ?? `type ${twice.mechanism}`}`)
        : mine.map((c) => refusal(user, c, current)).find((r) => r !== null);
      if (refused) {
        res.results.push({ user, ...refused });
        continue;
      }
      const next = { ...current };
      for (const { mechanism: type, upsert } of mine) {
        const mechanism = scramMechanismOfType(type)!;
        if (upsert) next[mechanism.name] = credentialToImage(credentialOf(mechanism, upsert.salt, upsert.saltedPassword, upsert.iterations));
        else delete next[mechanism.name];
      }
      res.results.push({ user, ...(await store(ctx, user, next)) });
    }
    return res;
  });
}

async function store(ctx: BrokerContext, user: string, credentials: Record<string, ScramCredentialImage>): Promise<Outcome> {
  try {
    await ctx.store.setScramCredentials(user, credentials);
    return OK;
  } catch (e) {
    if (e instanceof MetadataWriteError) return fail(e.errorCode, e.message);
    throw e;
  }
}
