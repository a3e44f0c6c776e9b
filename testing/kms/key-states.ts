// KMS's key-state rules, which moto does not apply (AWS KMS developer guide, "Key states of AWS KMS keys", the key state
// table), and the key states moto cannot hold: overridden ones, and keys whose waiting period ended.
//
// Each rule lists the states in which KMS refuses the operation and the error it answers there; a state not listed is
// allowed. For the operations the provider makes, the refused states are those the provider's own REQUIRED_STATES
// leaves out. Footnotes of the table: [1] DisabledException: is disabled; [3] KMSInvalidStateException: is pending
// deletion; [4] ... is not pending deletion; [5] ... is pending import; [6]/[7] UnsupportedOperationException;
// [11] ... is unavailable; [14] ... is creating; [15] ... is updating.
import { REQUIRED_STATES } from "../../provider/kms/errors";
import { isPendingDeletion, KEY_STATES, KeyState, PENDING_DELETION_STATES } from "../../provider/plan";
import { editBody, normalizeKeyId, Outcome } from "./protocol";

interface Refusal {
  error: string;
  message: string;
}

/** The states in which KMS refuses an operation, each with its answer. */
type StateRule = Partial<Record<string, Refusal>>;

const refuse = (error: string, message: string): Refusal => ({ error, message });
const DISABLED = refuse("DisabledException", "is disabled"); // [1]
const PENDING_DELETION = refuse("KMSInvalidStateException", "is pending deletion"); // [3]
const NOT_PENDING = refuse("KMSInvalidStateException", "is not pending deletion"); // [4]
const PENDING_IMPORT = refuse("KMSInvalidStateException", "is pending import"); // [5]
const EXTERNAL = refuse("UnsupportedOperationException", "origin is EXTERNAL which is not valid for this operation"); // [6]
const CUSTOM_KEY_STORE = refuse("UnsupportedOperationException", "is in a custom key store"); // [7]
const UNAVAILABLE = refuse("KMSInvalidStateException", "is unavailable"); // [11]
const CREATING = refuse("KMSInvalidStateException", "is creating"); // [14]
const UPDATING = refuse("KMSInvalidStateException", "is updating"); // [15]

/** How KMS refuses a call in each state, unless a row says otherwise. */
const FOOTNOTES: Partial<Record<KeyState, Refusal>> = {
  Disabled: DISABLED,
  PendingDeletion: PENDING_DELETION,
  PendingReplicaDeletion: PENDING_DELETION,
  PendingImport: PENDING_IMPORT,
  Unavailable: UNAVAILABLE,
  Creating: CREATING,
  Updating: UPDATING,
};

/**
 * The row of an operation the provider makes: refused in every state its REQUIRED_STATES leaves out, except the ones
 * the table marks ? (succeeds under conditions), which pass; each refused by `refusals[state]`, else its footnote.
 */
function providerRow(
  operation: string,
  refusals: Partial<Record<KeyState, Refusal>> = {},
  conditional: readonly KeyState[] = [],
): StateRule {
  const allowed = REQUIRED_STATES[operation];
  const refused = KEY_STATES.filter((state) => !allowed.includes(state) && !conditional.includes(state));
  return Object.fromEntries(
    refused.map((state) => {
      const refusal = refusals[state] ?? FOOTNOTES[state];
      if (!refusal) throw new Error(`key-state rules: no answer for ${operation} in ${state}`);
      return [state, refusal];
    }),
  );
}

const pendingDeletion = (): StateRule => Object.fromEntries(PENDING_DELETION_STATES.map((s) => [s, PENDING_DELETION]));
const everyState = (refusal: Refusal) => Object.fromEntries(KEY_STATES.map((state) => [state, refusal]));

// Rows EnableKeyRotation, DisableKeyRotation: X[6] pending import, X[7] unavailable; Updating ?[7].
const ROTATION = (operation: string) =>
  providerRow(operation, { PendingImport: EXTERNAL, Unavailable: CUSTOM_KEY_STORE }, ["Updating"]);
// Rows Encrypt, Decrypt, GenerateDataKey*, ReEncrypt: X[1] disabled, X[2] or [3] pending deletion (KMS answers [3]
// for a key pending deletion), X[5] pending import, X[11] unavailable, X[14] creating; Updating ✓.
const CRYPTO: StateRule = {
  Disabled: DISABLED,
  ...pendingDeletion(),
  PendingImport: PENDING_IMPORT,
  Unavailable: UNAVAILABLE,
  Creating: CREATING,
};
// Rows Sign, Verify, GenerateMac, VerifyMac: as the cryptographic rows; PendingImport and Unavailable are N/A.
const SIGN_MAC: StateRule = { Disabled: DISABLED, ...pendingDeletion(), Creating: CREATING };

const STATE_RULES: Record<string, StateRule> = {
  // Row CancelKeyDeletion: only a key pending (replica) deletion, X[4] in every other state.
  CancelKeyDeletion: providerRow("CancelKeyDeletion", everyState(NOT_PENDING)),
  EnableKey: providerRow("EnableKey"),
  DisableKey: providerRow("DisableKey"),
  EnableKeyRotation: ROTATION("EnableKeyRotation"),
  DisableKeyRotation: ROTATION("DisableKeyRotation"),
  TagResource: providerRow("TagResource"),
  UntagResource: providerRow("UntagResource"),
  UpdateKeyDescription: providerRow("UpdateKeyDescription"),
  ScheduleKeyDeletion: providerRow("ScheduleKeyDeletion"),
  // Rows CreateAlias, UpdateAlias: X[3] for a target key pending deletion (only TargetKeyId's state counts; moto
  // checks none). Row DeleteAlias: ✓ in every state.
  CreateAlias: providerRow("CreateAlias"),
  UpdateAlias: providerRow("UpdateAlias"),
  // Row ReplicateKey (of the primary key): X[1] disabled, X[2] or [3] pending (replica) deletion (KMS answers [3]),
  // X[5] pending import, X[14] creating, X[15] updating; Unavailable is N/A (no multi-Region key in a custom key store).
  ReplicateKey: providerRow("ReplicateKey"),
  // Row GetKeyRotationStatus: X[6] pending import, X[7] unavailable (a custom key store); ? elsewhere.
  GetKeyRotationStatus: { PendingImport: EXTERNAL, Unavailable: CUSTOM_KEY_STORE },
  // Row PutKeyPolicy: ✓ in every key state, pending deletion included.
  PutKeyPolicy: {},
  Encrypt: CRYPTO,
  Decrypt: CRYPTO,
  GenerateDataKey: CRYPTO,
  GenerateDataKeyWithoutPlaintext: CRYPTO,
  GenerateDataKeyPair: CRYPTO,
  GenerateDataKeyPairWithoutPlaintext: CRYPTO,
  ReEncrypt: CRYPTO,
  Sign: SIGN_MAC,
  Verify: SIGN_MAC,
  GenerateMac: SIGN_MAC,
  VerifyMac: SIGN_MAC,
  // Rows DescribeKey, GetKeyPolicy, ListResourceTags, ListKeyPolicies, ListAliases: ✓ in
  // every state (no lookup is made). CreateKey and ListKeys use no existing key. Operations not listed: not checked.
};

/** Whether the operation depends on the state of the keys it names. */
export function isStateChecked(operation: string): boolean {
  return STATE_RULES[operation] !== undefined;
}

/** How KMS refuses `operation` on a key in `state`; undefined when it allows it. */
export function refusalOf(operation: string, state: string): Refusal | undefined {
  return STATE_RULES[operation]?.[state];
}

/** The request fields that name a key whose state the operation depends on. */
export function stateCheckedKeyIds(operation: string, body: Record<string, unknown>): string[] {
  const fields =
    operation === "ReEncrypt"
      ? ["SourceKeyId", "DestinationKeyId"]
      : operation === "CreateAlias" || operation === "UpdateAlias"
        ? ["TargetKeyId"]
        : ["KeyId"];
  return fields.map((f) => body[f]).filter((v): v is string => typeof v === "string" && v.length > 0);
}

/** Where a key is: its ID and, when known, its Region (a multi-Region primary and its replicas share one key ID). */
interface KeyPlace {
  id: string;
  region?: string;
}

/** A key ARN's Region (none for a bare key ID, an alias, or an ARN without one) and key ID. */
export function keyPlace(keyIdOrArn: string, region?: string): KeyPlace {
  const arnRegion = /^arn:[^:]*:[^:]*:([^:]+):[0-9]{12}:key\//.exec(keyIdOrArn)?.[1];
  return { id: normalizeKeyId(keyIdOrArn), region: arnRegion ?? region };
}

/** The place DescribeKey's metadata names: its ARN's Region and its key ID. */
function placeOfMeta(meta: Record<string, unknown> | undefined): KeyPlace | undefined {
  if (typeof meta?.KeyId !== "string") return undefined;
  return keyPlace(typeof meta.Arn === "string" ? meta.Arn : meta.KeyId);
}

/**
 * Keys by place: set by a key ARN, an entry holds for that Region only; by a bare key ID, for the key in every Region.
 * A lookup in a Region finds that Region's entry, else the every-Region one.
 */
class ByPlace<T> {
  private readonly entries = new Map<string, T>();

  get size(): number {
    return this.entries.size;
  }

  /** The entry a lookup in this place finds, as stored. */
  private storedKey(place: KeyPlace): string | undefined {
    const own = place.region !== undefined ? `${place.region}/${place.id}` : undefined;
    if (own !== undefined && this.entries.has(own)) return own;
    return this.entries.has(`*/${place.id}`) ? `*/${place.id}` : undefined;
  }

  set(place: KeyPlace, value: T): void {
    this.entries.set(`${place.region ?? "*"}/${place.id}`, value);
  }

  /** The place of the entry a lookup in this place finds: the place itself, or the key in every Region. */
  storedPlace(place: KeyPlace): KeyPlace | undefined {
    const key = this.storedKey(place);
    if (key === undefined) return undefined;
    return key.startsWith("*/") ? { id: place.id } : place;
  }

  get(place: KeyPlace): T | undefined {
    const key = this.storedKey(place);
    return key === undefined ? undefined : this.entries.get(key);
  }

  /** Every place with an entry: a Region's, or every Region's (no region). */
  places(): KeyPlace[] {
    return [...this.entries.keys()].map((key) => {
      const [region, ...id] = key.split("/");
      return region === "*" ? { id: id.join("/") } : { id: id.join("/"), region };
    });
  }

  /** Clears the entry a lookup in this place finds; by a bare key ID (no Region), every Region's. */
  delete(place: KeyPlace): void {
    if (place.region === undefined) {
      for (const key of [...this.entries.keys()]) if (key.endsWith(`/${place.id}`)) this.entries.delete(key);
      return;
    }
    const key = this.storedKey(place);
    if (key !== undefined) this.entries.delete(key);
  }
}

/** An overridden state, until a moment (a transient state such as Creating) or for good. */
interface Override {
  state: string;
  until?: number;
}

/**
 * The key states moto cannot hold: states a test set (overrides), transient states, keys whose waiting period ended.
 * Each is kept by the key's place (ByPlace): a multi-Region primary and its replicas share one key ID.
 */
export class KeyStates {
  private readonly overrides = new ByPlace<Override>();
  /** DescribeKey answers each key still gets before its waiting period ends (deleteKeyAfter). */
  private readonly deletions = new ByPlace<number>();
  /** Keys whose waiting period ended: KMS no longer has them. */
  private readonly deleted = new ByPlace<true>();

  get anyOverridden(): boolean {
    return this.overrides.size > 0;
  }

  get anyDeleted(): boolean {
    return this.deleted.size > 0;
  }

  /**
   * While set, the key is in `state` whatever moto says; undefined clears it. `keyId` is a key ID (the key in every
   * Region) or key ARN (that Region's); `forMs` ends the state after that long (a transient state).
   */
  override(keyId: string, state: string | undefined, forMs?: number): void {
    const place = keyPlace(keyId);
    if (state === undefined) this.overrides.delete(place);
    else this.overrides.set(place, { state, until: forMs === undefined ? undefined : Date.now() + forMs });
  }

  /** The key's state: its override (by the key moto answered for, or by the ID or ARN requested), else moto's. */
  stateOf(
    meta: Record<string, unknown> | undefined,
    requestedKeyId: string | undefined,
    region?: string,
  ): string | undefined {
    const motoState = typeof meta?.KeyState === "string" ? meta.KeyState : undefined;
    return this.overriddenState(meta, requestedKeyId, region) ?? motoState;
  }

  private overriddenState(
    meta: Record<string, unknown> | undefined,
    requestedKeyId: string | undefined,
    region?: string,
  ): string | undefined {
    const places = [placeOfMeta(meta), requestedKeyId === undefined ? undefined : keyPlace(requestedKeyId, region)];
    for (const place of places) {
      if (!place) continue;
      const found = this.overrides.get(place);
      if (found?.until !== undefined && Date.now() >= found.until) {
        this.overrides.delete(place);
        continue;
      }
      if (found) return found.state;
    }
    return undefined;
  }

  /** A state moto can't hold ends as it would in KMS when a call changes it. */
  settle(operation: string, metas: readonly Record<string, unknown>[]): void {
    for (const meta of metas) {
      const place = placeOfMeta(meta);
      const state = place && this.overrides.get(place)?.state;
      if (!place || state === undefined) continue;
      // Row CancelKeyDeletion: the key leaves pending (replica) deletion; moto has made it Disabled.
      if (operation === "CancelKeyDeletion" && isPendingDeletion(state)) this.overrides.delete(place);
      // Footnote [13]: a key in a custom key store that is scheduled for deletion is PendingDeletion, even if unavailable.
      if (operation === "ScheduleKeyDeletion" && state === "Unavailable") this.overrides.delete(place);
    }
  }

  /** DescribeKey's answer with the key's overridden state: KeyState, Enabled, and DeletionDate only when PendingDeletion. */
  describeKeyAnswer(outcome: Outcome, requestedKeyId: string | undefined, region?: string): Outcome {
    return editBody<{ KeyMetadata?: Record<string, unknown> }>(outcome, ({ KeyMetadata: meta }) => {
      const state = meta ? this.overriddenState(meta, requestedKeyId, region) : undefined;
      if (!meta || state === undefined) return false;
      meta.KeyState = state;
      meta.Enabled = state === "Enabled";
      // DescribeKey has DeletionDate only for PendingDeletion; a PendingReplicaDeletion key has none (KeyMetadata).
      if (state !== "PendingDeletion") delete meta.DeletionDate;
    });
  }

  /**
   * GetKeyRotationStatus (KMS API reference): "While a KMS key is pending deletion, its key rotation status is false";
   * moto keeps the status, so a cancel brings the earlier one back, as KMS does.
   */
  rotationStatusAnswer(outcome: Outcome, state: string | undefined): Outcome {
    if (state === undefined || !isPendingDeletion(state)) return outcome;
    return editBody<Record<string, unknown>>(outcome, (body) => {
      body.KeyRotationEnabled = false;
      for (const field of ["RotationPeriodInDays", "NextRotationDate", "OnDemandRotationStartDate"]) delete body[field];
    });
  }

  /**
   * The key's waiting period ends after KMS has answered `describeKeyCalls` more DescribeKey calls for it (0: now): from
   * then on every call naming it gets NotFoundException. `keyId` is a key ID (every Region) or key ARN (its Region).
   */
  deleteAfter(keyId: string, describeKeyCalls: number): void {
    const place = keyPlace(keyId);
    if (describeKeyCalls <= 0) this.deleted.set(place, true);
    else this.deletions.set(place, describeKeyCalls);
  }

  /** A key made anew where one was deleted for good (a replica, whose ARN a new ReplicateKey gives again). */
  madeAgain(arn: string): void {
    const place = keyPlace(arn);
    this.deleted.delete(place);
    this.deletions.delete(place);
  }

  /** Whether the key at this ARN (or ID in `region`) was deleted for good. */
  isDeleted(keyId: string, region?: string): boolean {
    return this.deleted.get(keyPlace(keyId, region)) === true;
  }

  /** Whether a call of `operation` naming `keyId` in `region` finds the key deleted for good; counts down deleteAfter. */
  deletedFor(operation: string, keyId: string | undefined, region?: string): boolean {
    if (keyId === undefined) return false;
    const place = keyPlace(keyId, region);
    const counted = this.deletions.storedPlace(place);
    // The period ends at the first DescribeKey past the count: the other reads of the last answered one still succeed.
    if (counted !== undefined && operation === "DescribeKey") {
      const left = this.deletions.get(counted) ?? 0;
      if (left > 0) this.deletions.set(counted, left - 1);
      else {
        this.deletions.delete(counted);
        this.deleted.set(counted, true);
      }
    }
    return this.deleted.get(place) === true;
  }

  /** The keys whose waiting period ended in a Region (key IDs), for the aliases that go with them. */
  deletedKeyIds(region: string | undefined): ReadonlySet<string> {
    const here = this.deleted.places().filter((place) => place.region === undefined || place.region === region);
    return new Set(here.map((place) => place.id));
  }
}
