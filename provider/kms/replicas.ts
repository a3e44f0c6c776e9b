// The calls that make a multi-Region replica key: ReplicateKey, sent in the primary key's Region, which is not
// idempotent, so it is never resent blindly; and the reads that tell a replica this create made from one already there.
import { setTimeout as sleep } from "node:timers/promises";
import { KeyMetadata, ReplicateKeyCommand } from "@aws-sdk/client-kms";
import { DesiredKey } from "../inputs";
import { addressOf, KeyAddress, KeyArn, placeOf } from "../keyAddress";
import type { ProviderSession } from "../session";
import { errorName, explain } from "./errors";
import { describeKey, outcomeUnknown, retryErrorType } from "./gateway";

/** What a create asks ReplicateKey for. */
export interface ReplicaRequest {
  /** The primary key, by its ARN, with the connection of its own Region. */
  primary: KeyAddress & { arn: KeyArn };
  /** The Region of the replica. */
  region: string;
  desired: DesiredKey;
}

export type Replicated =
  /** The replica this create made: ReplicateKey's answer, or, after an answer was lost, the replica found. */
  | { made: KeyMetadata }
  /** A replica of the key that the Region already had: its ARN. */
  | { existing: string };

/** How long a new replica may stay Creating ("after a few seconds", ReplicateKey) before the create gives up on it. */
const CREATING_WAIT_MS = 120_000;
const CREATING_POLL_MS = 1000;
/** How long a replica KMS says exists (AlreadyExistsException) may take to show in its Region (eventual consistency). */
const VISIBLE_WAIT_MS = 5000;

/** The replica's ARN: the primary key's, in the replica's Region (a key family shares partition, account and key ID). */
export function replicaArnOf(primary: KeyArn, region: string): string {
  return `arn:${primary.partition}:${primary.service}:${region}:${primary.account}:key/${primary.keyId}`;
}

/** The primary key as DescribeKey shows it; refused in plain words when KMS would not replicate it. */
export async function describePrimary(
  session: ProviderSession,
  primary: ReplicaRequest["primary"],
): Promise<KeyMetadata> {
  const arn = primary.arn.arn;
  const metadata = await describeKey(session, addressOf(arn, primary.connection));
  if (!metadata?.KeyId) {
    throw new Error(
      `cannot replicate the primary key: KMS has no key ${arn} in ${placeOf(primary.arn.account, primary.arn.region)} ` +
        `(KMS answered NotFoundException there). Check primaryKeyArn, and that this run's credentials are of account ${primary.arn.account}.`,
    );
  }
  const config = metadata.MultiRegionConfiguration;
  if (!metadata.MultiRegion || !config?.PrimaryKey?.Arn) {
    throw new Error(
      `cannot replicate ${arn}: it is a single-Region key, and KMS replicates only multi-Region primary keys (a KmsKey with multiRegion: true).`,
    );
  }
  if (config.PrimaryKey.Arn !== metadata.Arn) {
    throw new Error(
      `cannot replicate ${arn}: it is itself a replica key, and KMS replicates only primary keys; its primary key is ${config.PrimaryKey.Arn}: set primaryKeyArn to that.`,
    );
  }
  return metadata;
}

/**
 * ReplicateKey, with description, policy, tags and the lockout check as declared. Sent without the SDK's blind retries:
 * a reply lost after KMS made the replica would make the retry fail with AlreadyExistsException. Instead, the primary's
 * MultiRegionConfiguration is read before the first attempt; after an attempt whose outcome is unknown, a replica in
 * that Region that was not there before is this create's, whether found by its own DescribeKey or by a retry that
 * KMS answers with AlreadyExistsException. A replica that was there before is answered as `existing`.
 */
export async function replicateKey(session: ProviderSession, request: ReplicaRequest): Promise<Replicated> {
  const { primary, region, desired } = request;
  const replicaArn = replicaArnOf(primary.arn, region);
  const before = await describePrimary(session, primary);
  const hadReplica = (before.MultiRegionConfiguration?.ReplicaKeys ?? []).some((replica) => replica.Region === region);
  const once = session.client(primary.connection, { retries: false });
  const replicaAddress = addressOf(replicaArn, { ...primary.connection, region });
  const strategy = await session.client(primary.connection).config.retryStrategy();
  if (!("acquireInitialRetryToken" in strategy)) throw new Error("the AWS SDK's retry strategy is not of version 2");
  let retryToken = await strategy.acquireInitialRetryToken("kms");
  const command = new ReplicateKeyCommand({
    // By ID in the primary key's own Region, which names the same key (ReplicateKey never works across accounts).
    KeyId: primary.arn.keyId,
    ReplicaRegion: region,
    Description: desired.description,
    Policy: desired.policy,
    BypassPolicyLockoutSafetyCheck: desired.bypassPolicyLockoutSafetyCheck || undefined,
    Tags:
      Object.keys(desired.tags).length > 0
        ? Object.entries(desired.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue }))
        : undefined,
  });
  // Set once an attempt is handed to the HTTP handler: before that, KMS saw nothing.
  let sent = false;
  command.middlewareStack.add(
    (next) => async (args) => {
      sent = true;
      return next(args);
    },
    { step: "deserialize", priority: "low", name: "pulumiKmsKeyMarkReplicateSent" },
  );
  // An attempt KMS may have carried out without an answer reaching this process.
  let unanswered = false;
  /** The replica in the Region, when it can only be this create's: new since the first attempt, not another's. */
  const ours = async (waitMs = 0): Promise<KeyMetadata | undefined> => {
    if (!unanswered || hadReplica || session.isClaimed(replicaArn)) return undefined;
    const found = await visible(() => describeKey(session, replicaAddress), waitMs);
    if (found?.Arn) session.claim(found.Arn);
    return found;
  };
  for (;;) {
    sent = false;
    let err: unknown;
    try {
      const out = await once.send(command);
      const made = out.ReplicaKeyMetadata;
      if (!made?.Arn || !made.KeyId) throw new Error("ReplicateKey answered without a replica key");
      session.claim(made.Arn);
      return { made };
    } catch (caught) {
      err = caught;
    }
    if (errorName(err) === "AlreadyExistsException") {
      // KMS says the replica exists: after a lost answer, its Region may take a moment to show it.
      const found = await ours(VISIBLE_WAIT_MS);
      return found ? { made: found } : { existing: replicaArn };
    }
    const failure = explain(err, { operation: "ReplicateKey", keyId: primary.arn.arn }).message.replace(/\.$/, "");
    if (sent && outcomeUnknown(err)) {
      unanswered = true;
      // Found now: no second ReplicateKey. Not found (yet): the retry's AlreadyExistsException will tell.
      const found = await ours().catch(() => undefined);
      if (found) return { made: found };
    }
    const errorType = retryErrorType(err);
    if (errorType === "CLIENT_ERROR") throw explain(err, { operation: "ReplicateKey", keyId: primary.arn.arn });
    try {
      retryToken = await strategy.refreshRetryTokenForRetry(retryToken, { errorType });
    } catch {
      throw unanswered
        ? new Error(
            `${failure}. KMS may have made the replica ${replicaArn} all the same, and it could not be found: if it appears, import it (the import resource option) or schedule it for deletion.`,
          )
        : explain(err, { operation: "ReplicateKey", keyId: primary.arn.arn });
    }
    await sleep(retryToken.getRetryDelay());
  }
}

/** What `look` finds, polling for up to `waitMs` while it finds nothing (KMS is eventually consistent). */
async function visible<T>(look: () => Promise<T | undefined>, waitMs: number): Promise<T | undefined> {
  const giveUp = Date.now() + waitMs;
  for (;;) {
    const found = await look();
    if (found !== undefined || Date.now() >= giveUp) return found;
    await sleep(500);
  }
}

/**
 * The replica once KMS has finished making it: a new replica is Creating for a few seconds (ReplicateKey), in which
 * KMS refuses EnableKey and DisableKey (key state table, footnote [14]).
 */
export async function settledReplica(
  session: ProviderSession,
  address: KeyAddress,
  metadata: KeyMetadata,
): Promise<KeyMetadata> {
  const arn = metadata.Arn ?? metadata.KeyId ?? "";
  const giveUp = Date.now() + CREATING_WAIT_MS;
  let current = metadata;
  while (current.KeyState === "Creating") {
    if (Date.now() >= giveUp) {
      throw new Error(
        `KMS key ${arn} is still Creating ${CREATING_WAIT_MS / 1000} s after ReplicateKey; run pulumi up again when KMS has made it`,
      );
    }
    await sleep(CREATING_POLL_MS);
    const described = await describeKey(session, address);
    if (!described) throw new Error(`KMS key ${arn} was made by ReplicateKey and is gone already (NotFoundException)`);
    current = described;
  }
  return current;
}
