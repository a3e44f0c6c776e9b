// Pure: which of the package's resources drifted, read from the engine events of a refreshed preview. No I/O here.
// Drift has one definition, the provider's: a resource drifted when the engine plans to change it (its diff) and the
// provider's own comparison (each schema property's rule; changesOf for a key's state) names what differs. Nothing
// here compares attributes by other rules.
import type { EngineEvent, OpType, StepEventMetadata } from "@pulumi/pulumi/automation";
import { ALIAS_SCHEMA } from "../provider/alias/schema";
import { KEY_SCHEMA } from "../provider/key/schema";
import { REPLICA_SCHEMA } from "../provider/replica/schema";
import { changesOf } from "../provider/key/provider";
import { driftProperties, propertyDiffers, ResourceSchema } from "../provider/schema";
import { isPendingDeletion } from "../provider/plan";

/** Type tokens of the package's resources in a stack. */
export const KMS_KEY_TYPE = "pulumi-nodejs:dynamic/kms:KmsKey";
export const KMS_REPLICA_KEY_TYPE = "pulumi-nodejs:dynamic/kms:KmsReplicaKey";
export const KMS_ALIAS_TYPE = "pulumi-nodejs:dynamic/kms:KmsAlias";

/** How the drift command sees one of the package's resources: its schema says what can drift and how it compares. */
interface DriftView {
  /** The resource's name in the user's words (its SDK class). */
  resource: Resource;
  schema: ResourceSchema;
  /** Whether the live key's state falls short of the declared one (keys only: aliases have none). */
  stateDiffers?: (live: Props, declared: Props) => boolean;
  /** What `up` does about a gone one, and why it matters. */
  whenGone: string;
  /** The same, as one recovery step. */
  goneAction: string;
  /**
   * `recover` makes a gone one again: an alias holds no key material, so a new one is the one that went. A gone key
   * (or replica key) is left to the user: `up` would make a key that is not the one the program had.
   */
  recoversGone: boolean;
}

/** Every resource type the drift command reports, by type token. */
const VIEWS: Readonly<Record<string, DriftView>> = {
  [KMS_KEY_TYPE]: {
    resource: "KmsKey",
    schema: KEY_SCHEMA,
    stateDiffers: (live, declared) => changesOf(live, declared).changed.has("enabled"),
    whenGone: "create a new key: KMS no longer has this one, and data encrypted under it cannot be decrypted",
    goneAction: "create a new key",
    recoversGone: false,
  },
  [KMS_REPLICA_KEY_TYPE]: {
    resource: "KmsReplicaKey",
    schema: REPLICA_SCHEMA,
    stateDiffers: (live, declared) => changesOf(live, declared, REPLICA_SCHEMA).changed.has("enabled"),
    whenGone: "create a new replica: KMS no longer has this one (the primary key still holds the key material)",
    goneAction: "create a new replica",
    recoversGone: false,
  },
  [KMS_ALIAS_TYPE]: {
    resource: "KmsAlias",
    schema: ALIAS_SCHEMA,
    whenGone: "create the alias again, pointing at its declared key",
    goneAction: "create the alias again",
    recoversGone: true,
  },
};

/** The package's resources, in the user's words (their SDK classes): a report entry's `resource`. */
export type Resource = "KmsKey" | "KmsReplicaKey" | "KmsAlias";

function viewOf(resource: string): DriftView | undefined {
  return Object.values(VIEWS).find((view) => view.resource === resource);
}

/** The schema of each resource the drift command reports: what its entries' `attributes` can name. */
export function reportedSchemas(): Record<Resource, ResourceSchema> {
  return Object.fromEntries(Object.values(VIEWS).map((view) => [view.resource, view.schema])) as Record<
    Resource,
    ResourceSchema
  >;
}

/** Whether `recover` makes a gone one of these again (aliases), rather than leaving it to the user (keys). */
export function recoversGone(resource: string): boolean {
  return viewOf(resource)?.recoversGone ?? false;
}

/**
 * The gone aliases whose key is gone too, by URN: the key the alias last pointed at (its state before the refresh) is
 * a key or replica key of the stack that the refresh found gone, as KMS deletes a key's aliases with the key. Such an
 * alias can only follow the new key that `up` would make, which is the user's call.
 */
export function aliasesOfGoneKeys(observed: Map<string, Observation>): Set<string> {
  const goneKeys = new Set<string>();
  for (const { type, live, last } of observed.values()) {
    if (type !== KMS_ALIAS_TYPE && live === null && typeof last?.arn === "string") goneKeys.add(last.arn);
  }
  const aliases = new Set<string>();
  for (const { urn, type, live, last } of observed.values()) {
    if (type === KMS_ALIAS_TYPE && live === null && goneKeys.has(String(last?.targetKeyArn))) aliases.add(urn);
  }
  return aliases;
}

/** Whether the drift command reports resources of this type token. */
export function reportsType(type: string | undefined): boolean {
  return type !== undefined && type in VIEWS;
}

/** How a key drifted, most urgent first (the order of the report). */
const DRIFT_KINDS = ["pending-deletion", "disabled", "attributes", "gone"] as const;
type DriftKind = (typeof DRIFT_KINDS)[number];

/**
 * An attribute a resource can drift in, in the user's words: one of its schema's drift properties. "enabled" is only
 * a key declared disabled that is enabled: the other way round is the "disabled" kind.
 */
type DriftAttribute = string;

/** The plan steps that change a key that exists: the engine's word that it differs from its declaration. */
const CHANGING_OPS: readonly OpType[] = ["update", "replace", "create-replacement", "delete-replaced"];
/** The steps of a key read with KmsKey.get: the stack does not manage it. */
const READ_OPS: readonly OpType[] = ["read", "read-replacement", "discard", "discard-replaced"];

const DAY_MS = 24 * 60 * 60_000;

/** One resource (a key, a replica key, an alias) whose live state differs from its declaration. */
export interface KeyDrift {
  urn: string;
  /** KmsKey, KmsReplicaKey or KmsAlias. */
  resource: Resource;
  /** The resource name in the program. */
  name: string;
  /** The key's ID (a replica's is its primary's); absent for a gone resource and for an alias. */
  keyId?: string;
  /** The key's ARN (a replica's in its own Region), or the alias's ARN; absent for a gone resource. */
  arn?: string;
  kind: DriftKind;
  /** KMS's KeyState as the refresh saw it; absent for a gone resource and for an alias. */
  keyState?: string;
  /** ISO 8601; only while pending deletion with a date (a PendingReplicaDeletion primary has none). */
  deletionDate?: string;
  /** Whole days (rounded down) from now to deletionDate; only with deletionDate. */
  daysLeft?: number;
  /** Declared attributes the live resource does not have. */
  attributes: DriftAttribute[];
  /** Whether the program declares the key enabled; absent for an alias. */
  declaredEnabled?: boolean;
  /** What `pulumi up` (or `kms-key-drift recover`) would do about it. */
  upWould: string;
}

type Props = Record<string, unknown>;

/** What the events say about one resource. */
export interface Observation {
  urn: string;
  /** The resource's type token. */
  type?: string;
  /** Outputs after the refresh; null when the refresh found the key gone. */
  live?: Props | null;
  /** Outputs in the state before the refresh (what a gone one was). */
  last?: Props;
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
    if (!metadata || !reportsType(metadata.type)) continue;
    const observation = at(metadata.urn);
    observation.type = metadata.type;
    if ((metadata.op === "refresh" || refreshing.has(metadata.urn)) && metadata.old?.outputs) {
      observation.last ??= metadata.old.outputs;
    }
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

/**
 * Most urgent first (fewest days left first among keys pending deletion), then by name. A key pending deletion without
 * a date (a multi-Region primary waiting for its replicas, PendingReplicaDeletion) comes after those with one: its
 * waiting period begins only when its last replica is deleted.
 */
function sortDrift<T extends KeyDrift>(drifted: T[]): T[] {
  return drifted.sort(
    (a, b) =>
      DRIFT_KINDS.indexOf(a.kind) - DRIFT_KINDS.indexOf(b.kind) ||
      (a.daysLeft ?? Infinity) - (b.daysLeft ?? Infinity) ||
      a.name.localeCompare(b.name),
  );
}

/** How one key drifted, if it did: the engine's plan says whether, the provider's comparison says what. */
export function driftOf(
  { urn, type = KMS_KEY_TYPE, live, declared, op, readOnly }: Observation,
  now: Date,
): KeyDrift | undefined {
  const view = VIEWS[type];
  if (!view) return undefined;
  // KmsKey.get reads a key the stack does not manage: it has no declaration to drift from.
  if (readOnly) return undefined;
  // A key the program no longer declares (or never deployed) is a program change, not drift.
  if (!declared || op === "delete") return undefined;
  const name = nameOf(urn);
  // Only a key has a state to declare: an alias has no declaredEnabled.
  const declaredEnabled = view.stateDiffers ? declared.enabled !== false : undefined;
  if (live === null) {
    return {
      urn,
      resource: view.resource,
      name,
      kind: "gone",
      attributes: [],
      declaredEnabled,
      upWould: view.whenGone,
    };
  }
  // Declared but not deployed yet: nothing live to drift.
  if (!live) return undefined;
  // The engine leaves the key as it is: whatever the outputs look like, the provider's diff found nothing to do.
  if (op === undefined || !CHANGING_OPS.includes(op)) return undefined;
  // An alias's outputs have no key state: it is a key's only.
  const keyState = view.stateDiffers ? text(live.keyState) : undefined;
  const stateDiffers = view.stateDiffers?.(live, declared) ?? false;
  const pending = stateDiffers && keyState !== undefined && isPendingDeletion(keyState);
  const attributes = changedAttributes(view.schema, live, declared);
  if (stateDiffers && !pending && declaredEnabled === false) attributes.push("enabled");
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
    resource: view.resource,
    name,
    keyId: view.stateDiffers ? text(live.keyId) : undefined,
    arn: text(live.arn),
    kind,
    keyState,
    deletionDate,
    daysLeft: deletionDate ? daysLeft(deletionDate, now) : undefined,
    attributes,
    declaredEnabled,
    upWould: plannedActions({ resource: view.resource, kind, keyState, attributes, declaredEnabled }).join(", "),
  };
}

/** The declared attributes (other than a key's state) that differ by the provider's own rule for each. */
function changedAttributes(schema: ResourceSchema, live: Props, declared: Props): DriftAttribute[] {
  return driftProperties(schema).filter(
    (attribute) =>
      attribute !== "enabled" &&
      propertyDiffers(schema, attribute, live[attribute], declared[attribute], { olds: live, news: declared }),
  );
}

/** Whole days from `now` until `date`, rounded down (0 on the last day, never negative). */
export function daysLeft(date: string, now: Date): number | undefined {
  const time = Date.parse(date);
  if (Number.isNaN(time)) return undefined;
  return Math.max(0, Math.floor((time - now.getTime()) / DAY_MS));
}

/** The recovery steps of a drifted resource, in the provider's order, in plain words. */
export function plannedActions(
  drift: Pick<KeyDrift, "resource" | "kind" | "keyState" | "attributes" | "declaredEnabled">,
): string[] {
  if (drift.kind === "gone") return [viewOf(drift.resource)?.goneAction ?? "create it again"];
  // An alias has one thing to drift in: the key it points at.
  if (drift.resource === "KmsAlias") return ["point it back at its declared key"];
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
