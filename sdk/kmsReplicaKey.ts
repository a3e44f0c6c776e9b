// The KmsReplicaKey resource a Pulumi program declares, and the provider the engine runs for it.
import * as pulumi from "@pulumi/pulumi";
import { parseKeyArn } from "../provider/keyAddress";
import { REPLICA_SCHEMA, ReplicaSchema } from "../provider/replica/schema";
import { ArgsOf, OutputsOf } from "../provider/schema";
import { ProviderLoader, registration, stateProvider } from "./providerModule";

/** Inputs of a KmsReplicaKey, from its schema (provider/replica/schema.ts): primaryKeyArn and region are required. */
export type KmsReplicaKeyArgs = ArgsOf<ReplicaSchema>;

/** The provider the engine runs for KmsReplicaKey: it loads the real one by package name in the engine's process. */
export class KmsReplicaKeyProvider extends ProviderLoader {
  constructor() {
    super(() => require("pulumi-kms-key/provider/replica"), "KmsReplicaKey");
  }
}

const provider = stateProvider("pulumi-kms-key/provider/replica", new KmsReplicaKeyProvider());

/** Every input and output of a replica key, typed from its schema. */
// The outputs are set by pulumi.dynamic.Resource from the provider's answer: merging declares their types, nothing else.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface KmsReplicaKey extends OutputsOf<ReplicaSchema> {}

/**
 * A multi-Region replica of a KmsKey (multiRegion: true) in another Region, that stays undeleted: when it is found
 * scheduled for deletion, `pulumi up` cancels the deletion (and enables it again when declared enabled) instead of
 * replicating anew. Its rotation is its primary key's.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class KmsReplicaKey extends pulumi.dynamic.Resource {
  /**
   * An existing replica key, read and never changed, by its key ARN (a replica shares its key ID with its primary).
   * Fails when KMS has no such key there, or when it is not a replica. `pulumi destroy` leaves it as it is.
   */
  static get(name: string, id: pulumi.Input<string>, opts?: pulumi.CustomResourceOptions): KmsReplicaKey {
    if (typeof id === "string" && !parseKeyArn(id)?.region) {
      throw new Error(
        `KmsReplicaKey.get(${JSON.stringify(name)}): give the replica's key ARN, such as arn:aws:kms:eu-west-1:111122223333:key/mrk-...; got ${JSON.stringify(id)} (a replica shares its key ID with its primary key)`,
      );
    }
    return new KmsReplicaKey(name, {} as KmsReplicaKeyArgs, { ...opts, id });
  }

  constructor(name: string, args: KmsReplicaKeyArgs, opts?: pulumi.CustomResourceOptions) {
    const { props, options } = registration(REPLICA_SCHEMA, args, opts);
    super(provider, name, props, options, "kms", "KmsReplicaKey");
  }
}
