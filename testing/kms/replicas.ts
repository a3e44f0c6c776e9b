// Multi-Region key families as KMS has them, where moto 5.2.1 does not (its ReplicateKey copies the primary key):
//   - ReplicateKey answers AlreadyExistsException while the Region has a replica of the key, pending deletion or not
//     (API reference, ReplicateKey: "If the Region already includes a replica of the key you're trying to replicate,
//     ReplicateKey returns an AlreadyExistsException error. If the key state of the existing replica is
//     PendingDeletion, you can cancel the scheduled key deletion");
//   - ReplicateKey replicates only a multi-Region primary key (UnsupportedOperationException otherwise), which must be
//     Enabled (key state table, row ReplicateKey: key-states.ts);
//   - the replica has the description, policy and tags the request gives, else "", the default key policy and none
//     (Developer guide, "Creating multi-Region replica keys", Using the AWS KMS API); moto gives it the primary's;
//   - a new replica is in the transient Creating state for a while (Key states: "A multi-Region replica key is in the
//     transient Creating key state while it is being created"), when the proxy is told how long (setReplicaCreatingMs);
//   - a primary key scheduled for deletion while it has replicas is PendingReplicaDeletion, without a deletion date,
//     until they are deleted (Key states: "When you schedule deletion of a multi-Region primary key that has replica
//     keys, the primary key is in the PendingReplicaDeletion state until all of its replica keys are deleted");
//   - DescribeKey's MultiRegionKeyType is PRIMARY for the primary key (moto's primary and replicas share one
//     MultiRegionConfiguration, so describing a replica makes moto report its primary as a REPLICA too).
import * as http from "node:http";
import { KeyStates } from "./key-states";
import { editBody, jsonError, Outcome, parseBody } from "./protocol";

/** The proxy's own request to moto, in the request's Region or another one (not counted). */
export type MotoCall = (
  headers: http.IncomingHttpHeaders,
  operation: string,
  body: Record<string, unknown>,
  region?: string,
) => Promise<Outcome>;

interface MultiRegionConfiguration {
  MultiRegionKeyType?: string;
  PrimaryKey?: { Arn?: string; Region?: string };
  ReplicaKeys?: { Arn?: string; Region?: string }[];
}

type Metadata = Record<string, unknown> & { MultiRegionConfiguration?: MultiRegionConfiguration };

export class ReplicaFamilies {
  /** How long a new replica stays Creating (0: it is Enabled at once, as moto makes it). */
  creatingMs = 0;

  constructor(
    private readonly states: KeyStates,
    private readonly moto: MotoCall,
  ) {}

  /** KMS's refusal of a ReplicateKey that moto would carry out; undefined when KMS makes the replica. */
  refusal(primary: Metadata | undefined, body: Record<string, unknown>): Outcome | undefined {
    if (!primary) return undefined;
    const name = typeof primary.Arn === "string" ? primary.Arn : String(primary.KeyId);
    const config = primary.MultiRegionConfiguration;
    // API reference, ReplicateKey: "creates a multi-Region replica key based on a multi-Region primary key".
    if (primary.MultiRegion !== true || !config) {
      return jsonError(400, "UnsupportedOperationException", `${name} is not a multi-Region key.`);
    }
    if (config.PrimaryKey?.Arn !== primary.Arn) {
      return jsonError(
        400,
        "UnsupportedOperationException",
        `${name} is a multi-Region replica key; ReplicateKey replicates its primary key ${config.PrimaryKey?.Arn}.`,
      );
    }
    // API reference, ReplicateKey: "You cannot create more than one replica of a primary key in any Region".
    const existing = this.liveReplicas(config).find((replica) => replica.Region === body.ReplicaRegion);
    if (existing) {
      return jsonError(400, "AlreadyExistsException", `Replica key ${existing.Arn} already exists.`);
    }
    return undefined;
  }

  /** After moto made the replica: the replica as the request declared it, and KMS's answer. */
  async replicated(headers: http.IncomingHttpHeaders, body: Record<string, unknown>, outcome: Outcome) {
    const answer = parseBody<{ ReplicaKeyMetadata?: Metadata; ReplicaPolicy?: string }>(outcome);
    const replica = answer?.ReplicaKeyMetadata;
    const region = typeof body.ReplicaRegion === "string" ? body.ReplicaRegion : undefined;
    if (!replica || typeof replica.KeyId !== "string" || region === undefined) return outcome;
    // Developer guide, "Creating multi-Region replica keys": without Tags, Description or KeyPolicy, "AWS KMS creates
    // the replica key with no tags, an empty string description, and the default key policy".
    const description = typeof body.Description === "string" ? body.Description : "";
    const policy = typeof body.Policy === "string" ? body.Policy : answer.ReplicaPolicy;
    const tags = Array.isArray(body.Tags) ? body.Tags : [];
    const keyId = replica.KeyId;
    const fixes: [string, Record<string, unknown>][] = [
      ["UpdateKeyDescription", { KeyId: keyId, Description: description }],
    ];
    if (policy !== undefined) fixes.push(["PutKeyPolicy", { KeyId: keyId, PolicyName: "default", Policy: policy }]);
    if (tags.length > 0) fixes.push(["TagResource", { KeyId: keyId, Tags: tags }]);
    for (const [operation, request] of fixes) {
      const fixed = await this.moto(headers, operation, request, region);
      if (fixed.status !== 200) return fixed;
    }
    if (typeof replica.Arn === "string") this.states.madeAgain(replica.Arn);
    // Key states: a new replica "is in the transient Creating key state while it is being created".
    if (this.creatingMs > 0 && typeof replica.Arn === "string") {
      this.states.override(replica.Arn, "Creating", this.creatingMs);
    }
    return editBody<{ ReplicaKeyMetadata: Metadata; ReplicaPolicy?: string; ReplicaTags?: unknown }>(outcome, (out) => {
      out.ReplicaKeyMetadata.Description = description;
      if (this.creatingMs > 0) {
        out.ReplicaKeyMetadata.KeyState = "Creating";
        out.ReplicaKeyMetadata.Enabled = false;
      }
      ownType(out.ReplicaKeyMetadata);
      if (policy !== undefined) out.ReplicaPolicy = policy;
      out.ReplicaTags = tags;
    });
  }

  /**
   * After moto scheduled a key's deletion (`meta`: the key before): a primary key with replicas waits for them,
   * PendingReplicaDeletion without a deletion date; ScheduleKeyDeletion answers with the state it left.
   */
  scheduled(meta: Metadata | undefined, body: Record<string, unknown>, outcome: Outcome): Outcome {
    // Key states: "the primary key is in the PendingReplicaDeletion state until all of its replica keys are deleted".
    const config = meta?.MultiRegionConfiguration;
    const waits =
      config !== undefined &&
      config.PrimaryKey?.Arn === meta?.Arn &&
      typeof meta?.Arn === "string" &&
      this.liveReplicas(config).length > 0;
    if (waits) this.states.override(meta!.Arn as string, "PendingReplicaDeletion");
    return editBody<Record<string, unknown>>(outcome, (out) => {
      out.KeyState = waits ? "PendingReplicaDeletion" : "PendingDeletion";
      out.PendingWindowInDays = typeof body.PendingWindowInDays === "number" ? body.PendingWindowInDays : 30;
      if (waits) delete out.DeletionDate;
    });
  }

  /** DescribeKey's answer with the key's MultiRegionConfiguration as KMS has it. */
  describeKeyAnswer(outcome: Outcome): Outcome {
    return editBody<{ KeyMetadata?: Metadata }>(outcome, ({ KeyMetadata: meta }) => {
      if (!meta?.MultiRegionConfiguration) return false;
      ownType(meta);
      const config = meta.MultiRegionConfiguration;
      if (this.states.anyDeleted) config.ReplicaKeys = this.liveReplicas(config);
    });
  }

  /** The replica keys KMS still has (moto keeps those whose waiting period ended: see KeyStates.deleteAfter). */
  private liveReplicas(config: MultiRegionConfiguration): { Arn?: string; Region?: string }[] {
    return (config.ReplicaKeys ?? []).filter(
      (replica) => typeof replica.Arn !== "string" || !this.states.isDeleted(replica.Arn),
    );
  }
}

/** MultiRegionKeyType as the key's own ARN says: PRIMARY for the primary key's, REPLICA for the others. */
function ownType(meta: Metadata): void {
  const config = meta.MultiRegionConfiguration;
  if (config?.PrimaryKey?.Arn === undefined) return;
  config.MultiRegionKeyType = config.PrimaryKey.Arn === meta.Arn ? "PRIMARY" : "REPLICA";
}
