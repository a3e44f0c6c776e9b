// The benchmark's program: `keys` KmsKeys; or as many key families (resource: family), each a multi-Region primary,
// its replica in `replicaRegion` and an alias on the primary; or as many no-op dynamic resources (resource: noop) to
// tell the engine's own cost from the provider's.
import * as pulumi from "@pulumi/pulumi";
import { KmsAlias, KmsKey, KmsReplicaKey } from "pulumi-kms-key";

const config = new pulumi.Config();
const count = config.requireNumber("keys");
const resource = config.get("resource") ?? "kms";

/** A dynamic resource that calls nothing: what the engine and a dynamic provider host cost by themselves. */
const noop: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    return { id: `noop-${inputs.index}`, outs: inputs };
  },
};

class Noop extends pulumi.dynamic.Resource {
  constructor(name: string, index: number) {
    super(noop, name, { index }, {});
  }
}

const replicaRegion = config.get("replicaRegion") ?? "eu-west-1";

for (let i = 0; i < count; i++) {
  if (resource === "noop") new Noop(`noop${i}`, i);
  else if (resource === "family") {
    const primary = new KmsKey(`primary${i}`, {
      description: `bench primary ${i}`,
      multiRegion: true,
      deletionWindowInDays: 7,
    });
    new KmsReplicaKey(`replica${i}`, { primaryKeyArn: primary.arn, region: replicaRegion, deletionWindowInDays: 7 });
    new KmsAlias(`alias${i}`, { name: `alias/bench-${pulumi.getStack()}-${i}`, targetKeyId: primary.arn });
  } else new KmsKey(`key${i}`, { description: `bench key ${i}`, deletionWindowInDays: 7 });
}
