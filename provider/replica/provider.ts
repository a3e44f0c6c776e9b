// The ResourceProvider for KmsReplicaKey: a multi-Region replica key, brought back like a KmsKey when it is found
// scheduled for deletion. What it shares with KmsKey (reads, the update planner, delete, adoption) is KmsKey's code.
import * as dynamic from "@pulumi/pulumi/dynamic";
import { desiredKey, KeyInputs } from "../inputs";
import { addressOf, bareKeyId, KeyArn, parseKeyArn } from "../keyAddress";
import {
  adopt,
  Adoption,
  changesOf,
  currentKey,
  goneOnUpdate,
  KeyProvider,
  partialFailure,
  reconcileTracked,
  withDefaults,
} from "../key/provider";
import { observedFrom } from "../kms/gateway";
import { replicateKey, settledReplica } from "../kms/replicas";
import { lookUpKey, observeKey } from "../locate";
import { isPendingDeletion, KeyPart, ObservedKey, UpdateScope } from "../plan";
import * as schema from "../schema";
import { ProviderSession } from "../session";
import { show, UNKNOWN } from "../validation";
import { withoutAbsent } from "../schema";
import { REPLICA_SCHEMA } from "./schema";

type Props = Record<string, unknown>;

/** Inputs a program declares for a replica key. */
export type ReplicaInputs = schema.InputsOf<typeof REPLICA_SCHEMA>;

/** What the provider stores and exports for a replica key. */
export type ReplicaOutputs = Omit<ReplicaInputs, "importKeyId"> &
  Partial<schema.ReportedOf<typeof REPLICA_SCHEMA>> &
  Pick<schema.ReportedOf<typeof REPLICA_SCHEMA>, "keyId" | "arn" | "keyState">;

/** Changing these makes another replica: another primary key, or another Region. */
const REPLACE_ON_CHANGE = schema.replaceOnChange(REPLICA_SCHEMA);
/** Inputs only this provider knows (KMS can't report them): an update that changes them calls nothing. */
const STATE_ONLY_INPUTS = schema.stateOnly(REPLICA_SCHEMA);

/** What an update of a replica may change: every part it has. Its rotation is its primary key's, never in scope. */
const REPLICA_SCOPE: UpdateScope = {
  changed: new Set(
    Object.values(REPLICA_SCHEMA.inputs).flatMap((property) => ("part" in property ? [property.part as KeyPart] : [])),
  ),
  keyStateManaged: true,
};

export class ReplicaProvider implements dynamic.ResourceProvider {
  /** KmsKey's provider, for what a replica does as any key does (delete). */
  private readonly keys: KeyProvider;

  /** What this provider process remembers between calls (one per deployment). */
  constructor(private readonly session = new ProviderSession()) {
    this.keys = new KeyProvider(session);
  }

  async check(_olds: Props, news: Props): Promise<dynamic.CheckResult> {
    return schema.checkInputs(REPLICA_SCHEMA, news, (declared) => withDefaults(declared, REPLICA_SCHEMA));
  }

  async diff(_id: string, olds: Props, news: Props): Promise<dynamic.DiffResult> {
    return diffReplica(olds, news);
  }

  async create(inputs: Props): Promise<dynamic.CreateResult> {
    const declared = inputs as ReplicaInputs;
    if (declared.importKeyId !== undefined) return adopt(this.session, declared.importKeyId, inputs, IMPORTED);
    const primaryArn = parseKeyArn(declared.primaryKeyArn) as KeyArn;
    const region = declared.region as string;
    const primary = { ...addressOf(primaryArn.arn, { ...declared, region: undefined }), arn: primaryArn };
    const desired = desiredKey(declared as KeyInputs);
    const replicated = await replicateKey(this.session, { primary, region, desired });
    // The Region has a replica of the key already: one pending deletion is taken back, a live one refused.
    if ("existing" in replicated) return adopt(this.session, replicated.existing, inputs, TAKEN_BACK);

    const address = addressOf(replicated.made.Arn as string, declared);
    let observed = observedFrom(replicated.made, { policy: desired.policy, tags: desired.tags });
    try {
      observed = observedFrom(await settledReplica(this.session, address, replicated.made), {
        policy: desired.policy,
        tags: desired.tags,
      });
    } catch (err) {
      // The replica exists: hand it to the engine with the error so it stays tracked.
      throw await partialFailure(this.session, err, inputs, observed, undefined, replicaOutputsOf);
    }
    // ReplicateKey carried description, policy and tags; a replica declared disabled is disabled last, as an update would.
    const scope: UpdateScope = { changed: new Set<KeyPart>(["enabled"]), keyStateManaged: true };
    const after = await reconcileTracked(this.session, inputs, observed, address, scope, "create", replicaOutputsOf);
    return { id: after.keyId, outs: replicaOutputsOf(inputs, after) };
  }

  async read(id: string, props: Props): Promise<dynamic.ReadResult> {
    // No keyId in state: a person named the replica (KmsReplicaKey.get), by its ARN.
    const importing = props.keyId === undefined;
    if (importing && !parseKeyArn(id)?.region) {
      throw new Error(
        `cannot read the replica key ${show(id)}: give its key ARN (a replica shares its key ID with its primary key and its other replicas)`,
      );
    }
    const address = addressOf(id, props as KeyInputs);
    const observed = importing
      ? await lookUpKey(this.session, address, "read")
      : await observeKey(this.session, address, "read");
    // Only NotFoundException for the replica's own ARN means gone; one pending deletion can be brought back.
    if (!observed) return {};
    if (importing && observed.multiRegionKeyType !== "REPLICA") {
      throw new Error(
        `KMS key ${observed.arn} is not a multi-Region replica key (it is ${observed.multiRegion ? "a multi-Region primary key" : "a single-Region key"}): read it with KmsKey.get instead`,
      );
    }
    this.session.rememberRead(observed);
    const outputs = replicaOutputsOf(props, observed, importing);
    return { id: observed.keyId, props: outputs, inputs: replicaInputsOf(outputs) };
  }

  async update(id: string, olds: Props, declared: Props): Promise<dynamic.UpdateResult> {
    // The owner tag of an adoption stays in the state through every update (see adopt).
    const news = olds.ownerTag === undefined ? declared : { ...declared, ownerTag: olds.ownerTag };
    const address = addressOf(id, { ...(news as KeyInputs), arn: olds.arn });
    // Only what changed since the replica was last read (olds) is changed.
    const observed = await currentKey(this.session, address, olds, "update");
    if (!observed) throw goneOnUpdate(address, "replicates the primary key again");
    const scope = changesOf(olds, news, REPLICA_SCHEMA);
    const after = await reconcileTracked(this.session, news, observed, address, scope, "update", replicaOutputsOf);
    return { outs: replicaOutputsOf(news, after) };
  }

  async delete(id: string, props: Props): Promise<void> {
    // As any key: ScheduleKeyDeletion with deletionWindowInDays, unless pending deletion, gone, or adopted since.
    return this.keys.delete(id, props);
  }
}

/** A replica's primary key and Region as its ARN and MultiRegionConfiguration say, against the declaration. */
function familyMismatches(observed: ObservedKey, inputs: Props): string[] {
  const declared = inputs as ReplicaInputs;
  if (observed.multiRegionKeyType !== "REPLICA") {
    return [
      `it is ${observed.multiRegion ? "a multi-Region primary key" : "a single-Region key"}, not a replica (a KmsKey manages it)`,
    ];
  }
  const mismatches: string[] = [];
  if (observed.primaryKeyArn !== declared.primaryKeyArn) {
    mismatches.push(
      `its primary key is ${show(observed.primaryKeyArn)} but the program declares primaryKeyArn ${show(declared.primaryKeyArn)}`,
    );
  }
  const region = parseKeyArn(observed.arn)?.region;
  if (region !== declared.region) {
    mismatches.push(`it is in ${show(region)} but the program declares region ${show(declared.region)}`);
  }
  return mismatches;
}

/** The import option: an existing replica of the declared primary key, in the declared Region. */
const IMPORTED: Adoption = {
  refusal(observed, inputs) {
    const mismatches = familyMismatches(observed, inputs);
    return mismatches.length === 0
      ? undefined
      : `cannot import KMS key ${observed.arn} as this KmsReplicaKey: ${mismatches.join("; ")}. Declare primaryKeyArn and region as the replica has them, or remove the import option.`;
  },
  scope: REPLICA_SCOPE,
  outputs: replicaOutputsOf,
};

/**
 * ReplicateKey found a replica of the key in the Region already. One pending deletion is taken back, as the owner
 * tag of an adoption marks it this resource's: the same key material, where a new replica could not be made until it
 * is deleted for good. A live one is someone else's until the program says otherwise, with the import option.
 */
const TAKEN_BACK: Adoption = {
  refusal(observed, inputs) {
    const mismatches = familyMismatches(observed, inputs);
    if (mismatches.length > 0)
      return `cannot replicate into ${show(parseKeyArn(observed.arn)?.region)}: KMS key ${observed.arn} is there, and ${mismatches.join("; ")}.`;
    if (isPendingDeletion(observed.keyState)) return undefined;
    const declared = inputs as ReplicaInputs;
    return (
      `KMS already has a replica of ${declared.primaryKeyArn} in ${declared.region}: ${observed.arn} (${observed.keyState}), ` +
      `which this resource did not make; KMS allows one replica of a key per Region (ReplicateKey answered AlreadyExistsException). ` +
      `To manage that replica with this resource, add the import resource option: { import: ${JSON.stringify(observed.arn)} }; ` +
      `or declare another region.`
    );
  },
  scope: REPLICA_SCOPE,
  outputs: replicaOutputsOf,
};

/** diff makes no network call: it compares the last known state with the declared inputs. */
export function diffReplica(olds: Props, news: Props): dynamic.DiffResult {
  // In a preview, primaryKeyArn is unknown whenever its KmsKey has an update planned (a dynamic provider's preview
  // hands back that key's inputs, not its outputs); the up's own diff compares the ARN once known, and replaces then.
  const unknown = REPLACE_ON_CHANGE.filter((name) => news[name] === UNKNOWN);
  const replaces = REPLACE_ON_CHANGE.filter((name) => news[name] !== UNKNOWN && schema.differs(olds[name], news[name]));
  const importing = news.importKeyId;
  const sameReplica =
    typeof importing === "string" &&
    (importing === olds.arn || (!parseKeyArn(importing) && bareKeyId(importing) === olds.keyId));
  if (replaces.length > 0 && sameReplica) {
    // A replacement would adopt the very replica it replaces: say what to do before anything changes.
    throw new Error(
      `${replaces.join(", ")} changed, which needs a new replica, but the import option still names KMS key ${String(olds.arn)}, ` +
        `which this resource already manages. Remove the import option (only the first pulumi up needs it) and run ` +
        `pulumi up again; or declare ${replaces.join(", ")} as the replica has them to keep it.`,
    );
  }
  const { changed } = changesOf(olds, news, REPLICA_SCHEMA);
  const stateOnly = STATE_ONLY_INPUTS.filter((name) => schema.differs(olds[name], news[name]));
  return {
    changes: replaces.length > 0 || unknown.length > 0 || changed.size > 0 || stateOnly.length > 0,
    replaces,
    deleteBeforeReplace: false,
  };
}

/** The outputs of a replica: the inputs as KMS has them now, plus what KMS reports. */
export function replicaOutputsOf(declared: object, observed: ObservedKey, importing = false): ReplicaOutputs {
  const inputs = declared as ReplicaInputs & { ownerTag?: unknown };
  const filled = schema.withDefaults(REPLICA_SCHEMA, inputs as Props) as ReplicaInputs;
  const outputs: Props = {
    // As declared: a primary key moved since (UpdatePrimaryRegion) is no reason to replace the replica.
    primaryKeyArn: inputs.primaryKeyArn ?? observed.primaryKeyArn,
    // The replica's Region is its ARN's.
    region: parseKeyArn(observed.arn)?.region || inputs.region,
    description: observed.description,
    tags: observed.tags ?? inputs.tags ?? {},
    enabled: observed.keyState === "Enabled",
    deletionWindowInDays: filled.deletionWindowInDays,
    keyId: observed.keyId,
    arn: observed.arn,
    keyState: observed.keyState,
    deletionDate: observed.deletionDate,
    creationDate: observed.creationDate,
    origin: observed.origin,
    keyManager: observed.keyManager,
  };
  // An undeclared policy is not managed; show it only when declared, or when reading a replica a person named.
  if (inputs.policy !== undefined || importing) outputs.policy = observed.policy ?? inputs.policy;
  for (const name of STATE_ONLY_INPUTS) {
    const value = (inputs as Props)[name];
    if (value !== undefined) outputs[name] = value;
  }
  if (observed.unreadable.length > 0) outputs.unreadable = observed.unreadable;
  if (typeof inputs.ownerTag === "string") outputs.ownerTag = inputs.ownerTag;
  return withoutAbsent(outputs) as unknown as ReplicaOutputs;
}

/** The inputs a refresh records: the outputs less what only KMS reports, keeping keyState and deletionDate visible. */
export function replicaInputsOf(outputs: ReplicaOutputs): Props {
  return schema.refreshedInputs(REPLICA_SCHEMA, outputs);
}
