// The heart of the provider: a pure function from (declared key, observed key) to the KMS calls to make, in order.
import { DesiredKey } from "./inputs";
import { jsonEqual } from "./json";

/** KMS's KeyState values. */
export type KeyState =
  | "Enabled"
  | "Disabled"
  | "PendingDeletion"
  | "PendingReplicaDeletion"
  | "PendingImport"
  | "Unavailable"
  | "Creating"
  | "Updating";

export const KEY_STATES: readonly KeyState[] = [
  "Enabled",
  "Disabled",
  "PendingDeletion",
  "PendingReplicaDeletion",
  "PendingImport",
  "Unavailable",
  "Creating",
  "Updating",
];

/** Tags earlier versions of the provider put on a key (a creation token); never shown, diffed or removed. */
export const PROVIDER_TAG_PREFIX = "pulumi-kms-key:";
export const CREATION_TOKEN_TAG = `${PROVIDER_TAG_PREFIX}creation-token`;

/** The key as read from KMS. A part left undefined could not be read (access denied). */
export interface ObservedKey {
  keyId: string;
  arn: string;
  keyState: string;
  deletionDate?: string;
  creationDate?: string;
  description: string;
  keyUsage: string;
  keySpec: string;
  multiRegion: boolean;
  origin: string;
  keyManager: string;
  policy?: string;
  enableKeyRotation?: boolean;
  rotationPeriodInDays?: number;
  tags?: Record<string, string>;
  /** Parts read could not see: "policy", "rotation", "tags". */
  unreadable: string[];
}

export type KeyAction =
  | { kind: "cancelDeletion" }
  | { kind: "enable" }
  | { kind: "updateDescription"; description: string }
  | { kind: "putPolicy"; policy: string; bypassPolicyLockoutSafetyCheck: boolean }
  | { kind: "enableRotation"; rotationPeriodInDays?: number }
  | { kind: "disableRotation" }
  | { kind: "tag"; tags: Record<string, string> }
  | { kind: "untag"; tagKeys: string[] }
  | { kind: "disable" }
  | { kind: "scheduleDeletion"; pendingWindowInDays: number };

export interface Plan {
  actions: KeyAction[];
  /** Set when the declared state can't be reached from this key state: said in plain words after the actions run. */
  refusal?: string;
}

export const PENDING_DELETION_STATES: readonly string[] = ["PendingDeletion", "PendingReplicaDeletion"];

export function isPendingDeletion(keyState: string): boolean {
  return PENDING_DELETION_STATES.includes(keyState);
}

/** What KMS leaves a key in after CancelKeyDeletion, as far as can be known before the call. */
export const STATE_AFTER_CANCEL: KeyState = "Disabled";

/** The calls that bring an existing key to the declared state. */
export function planUpdate(desired: DesiredKey, observed: ObservedKey): Plan {
  const name = keyName(observed);
  if (isPendingDeletion(observed.keyState)) {
    // Cancel first: KMS allows nothing else on a key pending deletion.
    const rest = planUpdate(desired, { ...observed, keyState: STATE_AFTER_CANCEL, deletionDate: undefined });
    return { actions: [{ kind: "cancelDeletion" }, ...rest.actions], refusal: rest.refusal };
  }
  switch (observed.keyState) {
    case "Unavailable":
      return {
        actions: [],
        refusal: `${name} is Unavailable: its custom key store is disconnected. Reconnect the key store, then run pulumi up again.`,
      };
    case "Creating":
    case "Updating":
      return {
        actions: [],
        refusal: `${name} is ${observed.keyState} (a multi-Region operation is in progress). Run pulumi up again when KMS has finished.`,
      };
    case "PendingImport":
      return planPendingImport(desired, observed, name);
    case "Enabled":
    case "Disabled":
      return planUsableKey(desired, observed, name);
    default:
      return {
        actions: [],
        refusal: `${name} is in key state ${observed.keyState}, which this provider does not know how to manage.`,
      };
  }
}

function planUsableKey(desired: DesiredKey, observed: ObservedKey, name: string): Plan {
  const actions: KeyAction[] = [];
  let refusal: string | undefined;
  // Enable before modifying: a disabled key refuses some changes (rotation).
  if (desired.enabled && observed.keyState === "Disabled") actions.push({ kind: "enable" });
  actions.push(...metadataActions(desired, observed));
  const rotation = rotationActions(desired, observed);
  if (rotation.length > 0) {
    if (rotationUnsupported(observed)) {
      if (desired.enableKeyRotation) refusal = rotationUnsupportedReason(observed, name);
    } else if (!desired.enabled && observed.keyState === "Disabled") {
      refusal = `${name} is Disabled and KMS changes rotation only on an enabled key: declare enabled: true for this update, or leave enableKeyRotation and rotationPeriodInDays as they are.`;
    } else {
      actions.push(...rotation);
    }
  }
  // Disable last: it must not block the changes above.
  if (!desired.enabled && observed.keyState === "Enabled") actions.push({ kind: "disable" });
  return { actions, refusal };
}

function planPendingImport(desired: DesiredKey, observed: ObservedKey, name: string): Plan {
  // Description, policy and tags can change while KMS waits for key material; enabling can't.
  const actions = metadataActions(desired, observed);
  const refusal = desired.enabled
    ? `${name} is PendingImport: KMS keeps a key with imported key material there once that material is gone (after a cancelled deletion, too). ` +
      `Import its key material again (GetParametersForImport, ImportKeyMaterial), then run pulumi up to enable it; or declare enabled: false.`
    : undefined;
  return { actions, refusal };
}

function metadataActions(desired: DesiredKey, observed: ObservedKey): KeyAction[] {
  const actions: KeyAction[] = [];
  if (desired.description !== observed.description) {
    actions.push({ kind: "updateDescription", description: desired.description });
  }
  if (desired.policy !== undefined && (observed.policy === undefined || !jsonEqual(desired.policy, observed.policy))) {
    actions.push({
      kind: "putPolicy",
      policy: desired.policy,
      bypassPolicyLockoutSafetyCheck: desired.bypassPolicyLockoutSafetyCheck,
    });
  }
  actions.push(...tagActions(desired.tags, observed.tags));
  return actions;
}

/** Tag changes; with unreadable tags, every declared tag is (re)applied and none removed. */
export function tagActions(
  declared: Record<string, string>,
  observed: Record<string, string> | undefined,
): KeyAction[] {
  const current = observed ?? {};
  const toSet: Record<string, string> = {};
  for (const [key, value] of Object.entries(declared)) {
    if (observed === undefined || current[key] !== value) toSet[key] = value;
  }
  const toRemove = Object.keys(current).filter((key) => !(key in declared) && !key.startsWith(PROVIDER_TAG_PREFIX));
  const actions: KeyAction[] = [];
  if (toRemove.length > 0) actions.push({ kind: "untag", tagKeys: toRemove.sort() });
  if (Object.keys(toSet).length > 0) actions.push({ kind: "tag", tags: toSet });
  return actions;
}

function rotationActions(desired: DesiredKey, observed: ObservedKey): KeyAction[] {
  if (observed.enableKeyRotation === undefined) {
    // Rotation status unreadable: apply what is declared.
    return desired.enableKeyRotation
      ? [{ kind: "enableRotation", rotationPeriodInDays: desired.rotationPeriodInDays }]
      : [{ kind: "disableRotation" }];
  }
  if (desired.enableKeyRotation) {
    const periodDiffers =
      desired.rotationPeriodInDays !== undefined && desired.rotationPeriodInDays !== observed.rotationPeriodInDays;
    if (!observed.enableKeyRotation || periodDiffers) {
      return [{ kind: "enableRotation", rotationPeriodInDays: desired.rotationPeriodInDays }];
    }
    return [];
  }
  return observed.enableKeyRotation ? [{ kind: "disableRotation" }] : [];
}

function rotationUnsupported(observed: ObservedKey): boolean {
  return observed.keySpec !== "SYMMETRIC_DEFAULT" || observed.origin !== "AWS_KMS";
}

function rotationUnsupportedReason(observed: ObservedKey, name: string): string {
  return observed.keySpec !== "SYMMETRIC_DEFAULT"
    ? `${name} has key spec ${observed.keySpec}; KMS rotates only SYMMETRIC_DEFAULT keys: set enableKeyRotation: false.`
    : `${name} has origin ${observed.origin}; KMS rotates only keys whose material it generated (origin AWS_KMS): set enableKeyRotation: false.`;
}

/** The calls that follow CreateKey, which already carries description, usage, spec, policy, tags and multi-Region. */
export function planAfterCreate(desired: DesiredKey): KeyAction[] {
  const actions: KeyAction[] = [];
  if (desired.enableKeyRotation) {
    actions.push({ kind: "enableRotation", rotationPeriodInDays: desired.rotationPeriodInDays });
  }
  if (!desired.enabled) actions.push({ kind: "disable" });
  return actions;
}

/** delete: a key already pending deletion, or gone, needs nothing. */
export function planDelete(observed: ObservedKey | undefined, deletionWindowInDays: number): KeyAction[] {
  if (observed === undefined || isPendingDeletion(observed.keyState)) return [];
  return [{ kind: "scheduleDeletion", pendingWindowInDays: deletionWindowInDays }];
}

export function keyName(observed: { keyId: string }): string {
  return `KMS key ${observed.keyId}`;
}
