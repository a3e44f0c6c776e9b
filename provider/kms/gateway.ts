// The only place that talks to KMS: observes a key, makes the planned calls, creates keys without duplicates.
import { setTimeout as sleep } from "node:timers/promises";
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  KeyMetadata,
  KeySpec,
  KeyUsageType,
  KMSClient,
  ListKeysCommand,
  paginateListKeys,
  paginateListResourceTags,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  Tag,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateKeyDescriptionCommand,
} from "@aws-sdk/client-kms";
import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import { canonicalJson } from "../json";
import { Connection, DesiredKey } from "../inputs";
import type { KeyAddress } from "../keyAddress";
import { isPendingDeletion, KeyAction, ObservedKey, STATE_AFTER_CANCEL } from "../plan";
import { OWNER_TAG, userTags } from "../tags";
import type { ProviderSession } from "../session";
import { errorName, explain, isAccessDenied, isInvalidState, isNotFound, neverSent } from "./errors";

/** DescribeKey of a key where its address says it is; undefined when the key does not exist. */
export function describeKey(session: ProviderSession, address: KeyAddress): Promise<KeyMetadata | undefined> {
  return describeWith(session.client(address.connection), address.reference);
}

async function describeWith(client: KMSClient, keyId: string): Promise<KeyMetadata | undefined> {
  try {
    const out = await client.send(new DescribeKeyCommand({ KeyId: keyId }));
    return out.KeyMetadata;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    // The KMS error stays reachable: access denied may mean the key is in another account.
    throw Object.assign(explain(err, { operation: "DescribeKey", keyId }), { cause: err });
  }
}

/** Everything read() reports about a key; undefined only when KMS says the key does not exist. */
export async function readKey(session: ProviderSession, address: KeyAddress): Promise<ObservedKey | undefined> {
  const client = session.client(address.connection);
  const keyId = address.reference;
  const unreadable: string[] = [];
  // All four at once (one round trip, not two): the parts name the key exactly as DescribeKey does.
  const [described, policy, rotation, tags] = await Promise.allSettled([
    describeWith(client, keyId),
    readPart("policy", unreadable, async () => {
      const out = await client.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: "default" }));
      return out.Policy;
    }),
    readPart("rotation", unreadable, async () => readRotation(client, keyId)),
    readPart("tags", unreadable, async () => readTags(client, keyId)),
  ]);
  if (described.status === "rejected") throw described.reason;
  const metadata = described.value;
  // Gone: the parts' answers (NotFoundException too) say nothing more.
  if (!metadata?.KeyId) return undefined;
  for (const part of [policy, rotation, tags]) if (part.status === "rejected") throw part.reason;
  const value = <T>(part: PromiseSettledResult<T>): T | undefined =>
    part.status === "fulfilled" ? part.value : undefined;
  // KMS reports rotation as off while a key is pending deletion and restores it on cancel: the answer means nothing.
  const rotationHidden = isPendingDeletion(metadata.KeyState ?? "");
  return observedFrom(metadata, {
    policy: value(policy),
    rotation: rotationHidden ? undefined : value(rotation),
    tags: value(tags),
    ownerTag: tags.status === "fulfilled" && tags.value !== undefined ? (tags.value[OWNER_TAG] ?? null) : undefined,
    unreadable: rotationHidden ? unreadable.filter((part) => part !== "rotation") : unreadable,
  });
}

async function readPart<T>(part: string, unreadable: string[], read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    // A denied part doesn't fail the read: it is reported in `unreadable` instead.
    if (isAccessDenied(err)) {
      unreadable.push(part);
      return undefined;
    }
    throw explain(err, { operation: partOperation[part] ?? part });
  }
}

const partOperation: Record<string, string> = {
  policy: "GetKeyPolicy",
  rotation: "GetKeyRotationStatus",
  tags: "ListResourceTags",
};

interface Rotation {
  enabled: boolean;
  periodInDays?: number;
}

/** The rotation status; undefined when access to it is denied. */
export async function observeRotation(session: ProviderSession, address: KeyAddress): Promise<Rotation | undefined> {
  const client = session.client(address.connection);
  return readPart("rotation", [], async () => readRotation(client, address.keyId));
}

async function readRotation(client: KMSClient, keyId: string): Promise<Rotation> {
  try {
    const out = await client.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
    return { enabled: out.KeyRotationEnabled === true, periodInDays: out.RotationPeriodInDays };
  } catch (err) {
    // Asymmetric, HMAC and imported keys don't rotate; KMS says so with UnsupportedOperationException.
    if (errorName(err) === "UnsupportedOperationException") return { enabled: false };
    throw err;
  }
}

async function readTags(client: KMSClient, keyId: string): Promise<Record<string, string>> {
  const tags: Record<string, string> = {};
  for await (const page of paginateListResourceTags({ client }, { KeyId: keyId })) {
    for (const tag of page.Tags ?? []) {
      if (tag.TagKey !== undefined) tags[tag.TagKey] = tag.TagValue ?? "";
    }
  }
  return tags;
}

export function observedFrom(
  metadata: KeyMetadata,
  parts: {
    policy?: string;
    rotation?: Rotation;
    tags?: Record<string, string>;
    unreadable?: string[];
    /** Only from a read of the key's own tags (null: it has none), never from tags kept in state. */
    ownerTag?: string | null;
  } = {},
): ObservedKey {
  const keyState = metadata.KeyState ?? (metadata.Enabled ? "Enabled" : "Disabled");
  return {
    keyId: metadata.KeyId ?? "",
    arn: metadata.Arn ?? "",
    keyState,
    deletionDate: isPendingDeletion(keyState) ? metadata.DeletionDate?.toISOString() : undefined,
    creationDate: metadata.CreationDate?.toISOString(),
    description: metadata.Description ?? "",
    keyUsage: metadata.KeyUsage ?? "ENCRYPT_DECRYPT",
    keySpec: metadata.KeySpec ?? metadata.CustomerMasterKeySpec ?? "SYMMETRIC_DEFAULT",
    multiRegion: metadata.MultiRegion ?? false,
    multiRegionKeyType: metadata.MultiRegionConfiguration?.MultiRegionKeyType,
    primaryKeyArn: metadata.MultiRegionConfiguration?.PrimaryKey?.Arn,
    origin: metadata.Origin ?? "AWS_KMS",
    keyManager: metadata.KeyManager ?? "CUSTOMER",
    policy: parts.policy,
    enableKeyRotation: parts.rotation?.enabled,
    rotationPeriodInDays: parts.rotation?.enabled ? parts.rotation.periodInDays : undefined,
    tags: parts.tags === undefined ? undefined : userTags(parts.tags),
    ownerTag: parts.ownerTag,
    unreadable: parts.unreadable ?? [],
  };
}

/**
 * Tags the key with the owner tag of an adoption (see KeyProvider's adopt); false when this identity may not tag it,
 * and then only this process remembers the adoption.
 */
export async function markOwner(session: ProviderSession, address: KeyAddress, ownerTag: string): Promise<boolean> {
  const client = session.client(address.connection);
  const keyId = address.keyId;
  try {
    await client.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: OWNER_TAG, TagValue: ownerTag }] }));
    return true;
  } catch (err) {
    if (isAccessDenied(err)) return false;
    throw explain(err, { operation: "TagResource", keyId });
  }
}

/** The key's owner tag, undefined when it has none or its tags may not be read. */
export async function readOwnerTag(session: ProviderSession, address: KeyAddress): Promise<string | undefined> {
  const client = session.client(address.connection);
  const keyId = address.keyId;
  try {
    return (await readTags(client, keyId))[OWNER_TAG];
  } catch (err) {
    if (isAccessDenied(err)) return undefined;
    throw explain(err, { operation: "ListResourceTags", keyId });
  }
}

/**
 * Makes one planned call, naming the key by its ID to the client of the key's Region. These operations never work
 * across accounts, so the ID means the same key as the ARN; KMS-compatible servers such as moto take only the ID
 * here. Returns the key state it leaves, when it changes it.
 */
export async function runAction(
  session: ProviderSession,
  address: KeyAddress,
  action: KeyAction,
): Promise<string | undefined> {
  const client = session.client(address.connection);
  const keyId = address.keyId;
  const operation = operationOf(action);
  try {
    switch (action.kind) {
      case "cancelDeletion":
        // No DescribeKey after: the next call finds out if KMS left another state than usual.
        await client.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
        return STATE_AFTER_CANCEL;
      case "enable":
        await client.send(new EnableKeyCommand({ KeyId: keyId }));
        return "Enabled";
      case "disable":
        await client.send(new DisableKeyCommand({ KeyId: keyId }));
        return "Disabled";
      case "updateDescription":
        await client.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: action.description }));
        return undefined;
      case "putPolicy":
        await client.send(
          new PutKeyPolicyCommand({
            KeyId: keyId,
            PolicyName: "default",
            Policy: action.policy,
            BypassPolicyLockoutSafetyCheck: action.bypassPolicyLockoutSafetyCheck,
          }),
        );
        return undefined;
      case "enableRotation":
        await client.send(
          new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: action.rotationPeriodInDays }),
        );
        return undefined;
      case "disableRotation":
        await client.send(new DisableKeyRotationCommand({ KeyId: keyId }));
        return undefined;
      case "tag":
        await client.send(new TagResourceCommand({ KeyId: keyId, Tags: toTagList(action.tags) }));
        return undefined;
      case "untag":
        await client.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: action.tagKeys }));
        return undefined;
      case "scheduleDeletion":
        await client.send(
          new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: action.pendingWindowInDays }),
        );
        return "PendingDeletion";
    }
  } catch (err) {
    return settle(client, keyId, action, operation, err);
  }
}

/** Decides whether a failed call already has the effect wanted (a retry after a lost answer), or explains it. */
async function settle(
  client: KMSClient,
  keyId: string,
  action: KeyAction,
  operation: string,
  err: unknown,
): Promise<string | undefined> {
  if (!isInvalidState(err)) throw explain(err, { operation, keyId });
  const metadata = await describeWith(client, keyId).catch(() => undefined);
  const state = metadata?.KeyState;
  // Someone (or our own retried call) already cancelled the deletion: that is the outcome we wanted.
  if (action.kind === "cancelDeletion" && state !== undefined && !isPendingDeletion(state)) return state;
  if (action.kind === "scheduleDeletion" && state !== undefined && isPendingDeletion(state)) return state;
  // The state it found lets the caller plan again from there.
  throw Object.assign(explain(err, { operation, keyId, currentState: state }), { currentState: state });
}

function operationOf(action: KeyAction): string {
  return {
    cancelDeletion: "CancelKeyDeletion",
    enable: "EnableKey",
    disable: "DisableKey",
    updateDescription: "UpdateKeyDescription",
    putPolicy: "PutKeyPolicy",
    enableRotation: "EnableKeyRotation",
    disableRotation: "DisableKeyRotation",
    tag: "TagResource",
    untag: "UntagResource",
    scheduleDeletion: "ScheduleKeyDeletion",
  }[action.kind];
}

function toTagList(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
}

/** How long a lookup after an unanswered CreateKey waits for ListKeys to show new keys (KMS is eventually consistent). */
const DEFAULT_CREATE_LOOKUP_SECONDS = 10;
const LOOKUP_POLL_MS = 500;
// Without a Date header on the listing before CreateKey, the local clock bounds it, allowing KMS's 5 minutes of skew.
const CLOCK_SKEW_MS = 5 * 60_000;
/** An HTTP Date header counts whole seconds: a moment it gives may be up to this much later. */
const DATE_RESOLUTION_MS = 1000;
// CreationDate and the Date header may be stamped by different KMS hosts: their clocks may differ by this, not minutes.
const KMS_HOSTS_SKEW_MS = 250;

/**
 * When a key made by one CreateKey attempt was made, by KMS's own clock: after the last KMS answer before the attempt
 * was sent (`from`), and no later than KMS's answer to it (`to`; none when no answer came: then up to the latest
 * listing, which shows only keys made before it).
 */
interface AttemptWindow {
  from?: Date;
  to?: Date;
}

/**
 * CreateKey is not idempotent, so the SDK must not resend it blindly: a reply lost after KMS made the key would
 * leave a second, untracked key. CreateKey sends exactly what is declared, nothing to find it by; instead the
 * account's keys are listed before the first attempt (keyListingBefore), and after an attempt whose outcome is
 * unknown the new ones (ListKeys, after KMS's consistency window) are described and matched against the declaration. KMS's
 * own Date headers bound when a key of ours can have been made (AttemptWindow); findCreatedKey adopts a match only
 * when it can tell it is ours, and otherwise refuses, naming the keys.
 */
export async function createKey(
  session: ProviderSession,
  connection: Connection,
  desired: DesiredKey,
): Promise<KeyMetadata> {
  const once = session.client(connection, { retries: false });
  const client = session.client(connection);
  const strategy = await client.config.retryStrategy();
  if (!("acquireInitialRetryToken" in strategy)) throw new Error("the AWS SDK's retry strategy is not of version 2");
  let retryToken = await strategy.acquireInitialRetryToken("kms");
  const started = new Date();
  const before = await session
    .keyListingBefore(connection, () => listKeyArns(client))
    .catch((err: unknown) => Object.assign(explain(err, { operation: "ListKeys" }), { cause: err }));
  // Not even the listing left this machine, after the SDK's retries: CreateKey would not either, and nothing was made.
  if (before instanceof Error && neverSent(before.cause)) {
    throw new Error(
      `CreateKey was not sent, so no key was made: the ListKeys that comes first (to find the key if its answer is lost) failed. ${before.message}`,
    );
  }
  const command = new CreateKeyCommand({
    Description: desired.description,
    KeyUsage: desired.keyUsage as KeyUsageType,
    KeySpec: desired.keySpec as KeySpec,
    Policy: desired.policy,
    BypassPolicyLockoutSafetyCheck: desired.bypassPolicyLockoutSafetyCheck || undefined,
    MultiRegion: desired.multiRegion,
    Tags: Object.keys(desired.tags).length > 0 ? toTagList(desired.tags) : undefined,
  });
  // Set once an attempt is signed and handed to the HTTP handler: before that (no credentials, no Region) KMS saw
  // nothing; after, a failure to resolve or connect (neverSent) still means nothing was sent.
  let sent = false;
  // KMS's Date on its answer to the attempt, whatever the status (a 500 has one); none when no answer came.
  let answeredAt: Date | undefined;
  command.middlewareStack.add(
    (next) => async (args) => {
      sent = true;
      const result = await next(args);
      answeredAt = dateOfAnswer(result.response);
      return result;
    },
    { step: "deserialize", priority: "low", name: "pulumiKmsKeyMarkSent" },
  );
  const declaration = JSON.stringify([connection.region, connection.endpoint, ...Object.values(matchedOn(desired))]);
  const lookFor = `a key made after ${started.toISOString()} with description ${JSON.stringify(desired.description)}`;
  const windows: AttemptWindow[] = [];
  let lastAnswerBefore =
    before instanceof Error ? undefined : (before.answeredAt ?? new Date(started.getTime() - CLOCK_SKEW_MS));
  for (;;) {
    let err: unknown;
    sent = false;
    answeredAt = undefined;
    const answered = session.awaitAnswer(declaration);
    try {
      const out = await once.send(command);
      if (!out.KeyMetadata?.KeyId || !out.KeyMetadata.Arn) throw new Error("CreateKey answered without a key");
      session.claim(out.KeyMetadata.Arn);
      return out.KeyMetadata;
    } catch (caught) {
      err = caught;
    } finally {
      answered();
    }
    const failure = explain(err, { operation: "CreateKey" }).message.replace(/\.$/, "");
    const unknownOutcome = sent && outcomeUnknown(err);
    let someoneElses: KeyMetadata[] = [];
    if (unknownOutcome) {
      if (before instanceof Error) {
        throw new Error(
          `${failure}. KMS may have made the key before the connection failed, and it can't be looked for: listing the account's keys before CreateKey failed (${before.message}). Not sending CreateKey again: look for ${lookFor}; import it or schedule it for deletion.`,
        );
      }
      windows.push({ from: lastAnswerBefore, to: answeredAt });
      let lookup: Lookup;
      try {
        lookup = await findCreatedKey(session, client, desired, declaration, before.arns, windows);
      } catch (lookupError) {
        // Neither sending CreateKey again (a second key) nor staying silent (an untraceable key) is safe.
        const reason = explain(lookupError, { operation: "ListKeys" }).message;
        throw new Error(
          `${failure}. KMS may have made the key before the connection failed, and looking for it failed too (${reason}). Not sending CreateKey again: look for ${lookFor}; import it or schedule it for deletion.`,
        );
      }
      if (lookup.found) return lookup.found;
      someoneElses = lookup.someoneElses;
      if (lookup.candidates.length > 0) {
        const arns = lookup.candidates.map(arnOf).join(", ");
        const others =
          someoneElses.length > 0
            ? `; ${someoneElses.map(arnOf).join(", ")} match too but KMS made them when no CreateKey of this program was under way, so they are someone else's: leave them`
            : "";
        throw new Error(
          `${failure}. KMS may have made the key anyway, and this program can't tell which key is its own: ${arns} could be (made since ${started.toISOString()} with the same description, spec, usage, multi-Region and tags)${others}. Not sending CreateKey again and adopting none: import the one that is this key (the import resource option), and schedule for deletion any of them that nobody uses.`,
        );
      }
      // The next attempt is sent after the lookup's listing answered: a key KMS made before that is not the next one's.
      lastAnswerBefore = lookup.listedAt ?? lastAnswerBefore;
    }
    const errorType = retryErrorType(err);
    if (errorType === "CLIENT_ERROR") throw explain(err, { operation: "CreateKey" });
    try {
      retryToken = await strategy.refreshRetryTokenForRetry(retryToken, { errorType });
    } catch {
      const left =
        someoneElses.length > 0
          ? ` (${someoneElses.map(arnOf).join(", ")} match it but KMS made them when no CreateKey of this program was under way, so they are someone else's: left alone)`
          : "";
      throw unknownOutcome
        ? new Error(
            `${failure}. No key KMS could have made for it appeared in ListKeys within ${lookupSeconds()} s, so KMS most likely made none${left}; if ${lookFor} appears later, import it or schedule it for deletion.`,
          )
        : explain(err, { operation: "CreateKey" });
    }
    await sleep(retryToken.getRetryDelay());
  }
}

function arnOf(key: KeyMetadata): string {
  return key.Arn ?? key.KeyId ?? "";
}

/** The moment KMS made an answer, by its own clock: the HTTP Date header (whole seconds), of any status. */
function dateOfAnswer(response: unknown): Date | undefined {
  const headers = (response as { headers?: Record<string, string | undefined> } | undefined)?.headers ?? {};
  const value = headers.date ?? headers.Date;
  const date = value === undefined ? undefined : new Date(value);
  return date && Number.isFinite(date.getTime()) ? date : undefined;
}

/** True when the request may have reached KMS and been carried out although no success came back. */
export function outcomeUnknown(err: unknown): boolean {
  // No credentials, or no connection (the host name did not resolve, nothing accepted it): nothing left this machine.
  if (errorName(err) === "CredentialsProviderError" || neverSent(err)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  // A 4xx answer means KMS refused the request; anything else (5xx, no answer at all) may hide a created key.
  return status === undefined || status >= 500;
}

export function retryErrorType(err: unknown): "THROTTLING" | "TRANSIENT" | "SERVER_ERROR" | "CLIENT_ERROR" {
  const e = err as Parameters<typeof isTransientError>[0];
  if (isThrottlingError(e)) return "THROTTLING";
  if (isTransientError(e)) return "TRANSIENT";
  if (isServerError(e)) return "SERVER_ERROR";
  return "CLIENT_ERROR";
}

function lookupSeconds(): number {
  const configured = Number(process.env.PULUMI_KMS_KEY_CREATE_LOOKUP_SECONDS);
  return Number.isFinite(configured) && configured >= 0 ? configured : DEFAULT_CREATE_LOOKUP_SECONDS;
}

/** One listing of the account's keys in a Region. */
export interface KeyListing {
  arns: Set<string>;
  /** KMS's Date on the last page's answer: every key listed was made no later than its second. */
  answeredAt?: Date;
}

/**
 * Every key ARN ListKeys shows in the account and Region (1000 per page), and when KMS answered. A fleet's creates
 * share one listing per 10 s (ProviderSession.keyListingBefore): a listing is valid for any create that starts after
 * it began, the keys this process made since are its own (claimed), and its answer's Date stays a lower bound of when
 * KMS made a key of any create that reuses it.
 */
async function listKeyArns(client: KMSClient): Promise<KeyListing> {
  const listing: KeyListing = { arns: new Set<string>() };
  const withCommand = (command: ListKeysCommand) => {
    command.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        listing.answeredAt = dateOfAnswer(result.response) ?? listing.answeredAt;
        return result;
      },
      { step: "deserialize", priority: "low", name: "pulumiKmsKeyListedAt" },
    );
    return command;
  };
  const pages = paginateListKeys({ client, pageSize: 1000, withCommand: (c) => withCommand(c as ListKeysCommand) }, {});
  for await (const page of pages) {
    for (const entry of page.Keys ?? []) if (entry.KeyArn) listing.arns.add(entry.KeyArn);
  }
  return listing;
}

/** What a key made by CreateKey from this declaration has, as observedFrom() reads it from DescribeKey. */
function matchedOn(desired: DesiredKey): Record<string, unknown> {
  return {
    description: desired.description,
    keySpec: desired.keySpec,
    keyUsage: desired.keyUsage,
    multiRegion: desired.multiRegion,
    origin: "AWS_KMS",
    keyManager: "CUSTOMER",
    tags: canonicalJson(desired.tags),
  };
}

interface Lookup {
  /** The key this create made, now claimed by it. */
  found?: KeyMetadata;
  /** New keys matching the declaration that nothing in this process has claimed and one of its attempts could have made. */
  candidates: KeyMetadata[];
  /** New keys matching the declaration that KMS made outside every attempt's window: not ours. */
  someoneElses: KeyMetadata[];
  /** KMS's Date on the last listing's answer. */
  listedAt?: Date;
}

/**
 * Waits out KMS's consistency window, then lists the keys once and describes only the new IDs (tags are read only of
 * keys that match): one match is the key; deciding earlier could take someone else's identical key while ours is
 * still missing from ListKeys.
 */
async function findCreatedKey(
  session: ProviderSession,
  client: KMSClient,
  desired: DesiredKey,
  declaration: string,
  before: Set<string>,
  windows: readonly AttemptWindow[],
): Promise<Lookup> {
  const wanted = matchedOn(desired);
  const seen = new Map<string, KeyMetadata | undefined>();
  const window = lookupSeconds() * 1000;
  await sleep(window);
  const giveUp = Date.now() + window;
  for (;;) {
    const listing = await listKeyArns(client);
    for (const arn of listing.arns) {
      // Keys this process made answered their own creates: not candidates, so not described.
      if (before.has(arn) || session.isClaimed(arn) || seen.has(arn)) continue;
      seen.set(arn, await matchingKey(client, arn, wanted));
    }
    const matching = [...seen.values()].filter(
      (key): key is KeyMetadata => key !== undefined && !session.isClaimed(key.Arn),
    );
    // An attempt that got no answer may have made its key up to this listing's answer.
    const bounded = windows.map((w) => ({ from: w.from, to: w.to ?? listing.answeredAt }));
    const candidates = matching.filter((key) => couldBeFrom(key, bounded));
    const someoneElses = matching.filter((key) => !couldBeFrom(key, bounded));
    // Another create of this process with the same declaration may still get its answer and claim a candidate.
    const othersAwaiting = session.othersAwaiting(declaration);
    if (othersAwaiting && Date.now() < giveUp) {
      await sleep(LOOKUP_POLL_MS);
      continue;
    }
    // Cannot tell: more than one key as declared could be ours, or one could while someone else made one as declared.
    if (candidates.length === 1 && someoneElses.length === 0 && !othersAwaiting) {
      session.claim(arnOf(candidates[0]));
      return { found: candidates[0], candidates, someoneElses, listedAt: listing.answeredAt };
    }
    return { candidates, someoneElses, listedAt: listing.answeredAt };
  }
}

/**
 * Whether KMS made the key within one of the windows, by its own clock: CreationDate and the Date headers both come
 * from KMS, so the client's clock plays no part; a key in the same second as a window's end may have been made just
 * after the answer and is a candidate all the same (the rule above then refuses it if anything else casts doubt).
 */
function couldBeFrom(key: KeyMetadata, windows: readonly AttemptWindow[]): boolean {
  const created = key.CreationDate?.getTime();
  if (created === undefined) return true;
  return windows.some(
    (w) =>
      (w.from === undefined || created >= w.from.getTime() - KMS_HOSTS_SKEW_MS) &&
      (w.to === undefined || created < w.to.getTime() + DATE_RESOLUTION_MS + KMS_HOSTS_SKEW_MS),
  );
}

/** The key's metadata when it is as declared; undefined when it is not (someone else's, whenever made). */
async function matchingKey(
  client: KMSClient,
  keyId: string,
  wanted: Record<string, unknown>,
): Promise<KeyMetadata | undefined> {
  const metadata = await describeWith(client, keyId);
  if (!metadata) return undefined;
  const { tags, ...fields } = wanted;
  const observed = observedFrom(metadata) as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(fields)) if (observed[name] !== value) return undefined;
  try {
    const actual = canonicalJson(await readTags(client, keyId));
    return actual === tags ? metadata : undefined;
  } catch (err) {
    // Tags this identity may not read can't rule the key out; its description, spec and usage matched.
    if (isAccessDenied(err)) return metadata;
    throw err;
  }
}
