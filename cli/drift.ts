// Pure: which KmsKeys drifted, read from the engine events of a refreshed preview. No I/O here.
// Drift has one definition, the provider's: a key drifted when the engine plans to change it (its diff, diffKey) and
// the provider's own comparison (changesOf) names what differs. Nothing here compares attributes by other rules.
import type { EngineEvent, OpType, StepEventMetadata } from "@pulumi/pulumi/automation";
import { KEY_SCHEMA } from "../provider/key/schema";
import { changesOf } from "../provider/keyProvider";
import { driftProperties } from "../provider/schema";
import { isPendingDeletion } from "../provider/plan";

/** Type token of KmsKey resources in a stack. */
export const KMS_KEY_TYPE = "pulumi-nodejs:dynamic/kms:KmsKey";

/** How a key drifted, most urgent first (the order of the report). */
const DRIFT_KINDS = ["pending-deletion", "disabled", "attributes", "gone"] as const;
type DriftKind = (typeof DRIFT_KINDS)[number];

/**
 * The attributes a key can drift in, in the user's words: the schema's. "enabled" is only a key declared disabled
 * that is enabled: the other way round is the "disabled" kind.
 */
const DRIFT_ATTRIBUTES = driftProperties(KEY_SCHEMA);
type DriftAttribute = string;

/** The plan steps that change a key that exists: the engine's word that it differs from its declaration. */
const CHANGING_OPS: readonly OpType[] = ["update", "replace", "create-replacement", "delete-replaced"];
/** The steps of a key read with KmsKey.get: the stack does not manage it. */
const READ_OPS: readonly OpType[] = ["read", "read-replacement", "discard", "discard-replaced"];

const DAY_MS = 24 * 60 * 60_000;

/** One KmsKey whose live state differs from its declaration. */
export interface KeyDrift {
  urn: string;
  /** The resource name in the program. */
  name: string;
  keyId?: string;
  arn?: string;
  kind: DriftKind;
  /** KMS's KeyState as the refresh saw it; absent for a gone key. */
  keyState?: string;
  /** ISO 8601; only while pending deletion. */
  deletionDate?: string;
  /** Whole days (rounded down) from now to deletionDate; only while pending deletion. */
  daysLeft?: number;
  /** Declared attributes the live key does not have. */
  attributes: DriftAttribute[];
  /** Whether the program declares the key enabled. */
  declaredEnabled: boolean;
  /** What `pulumi up` (or `kms-key-drift recover`) would do about it. */
  upWould: string;
}

type Props = Record<string, unknown>;

/** What the events say about one KmsKey. */
export interface Observation {
  urn: string;
  /** Outputs after the refresh; null when the refresh found the key gone. */
  live?: Props | null;
  /** The declaration (inputs of the program's registration, as the provider's check left them), from the plan step. */
  declared?: Props;
  /** The plan step's operation (same, update, create, ...). */
  op?: OpType;
  /** Read with KmsKey.get: the stack reads this key and never changes it. */
  readOnly?: boolean;
}

/** The KmsKeys' refresh results and plan steps, by URN, from a preview's (or refresh's) engine events. */
export function observeKeys(events: Iterable<EngineEvent>): Map<string, Observation> {
  const keys = new Map<string, Observation>();
  const at = (urn: string): Observation => {
    let observation = keys.get(urn);
    if (!observation) keys.set(urn, (observation = { urn }));
    return observation;
  };
  // Keys whose refresh step started: their next outputs event is what the read found.
  const refreshing = new Set<string>();
  for (const event of events) {
    const metadata: StepEventMetadata | undefined = event.resOutputsEvent?.metadata ?? event.resourcePreEvent?.metadata;
    if (!metadata || metadata.type !== KMS_KEY_TYPE) continue;
    const observation = at(metadata.urn);
    if (READ_OPS.includes(metadata.op)) {
      observation.readOnly = true;
    } else if (event.resourcePreEvent && metadata.op === "refresh") {
      refreshing.add(metadata.urn);
    } else if (event.resOutputsEvent && (refreshing.delete(metadata.urn) || metadata.op === "refresh")) {
      // A preview reports the read as a refresh step; a refresh reports its outcome (same, update, delete: gone).
      observation.live = metadata.op === "delete" ? null : (metadata.new?.outputs ?? null);
    } else if (metadata.op !== "refresh") {
      // A replacement's steps come one after another; the one that changes the key in place is what it plans.
      if (!CHANGING_OPS.includes(observation.op as OpType)) observation.op = metadata.op;
      if (metadata.new?.inputs) observation.declared = metadata.new.inputs;
      if (observation.live === undefined && metadata.old?.outputs) observation.live = metadata.old.outputs;
    }
  }
  return keys;
}

/** Every drifted key of a preview with refresh, most urgent first, then by name. */
export function findDrift(events: Iterable<EngineEvent>, now: Date): KeyDrift[] {
  return sortDrift([...observeKeys(events).values()].flatMap((observation) => driftOf(observation, now) ?? []));
}

/** Most urgent first (fewest days left first among keys pending deletion), then by name. */
function sortDrift<T extends KeyDrift>(drifted: T[]): T[] {
  return drifted.sort(
    (a, b) =>
      DRIFT_KINDS.indexOf(a.kind) - DRIFT_KINDS.indexOf(b.kind) ||
      (a.daysLeft ?? 0) - (b.daysLeft ?? 0) ||
      a.name.localeCompare(b.name),
  );
}

/** How one key drifted, if it did: the engine's plan says whether, the provider's comparison says what. */
export function driftOf({ urn, live, declared, op, readOnly }: Observation, now: Date): KeyDrift | undefined {
  // KmsKey.get reads a key the stack does not manage: it has no declaration to drift from.
  if (readOnly) return undefined;
  // A key the program no longer declares (or never deployed) is a program change, not drift.
  if (!declared || op === "delete") return undefined;
  const name = nameOf(urn);
  const declaredEnabled = declared.enabled !== false;
  if (live === null) {
    return {
      urn,
      name,
      kind: "gone",
      attributes: [],
      declaredEnabled,
      upWould: "create a new key: KMS no longer has this one, and data encrypted under it cannot be decrypted",
    };
  }
  // Declared but not deployed yet: nothing live to drift.
  if (!live) return undefined;
  // The engine leaves the key as it is: whatever the outputs look like, the provider's diff found nothing to do.
  if (op === undefined || !CHANGING_OPS.includes(op)) return undefined;
  const keyState = text(live.keyState);
  const stateDiffers = changesOf(live, declared).changed.has("enabled");
  const pending = stateDiffers && keyState !== undefined && isPendingDeletion(keyState);
  const attributes = changedAttributes(live, declared);
  if (stateDiffers && !pending && !declaredEnabled) attributes.push("enabled");
  const kind: DriftKind | undefined = pending
    ? "pending-deletion"
    : stateDiffers && declaredEnabled
      ? "disabled"
      : attributes.length > 0
        ? "attributes"
        : undefined;
  if (!kind) return undefined;
  const deletionDate = pending ? text(live.deletionDate) : undefined;
  return {
    urn,
    name,
    keyId: text(live.keyId),
    arn: text(live.arn),
    kind,
    keyState,
    deletionDate,
    daysLeft: deletionDate ? daysLeft(deletionDate, now) : undefined,
    attributes,
    declaredEnabled,
    upWould: plannedActions({ kind, keyState, attributes, declaredEnabled }).join(", "),
  };
}

/**
 * The declared attributes (other than the key's state) that the provider's comparison finds different. It compares
 * enableKeyRotation and rotationPeriodInDays as one part, rotation: each input is put to it alone to name the one.
 */
function changedAttributes(live: Props, declared: Props): DriftAttribute[] {
  return DRIFT_ATTRIBUTES.filter(
    (attribute) =>
      attribute !== "enabled" &&
      changesOf({ [attribute]: live[attribute] }, { [attribute]: declared[attribute] }).changed.size > 0,
  );
}

/** Whole days from `now` until `date`, rounded down (0 on the last day, never negative). */
export function daysLeft(date: string, now: Date): number | undefined {
  const time = Date.parse(date);
  if (Number.isNaN(time)) return undefined;
  return Math.max(0, Math.floor((time - now.getTime()) / DAY_MS));
}

/** The recovery steps of a drifted key, in the provider's order, in plain words. */
export function plannedActions(
  drift: Pick<KeyDrift, "kind" | "keyState" | "attributes" | "declaredEnabled">,
): string[] {
  if (drift.kind === "gone") return ["create a new key"];
  const actions: string[] = [];
  if (drift.kind === "pending-deletion") actions.push("cancel the deletion");
  // A cancelled key comes back Disabled; a declared-enabled key is then enabled.
  if (drift.declaredEnabled && (drift.kind === "pending-deletion" || drift.kind === "disabled")) {
    actions.push(drift.keyState === "PendingImport" ? "enable (needs key material imported first)" : "enable");
  }
  const reset = drift.attributes.filter((attribute) => attribute !== "enabled");
  if (reset.length > 0) actions.push(`reset ${reset.join(", ")}`);
  // Disabled last, as the provider does: a disabled key refuses some changes.
  if (drift.attributes.includes("enabled")) actions.push("disable");
  return actions;
}

export function nameOf(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
