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

/** The key states moto cannot hold: states a test set (overrides) and keys whose waiting period ended. */
export class KeyStates {
  private readonly overrides = new Map<string, string>();
  /** DescribeKey answers each key still gets before its waiting period ends (deleteKeyAfter). */
  private readonly deletions = new Map<string, number>();
  /** Keys whose waiting period ended: KMS no longer has them. */
  private readonly deleted = new Set<string>();

  get anyOverridden(): boolean {
    return this.overrides.size > 0;
  }

  /** While set, the key is in `state` whatever moto says; undefined clears it. `keyId` is a key ID or key ARN. */
  override(keyId: string, state: string | undefined): void {
    const id = normalizeKeyId(keyId);
    if (state === undefined) this.overrides.delete(id);
    else this.overrides.set(id, state);
  }

  /** The key's state: its override (by the key ID moto answered, or by the ID or ARN requested), else moto's. */
  stateOf(meta: Record<string, unknown> | undefined, requestedKeyId: string | undefined): string | undefined {
    const motoState = typeof meta?.KeyState === "string" ? meta.KeyState : undefined;
    return this.overriddenState(meta, requestedKeyId) ?? motoState;
  }

  private overriddenState(meta: Record<string, unknown> | undefined, requestedKeyId: string | undefined) {
    return (
      (typeof meta?.KeyId === "string" ? this.overrides.get(meta.KeyId) : undefined) ??
      (requestedKeyId !== undefined ? this.overrides.get(normalizeKeyId(requestedKeyId)) : undefined)
    );
  }

  /** A state moto can't hold ends as it would in KMS when a call changes it. */
  settle(operation: string, keyIds: string[]): void {
    for (const id of keyIds) {
      const state = this.overrides.get(id);
      // Row CancelKeyDeletion: the key leaves pending (replica) deletion; moto has made it Disabled.
      if (operation === "CancelKeyDeletion" && state !== undefined && isPendingDeletion(state))
        this.overrides.delete(id);
      // Footnote [13]: a key in a custom key store that is scheduled for deletion is PendingDeletion, even if unavailable.
      if (operation === "ScheduleKeyDeletion" && state === "Unavailable") this.overrides.delete(id);
    }
  }

  /** DescribeKey's answer with the key's overridden state: KeyState, Enabled, and DeletionDate only when PendingDeletion. */
  describeKeyAnswer(outcome: Outcome, requestedKeyId: string | undefined): Outcome {
    return editBody<{ KeyMetadata?: Record<string, unknown> }>(outcome, ({ KeyMetadata: meta }) => {
      const state = meta ? this.overriddenState(meta, requestedKeyId) : undefined;
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
   * then on every call naming it gets NotFoundException.
   */
  deleteAfter(keyId: string, describeKeyCalls: number): void {
    const id = normalizeKeyId(keyId);
    if (describeKeyCalls <= 0) this.deleted.add(id);
    else this.deletions.set(id, describeKeyCalls);
  }

  /** Whether a call of `operation` naming `keyId` finds the key deleted for good; counts down deleteAfter. */
  deletedFor(operation: string, keyId: string | undefined): boolean {
    if (keyId === undefined) return false;
    const id = normalizeKeyId(keyId);
    const left = this.deletions.get(id);
    // The period ends at the first DescribeKey past the count: the other reads of the last answered one still succeed.
    if (left !== undefined && operation === "DescribeKey") {
      if (left > 0) this.deletions.set(id, left - 1);
      else {
        this.deletions.delete(id);
        this.deleted.add(id);
      }
    }
    return this.deleted.has(id);
  }

  /** The keys whose waiting period ended (key IDs), for the aliases that go with them. */
  deletedKeyIds(): ReadonlySet<string> {
    return this.deleted;
  }
}
