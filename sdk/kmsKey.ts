// The KmsKey resource a Pulumi program declares, and the provider the engine runs for it.
import * as pulumi from "@pulumi/pulumi";
import { KEY_SCHEMA, KeySchema } from "../provider/key/schema";
import { ArgsOf, OutputsOf } from "../provider/schema";
import { parseKeyReference } from "../provider/validation";
import { ProviderLoader, registration, stateProvider } from "./providerModule";

/** Inputs of a KmsKey, from its schema (provider/key/schema.ts). Every one is optional; the README lists each. */
export type KmsKeyArgs = ArgsOf<KeySchema>;

/** The provider the engine runs for KmsKey: it loads the real one by package name in the engine's provider process. */
export class KmsKeyProvider extends ProviderLoader {
  constructor() {
    super(() => require("pulumi-kms-key/provider"), "KmsKey");
  }
}

const provider = stateProvider("pulumi-kms-key/provider", new KmsKeyProvider());

/** Every input and output of a key, typed from its schema. */
// The outputs are set by pulumi.dynamic.Resource from the provider's answer: merging declares their types, nothing else.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface KmsKey extends OutputsOf<KeySchema> {}

/**
 * A KMS key that stays undeleted: when it is found scheduled for deletion, `pulumi up` cancels the deletion
 * (and enables it again when declared enabled) instead of creating a new key.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class KmsKey extends pulumi.dynamic.Resource {
  /**
   * An existing key, read and never changed: by key ID (in the environment's Region and account) or key ARN (in
   * its own Region). Fails when KMS has no such key there. `pulumi destroy` leaves the key as it is.
   */
  static get(name: string, id: pulumi.Input<string>, opts?: pulumi.CustomResourceOptions): KmsKey {
    if (typeof id === "string") {
      const reference = parseKeyReference(id);
      if ("error" in reference) throw new Error(`KmsKey.get(${JSON.stringify(name)}): ${reference.error}`);
    }
    return new KmsKey(name, {}, { ...opts, id });
  }

  constructor(name: string, args: KmsKeyArgs = {}, opts?: pulumi.CustomResourceOptions) {
    const { props, options } = registration(KEY_SCHEMA, args, opts);
    super(provider, name, props, options, "kms", "KmsKey");
  }
}
