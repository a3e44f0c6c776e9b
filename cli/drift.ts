// Pure: which KmsKeys drifted, read from the engine events of a refreshed preview. No I/O here.
import type { EngineEvent, StepEventMetadata } from "@pulumi/pulumi/automation";

/** Type token of KmsKey resources in a stack. */
export const KMS_KEY_TYPE = "pulumi-nodejs:dynamic/kms:KmsKey";

/** How a key drifted, most urgent first (the order of the report). */
export const DRIFT_KINDS = ["pending-deletion", "disabled", "attributes", "gone"] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** The attributes compared between the live key and its declaration, in the user's words. */
export const DRIFT_ATTRIBUTES = [
  "description",
  "tags",
  "policy",
  "enableKeyRotation",
  "rotationPeriodInDays",
  // Only a key declared disabled that is enabled: the other way round is the "disabled" kind.
  "enabled",
] as const;
export type DriftAttribute = (typeof DRIFT_ATTRIBUTES)[number];

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
interface Observation {
  urn: string;
  /** Outputs after the refresh; null when the refresh found the key gone. */
  live?: Props | null;
  /** The declaration (inputs of the program's registration), from the plan step. */
  declared?: Props;
  /** The plan step's operation (same, update, create, ...). */
  op?: string;
}

/** The KmsKeys' refresh results and plan steps, by URN, from a preview's (or refresh's) engine events. */
export function observeKeys(events: Iterable<EngineEvent>): Map<string, Observation> {
  const keys = new Map<string, Observation>();
  const at = (urn: string): Observation => {
    let observation = keys.get(urn);
    if (!observation) keys.set(urn, (observation = { urn }));
    return observation;
  };
  for (const event of events) {
    const metadata: StepEventMetadata | undefined = event.resOutputsEvent?.metadata ?? event.resourcePreEvent?.metadata;
    if (!metadata || metadata.type !== KMS_KEY_TYPE) continue;
    const observation = at(metadata.urn);
    if (metadata.op === "refresh") {
      // Only the outputs event carries what the read found; a read that finds nothing leaves `new` empty.
      if (event.resOutputsEvent) observation.live = metadata.new?.outputs ?? null;
    } else {
      observation.op = metadata.op;
      if (metadata.new?.inputs) observation.declared = metadata.new.inputs;
      if (observation.live === undefined && metadata.old?.outputs) observation.live = metadata.old.outputs;
    }
  }
  return keys;
}

/** Every drifted key of a preview with refresh, most urgent first, then by name. */
export function findDrift(events: Iterable<EngineEvent>, now: Date): KeyDrift[] {
  const drifted: KeyDrift[] = [];
  for (const observation of observeKeys(events).values()) {
    const drift = driftOf(observation, now);
    if (drift) drifted.push(drift);
  }
  return drifted.sort(
    (a, b) =>
      DRIFT_KINDS.indexOf(a.kind) - DRIFT_KINDS.indexOf(b.kind) ||
      (a.daysLeft ?? 0) - (b.daysLeft ?? 0) ||
      a.name.localeCompare(b.name),
  );
}

function driftOf({ urn, live, declared, op }: Observation, now: Date): KeyDrift | undefined {
  // A key the program no longer declares (or never deployed) is a program change, not drift.
  if (!declared || op === "delete") return undefined;
  const name = urn.slice(urn.lastIndexOf("::") + 2);
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
  const keyState = text(live.keyState);
  const attributes = DRIFT_ATTRIBUTES.filter((attribute) => attributeDiffers(attribute, live, declared));
  const pending = keyState === "PendingDeletion" || keyState === "PendingReplicaDeletion";
  const notEnabled = declaredEnabled && keyState !== "Enabled";
  const kind: DriftKind | undefined = pending
    ? "pending-deletion"
    : notEnabled
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

function attributeDiffers(attribute: DriftAttribute, live: Props, declared: Props): boolean {
  const want = declared[attribute];
  switch (attribute) {
    case "policy":
      // An undeclared policy is not managed; a declared one is compared as JSON, as the provider does.
      return want !== undefined && canonical(parseJson(live.policy)) !== canonical(parseJson(want));
    case "enableKeyRotation":
      return (want === true) !== (live.enableKeyRotation === true);
    case "rotationPeriodInDays":
      return declared.enableKeyRotation === true && want !== undefined && want !== live.rotationPeriodInDays;
    case "tags":
      return canonical(want ?? {}) !== canonical(live.tags ?? {});
    case "description":
      return (want ?? "") !== (live.description ?? "");
    case "enabled":
      return want === false && live.keyState === "Enabled";
  }
}

function parseJson(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** JSON with object keys sorted, so key order makes no difference. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Props).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : inner,
  );
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
