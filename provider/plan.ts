// The heart of the provider: a pure function from (declared key, observed key) to the KMS calls to make, in order.
import { DesiredKey } from "./inputs";
import { policiesEquivalent } from "./policy";
import { isReservedTag } from "./tags";

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
  /** PRIMARY or REPLICA for a multi-Region key. */
  multiRegionKeyType?: string;
  /** A multi-Region key's primary key (its own ARN for a primary). */
  primaryKeyArn?: string;
  origin: string;
  keyManager: string;
  policy?: string;
  enableKeyRotation?: boolean;
  rotationPeriodInDays?: number;
  tags?: Record<string, string>;
  /** Parts read could not see: "policy", "rotation", "tags". */
  unreadable: string[];
  /** The owner tag of an adoption, as a read of the key's tags found it: null for none; undefined when not read. */
  ownerTag?: string | null;
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

/** A read the planner may ask for between calls: KMS hides a key's rotation while it is pending deletion. */
export type KeyRead = { kind: "readRotation" };
export type KeyStep = KeyAction | KeyRead;

/** What a call answered, as far as the planner needs it. */
export interface StepAnswer {
  /** The key state the call leaves, when it changes it. */
  keyState?: string;
  /** readRotation: the rotation status; undefined when access to it is denied. */
  rotation?: { enabled: boolean; periodInDays?: number };
}

/** The next step toward the declaration, or none: then a refusal says why the declaration can't be reached. */
export interface Step {
  step?: KeyStep;
  refusal?: string;
}

export interface Plan {
  actions: KeyAction[];
  /** Set when the declared state can't be reached from this key state: said in plain words after the actions run. */
  refusal?: string;
}

export const PENDING_DELETION_STATES: readonly KeyState[] = ["PendingDeletion", "PendingReplicaDeletion"];

export function isPendingDeletion(keyState: string): boolean {
  return (PENDING_DELETION_STATES as readonly string[]).includes(keyState);
}

/** What KMS leaves a key in after CancelKeyDeletion, as far as can be known before the call. */
export const STATE_AFTER_CANCEL: KeyState = "Disabled";

/** The parts of a key an update can change, each with its own KMS calls. */
export type KeyPart = "description" | "policy" | "tags" | "rotation" | "enabled";
const KEY_PARTS: readonly KeyPart[] = ["description", "policy", "tags", "rotation", "enabled"];

/**
 * What an update may change. An update changes only the parts whose declared value differs from the last known one
 * (what diff reported): a value the engine fed from old state (ignoreChanges) is not the program's intent.
 */
export interface UpdateScope {
  changed: ReadonlySet<KeyPart>;
  /** False when the program leaves the key's state to others (ignoreChanges: ["keyState"]): no cancel, enable or disable. */
  keyStateManaged: boolean;
}

/** Every part, key state included: an import, which brings the whole key to the declaration. */
export const FULL_SCOPE: UpdateScope = { changed: new Set(KEY_PARTS), keyStateManaged: true };

/** The calls that bring an existing key to the declared state, for the parts in scope. */
export function planUpdate(desired: DesiredKey, observed: ObservedKey, scope: UpdateScope = FULL_SCOPE): Plan {
  const name = keyName(observed);
  if (isPendingDeletion(observed.keyState)) {
    if (!scope.keyStateManaged) {
      return {
        actions: [],
        refusal: `${name} is ${observed.keyState} and keyState is in ignoreChanges, so this provider leaves its deletion alone and KMS changes nothing else on it: cancel the deletion yourself, or take keyState out of ignoreChanges.`,
      };
    }
    // Cancel first: KMS allows nothing else on a key pending deletion. Then enable it when declared enabled,
    // whatever else changed: the key was usable before someone scheduled its deletion.
    const rest = planUpdate(
      desired,
      { ...observed, keyState: STATE_AFTER_CANCEL, deletionDate: undefined },
      afterCancel(scope),
    );
    return { actions: [{ kind: "cancelDeletion" }, ...rest.actions], refusal: rest.refusal };
  }
  switch (observed.keyState) {
    case "Unavailable":
      return planUnavailable(desired, observed, name, scope);
    case "Creating":
    case "Updating":
      return {
        actions: [],
        refusal: `${name} is ${observed.keyState} (a multi-Region operation is in progress). Run pulumi up again when KMS has finished.`,
      };
    case "PendingImport":
      return planPendingImport(desired, observed, name, scope);
    case "Enabled":
    case "Disabled":
      return planUsableKey(desired, observed, name, scope);
    default:
      return {
        actions: [],
        refusal: `${name} is in key state ${observed.keyState}, which this provider does not know how to manage.`,
      };
  }
}

/** The scope of the calls after a cancel: the key's state is in it, whatever else changed. */
export function afterCancel(scope: UpdateScope): UpdateScope {
  return { ...scope, changed: new Set([...scope.changed, "enabled"]) };
}

/**
 * The one call to make next, from the key as it is now: the provider calls this once per step, applies `transition`
 * to what the call answered, and asks again, until nothing is left (a refusal then says what stopped it).
 */
export function nextStep(desired: DesiredKey, observed: ObservedKey, scope: UpdateScope = FULL_SCOPE): Step {
  if (rotationHidden(observed, scope)) return { step: { kind: "readRotation" } };
  const plan = planUpdate(desired, observed, scope);
  return plan.actions.length > 0 ? { step: plan.actions[0] } : { refusal: plan.refusal };
}

/** KMS hid the rotation status while the key was pending deletion, and restores it on cancel: read it before rotating. */
function rotationHidden(observed: ObservedKey, scope: UpdateScope): boolean {
  return (
    scope.changed.has("rotation") &&
    !isPendingDeletion(observed.keyState) &&
    observed.enableKeyRotation === undefined &&
    !observed.unreadable.includes("rotation")
  );
}

/** The key, and the scope of what is left to change, as a successful step leaves them. */
export function transition(
  key: ObservedKey,
  scope: UpdateScope,
  step: KeyStep,
  answer: StepAnswer = {},
): { observed: ObservedKey; scope: UpdateScope } {
  const next: ObservedKey = { ...key, keyState: answer.keyState ?? key.keyState };
  if (!isPendingDeletion(next.keyState)) next.deletionDate = undefined;
  switch (step.kind) {
    case "cancelDeletion":
      // The key was usable before someone scheduled its deletion: its state is in scope from here on.
      return { observed: next, scope: afterCancel(scope) };
    case "readRotation":
      if (answer.rotation) {
        next.enableKeyRotation = answer.rotation.enabled;
        next.rotationPeriodInDays = answer.rotation.enabled ? answer.rotation.periodInDays : undefined;
      } else {
        next.unreadable = [...key.unreadable, "rotation"];
      }
      break;
    case "updateDescription":
      next.description = step.description;
      break;
    case "putPolicy":
      next.policy = step.policy;
      break;
    case "enableRotation":
      next.enableKeyRotation = true;
      next.rotationPeriodInDays = step.rotationPeriodInDays;
      break;
    case "disableRotation":
      next.enableKeyRotation = false;
      next.rotationPeriodInDays = undefined;
      break;
    case "tag":
      next.tags = { ...(key.tags ?? {}), ...step.tags };
      break;
    case "untag":
      next.tags = Object.fromEntries(Object.entries(key.tags ?? {}).filter(([k]) => !step.tagKeys.includes(k)));
      break;
  }
  return { observed: next, scope };
}

/** What KMS answers a step when all goes as usual: the planner's own expectation (previews and tests use it). */
export function expectedAnswer(step: KeyStep): StepAnswer {
  switch (step.kind) {
    case "cancelDeletion":
      return { keyState: STATE_AFTER_CANCEL };
    case "enable":
      return { keyState: "Enabled" };
    case "disable":
      return { keyState: "Disabled" };
    case "scheduleDeletion":
      return { keyState: "PendingDeletion" };
    default:
      return {};
  }
}

/** Every step from here when each call answers as usual: nextStep and transition run to the end. */
export function planSteps(desired: DesiredKey, observed: ObservedKey, scope: UpdateScope = FULL_SCOPE): Plan {
  const actions: KeyAction[] = [];
  let state = { observed, scope };
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    const next = nextStep(desired, state.observed, state.scope);
    if (!next.step) return { actions, refusal: next.refusal };
    if (next.step.kind !== "readRotation") actions.push(next.step);
    const answer = next.step.kind === "readRotation" ? {} : expectedAnswer(next.step);
    state = transition(state.observed, state.scope, next.step, answer);
  }
  throw new Error(`the planner did not settle after ${MAX_STEPS} steps (a bug in pulumi-kms-key)`);
}

/** More steps than any declaration needs (each part changes once): past it, the planner has a bug. */
export const MAX_STEPS = 16;

function managesState(scope: UpdateScope): boolean {
  return scope.keyStateManaged && scope.changed.has("enabled");
}

function planUsableKey(desired: DesiredKey, observed: ObservedKey, name: string, scope: UpdateScope): Plan {
  const actions: KeyAction[] = [];
  let refusal: string | undefined;
  const manageState = managesState(scope);
  // Enable before modifying: a disabled key refuses some changes (rotation).
  if (manageState && desired.enabled && observed.keyState === "Disabled") actions.push({ kind: "enable" });
  actions.push(...metadataActions(desired, observed, scope));
  const rotation = scope.changed.has("rotation") ? rotationActions(desired, observed) : [];
  if (rotation.length > 0) {
    const enabledForRotation = observed.keyState === "Enabled" || actions.some((a) => a.kind === "enable");
    if (observed.multiRegionKeyType === "REPLICA") {
      // A replica's rotation is its primary key's: KMS refuses rotation calls on a replica.
      if (replicaRotationDiffers(desired, observed)) refusal = replicaRotationReason(observed, name);
    } else if (rotationUnsupported(observed)) {
      if (desired.enableKeyRotation) refusal = rotationUnsupportedReason(observed, name);
    } else if (!enabledForRotation) {
      refusal = `${name} is Disabled and KMS changes rotation only on an enabled key: declare enabled: true for this update, or leave enableKeyRotation and rotationPeriodInDays as they are.`;
    } else {
      actions.push(...rotation);
    }
  }
  // Disable last: it must not block the changes above.
  if (manageState && !desired.enabled && observed.keyState === "Enabled") actions.push({ kind: "disable" });
  return { actions, refusal };
}

function planUnavailable(desired: DesiredKey, observed: ObservedKey, name: string, scope: UpdateScope): Plan {
  // Its key store is disconnected: nothing to do is fine (the diff settles); any change waits for the key store.
  const rotation = scope.changed.has("rotation") ? rotationActions(desired, observed) : [];
  const wanted = metadataActions(desired, observed, scope).length > 0 || rotation.length > 0;
  const refusal =
    wanted || (managesState(scope) && desired.enabled)
      ? `${name} is Unavailable: its custom key store is disconnected. Reconnect the key store, then run pulumi up again.`
      : undefined;
  return { actions: [], refusal };
}

function planPendingImport(desired: DesiredKey, observed: ObservedKey, name: string, scope: UpdateScope): Plan {
  // Description, policy and tags can change while KMS waits for key material; enabling can't.
  const actions = metadataActions(desired, observed, scope);
  const refusal =
    managesState(scope) && desired.enabled
      ? `${name} is PendingImport: KMS keeps a key with imported key material there once that material is gone (after a cancelled deletion, too). ` +
        `Import its key material again (GetParametersForImport, ImportKeyMaterial), then run pulumi up to enable it; or declare enabled: false.`
      : undefined;
  return { actions, refusal };
}

function metadataActions(desired: DesiredKey, observed: ObservedKey, scope: UpdateScope): KeyAction[] {
  const actions: KeyAction[] = [];
  if (scope.changed.has("description") && desired.description !== observed.description) {
    actions.push({ kind: "updateDescription", description: desired.description });
  }
  if (
    scope.changed.has("policy") &&
    desired.policy !== undefined &&
    (observed.policy === undefined || !policiesEquivalent(desired.policy, observed.policy))
  ) {
    actions.push({
      kind: "putPolicy",
      policy: desired.policy,
      bypassPolicyLockoutSafetyCheck: desired.bypassPolicyLockoutSafetyCheck,
    });
  }
  if (scope.changed.has("tags")) actions.push(...tagActions(desired.tags, observed.tags));
  return actions;
}

/** Tag changes; with unreadable tags, every declared tag is (re)applied and none removed. Reserved tags stay. */
export function tagActions(
  declared: Record<string, string>,
  observed: Record<string, string> | undefined,
): KeyAction[] {
  const current = observed ?? {};
  const toSet: Record<string, string> = {};
  for (const [key, value] of Object.entries(declared)) {
    if (observed === undefined || current[key] !== value) toSet[key] = value;
  }
  const toRemove = Object.keys(current).filter((key) => !(key in declared) && !isReservedTag(key));
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

/** Whether a replica rotates other than declared, as far as KMS reports it (a period it leaves out can't differ). */
function replicaRotationDiffers(desired: DesiredKey, observed: ObservedKey): boolean {
  if (observed.enableKeyRotation === undefined) return false;
  if (desired.enableKeyRotation !== observed.enableKeyRotation) return true;
  return (
    desired.enableKeyRotation &&
    observed.rotationPeriodInDays !== undefined &&
    desired.rotationPeriodInDays !== observed.rotationPeriodInDays
  );
}

function replicaRotationReason(observed: ObservedKey, name: string): string {
  const period =
    observed.rotationPeriodInDays === undefined ? "" : ` and rotationPeriodInDays: ${observed.rotationPeriodInDays}`;
  return `${name} is a multi-Region replica key, and its rotation is set on its primary key: change rotation there, or declare enableKeyRotation: ${String(observed.enableKeyRotation)}${period} here.`;
}

function rotationUnsupportedReason(observed: ObservedKey, name: string): string {
  return observed.keySpec !== "SYMMETRIC_DEFAULT"
    ? `${name} has key spec ${observed.keySpec}; KMS rotates only SYMMETRIC_DEFAULT keys: set enableKeyRotation: false.`
    : `${name} has origin ${observed.origin}; KMS rotates only keys whose material it generated (origin AWS_KMS): set enableKeyRotation: false.`;
}

/** delete: a key already pending deletion, or gone, needs nothing. */
export function planDelete(observed: ObservedKey | undefined, deletionWindowInDays: number): KeyAction[] {
  if (observed === undefined || isPendingDeletion(observed.keyState)) return [];
  return [{ kind: "scheduleDeletion", pendingWindowInDays: deletionWindowInDays }];
}

function keyName(observed: { keyId: string }): string {
  return `KMS key ${observed.keyId}`;
}
