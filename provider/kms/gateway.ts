// The only place that talks to KMS: observes a key, makes the planned calls, creates keys without duplicates.
import { randomUUID } from "node:crypto";
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
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  Tag,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateKeyDescriptionCommand,
} from "@aws-sdk/client-kms";
import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import { Connection, DesiredKey } from "../inputs";
import {
  CREATION_TOKEN_TAG,
  isPendingDeletion,
  isReservedTag,
  KeyAction,
  ObservedKey,
  STATE_AFTER_CANCEL,
} from "../plan";
import { kmsClient } from "./client";
import { errorName, explain, isAccessDenied, isInvalidState, isNotFound } from "./errors";

/** DescribeKey; undefined when the key does not exist. */
export async function describeKey(client: KMSClient, keyId: string): Promise<KeyMetadata | undefined> {
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
export async function readKey(connection: Connection, keyId: string): Promise<ObservedKey | undefined> {
  const client = kmsClient(connection);
  const metadata = await describeKey(client, keyId);
  if (!metadata?.KeyId) return undefined;
  // A key named by its ARN is named so in every call: the ARN says which account's key is meant.
  const id = keyId.startsWith("arn:") ? keyId : metadata.KeyId;
  const unreadable: string[] = [];
  // KMS reports rotation as off while a key is pending deletion and restores it on cancel: the answer means nothing.
  const rotationHidden = isPendingDeletion(metadata.KeyState ?? "");
  const [policy, rotation, tags] = await Promise.all([
    readPart("policy", unreadable, async () => {
      const out = await client.send(new GetKeyPolicyCommand({ KeyId: id, PolicyName: "default" }));
      return out.Policy;
    }),
    rotationHidden ? undefined : readPart("rotation", unreadable, async () => readRotation(client, id)),
    readPart("tags", unreadable, async () => readTags(client, id)),
  ]);
  return observedFrom(metadata, { policy, rotation, tags, unreadable });
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

export interface Rotation {
  enabled: boolean;
  periodInDays?: number;
}

/** The rotation status; undefined when access to it is denied. */
export async function observeRotation(client: KMSClient, keyId: string): Promise<Rotation | undefined> {
  return readPart("rotation", [], async () => readRotation(client, keyId));
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
  let marker: string | undefined;
  do {
    const out = await client.send(new ListResourceTagsCommand({ KeyId: keyId, Marker: marker }));
    for (const tag of out.Tags ?? []) {
      if (tag.TagKey !== undefined) tags[tag.TagKey] = tag.TagValue ?? "";
    }
    marker = out.Truncated ? out.NextMarker : undefined;
  } while (marker);
  return tags;
}

export function observedFrom(
  metadata: KeyMetadata,
  parts: {
    policy?: string;
    rotation?: Rotation;
    tags?: Record<string, string>;
    unreadable?: string[];
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
    origin: metadata.Origin ?? "AWS_KMS",
    keyManager: metadata.KeyManager ?? "CUSTOMER",
    policy: parts.policy,
    enableKeyRotation: parts.rotation?.enabled,
    rotationPeriodInDays: parts.rotation?.enabled ? parts.rotation.periodInDays : undefined,
    tags: parts.tags === undefined ? undefined : userTags(parts.tags),
    unreadable: parts.unreadable ?? [],
  };
}

/** Tags without the ones this provider keeps for itself and the ones AWS reserves (aws:...). */
export function userTags(tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([key]) => !isReservedTag(key)));
}

/** Makes one planned call. Returns the key state it leaves, when it changes it. */
export async function runAction(client: KMSClient, keyId: string, action: KeyAction): Promise<string | undefined> {
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
  if (action.kind === "scheduleDeletion" && isNotFound(err)) return undefined;
  if (!isInvalidState(err)) throw explain(err, { operation, keyId });
  const metadata = await describeKey(client, keyId).catch(() => undefined);
  const state = metadata?.KeyState;
  // Someone (or our own retried call) already cancelled the deletion: that is the outcome we wanted.
  if (action.kind === "cancelDeletion" && state !== undefined && !isPendingDeletion(state)) return state;
  if (action.kind === "scheduleDeletion" && state !== undefined && isPendingDeletion(state)) return state;
  // The state it found lets the caller plan again from there.
  throw Object.assign(explain(err, { operation, keyId, currentState: state }), { currentState: state });
}

export function operationOf(action: KeyAction): string {
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

/**
 * CreateKey is not idempotent, so the SDK must not resend it blindly: a reply lost after KMS made the key would
 * leave a second, untracked key. Each attempt carries a creation-token tag; before retrying an attempt whose
 * outcome is unknown, the account is searched for a key with that token. Backoff comes from the SDK's strategy.
 */
export async function createKey(connection: Connection, desired: DesiredKey): Promise<KeyMetadata> {
  const token = randomUUID();
  const once = kmsClient(connection, { retries: false });
  const client = kmsClient(connection);
  const strategy = await client.config.retryStrategy();
  if (!("acquireInitialRetryToken" in strategy)) throw new Error("the AWS SDK's retry strategy is not of version 2");
  let retryToken = await strategy.acquireInitialRetryToken("kms");
  const command = new CreateKeyCommand({
    Description: desired.description,
    KeyUsage: desired.keyUsage as KeyUsageType,
    KeySpec: desired.keySpec as KeySpec,
    Policy: desired.policy,
    BypassPolicyLockoutSafetyCheck: desired.bypassPolicyLockoutSafetyCheck || undefined,
    MultiRegion: desired.multiRegion,
    Tags: [...toTagList(desired.tags), { TagKey: CREATION_TOKEN_TAG, TagValue: token }],
  });
  // Set once an attempt is signed and handed to the network: before that (no credentials, no Region) KMS saw nothing.
  let sent = false;
  command.middlewareStack.add(
    (next) => async (args) => {
      sent = true;
      return next(args);
    },
    { step: "deserialize", priority: "low", name: "pulumiKmsKeyMarkSent" },
  );
  for (;;) {
    sent = false;
    try {
      const out = await once.send(command);
      if (!out.KeyMetadata?.KeyId) throw new Error("CreateKey answered without a key");
      return out.KeyMetadata;
    } catch (err) {
      const failure = explain(err, { operation: "CreateKey" }).message.replace(/\.$/, "");
      // Where a key this attempt may have made can be found, whatever happens next.
      const tokenHint = `a key made by this attempt carries the tag ${CREATION_TOKEN_TAG}=${token}; import it or schedule it for deletion`;
      const unknownOutcome = sent && outcomeUnknown(err);
      if (unknownOutcome) {
        let found: KeyMetadata | undefined;
        try {
          found = await findKeyByCreationToken(client, token);
        } catch (lookupError) {
          // Neither sending CreateKey again (a second key) nor staying silent (an untraceable key) is safe.
          const lookup = explain(lookupError, { operation: "ListKeys" }).message;
          throw new Error(
            `${failure}. KMS may have made the key before the connection failed, and looking for it failed too (${lookup}): ${tokenHint}.`,
          );
        }
        if (found) return found;
      }
      const errorType = retryErrorType(err);
      if (errorType === "CLIENT_ERROR") throw explain(err, { operation: "CreateKey" });
      try {
        retryToken = await strategy.refreshRetryTokenForRetry(retryToken, { errorType });
      } catch {
        throw unknownOutcome
          ? new Error(`${failure}. If KMS made the key before the connection failed, ${tokenHint}.`)
          : explain(err, { operation: "CreateKey" });
      }
      await sleep(retryToken.getRetryDelay());
    }
  }
}

/** True when the request may have reached KMS and been carried out although no success came back. */
function outcomeUnknown(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  // A 4xx answer means KMS refused the request; anything else (5xx, no answer at all) may hide a created key.
  return status === undefined || status >= 500;
}

function retryErrorType(err: unknown): "THROTTLING" | "TRANSIENT" | "SERVER_ERROR" | "CLIENT_ERROR" {
  const e = err as Parameters<typeof isTransientError>[0];
  if (isThrottlingError(e)) return "THROTTLING";
  if (isTransientError(e)) return "TRANSIENT";
  if (isServerError(e)) return "SERVER_ERROR";
  return "CLIENT_ERROR";
}

/** Looks through the account's keys for the one tagged with this creation token. */
export async function findKeyByCreationToken(client: KMSClient, token: string): Promise<KeyMetadata | undefined> {
  let marker: string | undefined;
  do {
    const page = await client.send(new ListKeysCommand({ Marker: marker, Limit: 1000 }));
    for (const entry of page.Keys ?? []) {
      if (!entry.KeyId) continue;
      let tags: Record<string, string>;
      try {
        tags = await readTags(client, entry.KeyId);
      } catch (err) {
        // Keys we may not read, or that went away meanwhile, can't be ours; any other failure leaves it open.
        if (isAccessDenied(err) || isNotFound(err)) continue;
        throw err;
      }
      if (tags[CREATION_TOKEN_TAG] === token) return describeKey(client, entry.KeyId);
    }
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return undefined;
}
