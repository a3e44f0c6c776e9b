// The benchmark's program: `keys` KmsKeys, or as many no-op dynamic resources (resource: noop) to tell the engine's
// own cost from the provider's.
import * as pulumi from "@pulumi/pulumi";
import { KmsKey } from "pulumi-kms-key";

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

for (let i = 0; i < count; i++) {
  if (resource === "noop") new Noop(`noop${i}`, i);
  else new KmsKey(`key${i}`, { description: `bench key ${i}`, deletionWindowInDays: 7 });
}
