// The KmsAlias resource a Pulumi program declares, and the provider the engine runs for it.
import * as pulumi from "@pulumi/pulumi";
import { aliasNameIn } from "../provider/alias/address";
import { ALIAS_SCHEMA, AliasSchema } from "../provider/alias/schema";
import { ArgsOf, OutputsOf, show } from "../provider/schema";
import { ProviderLoader, registration, stateProvider } from "./providerModule";

/** Inputs of a KmsAlias, from its schema (provider/alias/schema.ts): `name` and `targetKeyId` are required. */
export type KmsAliasArgs = ArgsOf<AliasSchema>;

/** The provider the engine runs for KmsAlias: it loads the real one by package name in the engine's provider process. */
export class KmsAliasProvider extends ProviderLoader {
  constructor() {
    super(() => require("pulumi-kms-key/provider/alias"), "KmsAlias");
  }
}

const provider = stateProvider("pulumi-kms-key/provider/alias", new KmsAliasProvider());

/** Every input and output of an alias, typed from its schema. */
// The outputs are set by pulumi.dynamic.Resource from the provider's answer: merging declares their types, nothing else.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface KmsAlias extends OutputsOf<AliasSchema> {}

/**
 * A KMS alias that stays on its key: a refresh shows it repointed or deleted behind the program's back, and
 * `pulumi up` points it back or makes it again. An alias left on a key pending deletion is taken over; one on a live
 * key the program does not name is left alone unless the `import` option names it.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class KmsAlias extends pulumi.dynamic.Resource {
  /**
   * An existing alias, read and never changed: by alias name (in the environment's Region and account) or alias ARN
   * (in its own Region). Fails when KMS has no such alias there. `pulumi destroy` leaves it as it is.
   */
  static get(name: string, id: pulumi.Input<string>, opts?: pulumi.CustomResourceOptions): KmsAlias {
    if (typeof id === "string" && aliasNameIn(id) === undefined) {
      throw new Error(
        `KmsAlias.get(${JSON.stringify(name)}): ${show(id)} is neither an alias name (alias/...) nor an alias ARN`,
      );
    }
    return new KmsAlias(name, {} as KmsAliasArgs, { ...opts, id });
  }

  constructor(name: string, args: KmsAliasArgs, opts?: pulumi.CustomResourceOptions) {
    const { props, options } = registration(ALIAS_SCHEMA, args, opts);
    super(provider, name, props, options, "kms", "KmsAlias");
  }
}
