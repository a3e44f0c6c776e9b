// The KmsKey resource a Pulumi program declares, and the provider the engine runs for it.
import * as pulumi from "@pulumi/pulumi";
import { parseKeyReference } from "../provider/validation";

/** Inputs of a KmsKey. Every one is optional; see the README for defaults and allowed values. */
export interface KmsKeyArgs {
  /** What the key is for; up to 8192 characters. Default "". */
  description?: pulumi.Input<string>;
  /** ENCRYPT_DECRYPT (default), SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT or ENCAPSULATE_DECAPSULATE. Changing it replaces the key. */
  keyUsage?: pulumi.Input<string>;
  /** SYMMETRIC_DEFAULT (default), RSA_2048, ECC_NIST_P256, HMAC_256, ... Changing it replaces the key. */
  keySpec?: pulumi.Input<string>;
  /** The key policy as a JSON string (up to 32 KB), compared as IAM compares policies. Left out, the key keeps whatever policy it has. */
  policy?: pulumi.Input<string>;
  /** Up to 50 tags; keys may not start with "aws:". Tags not declared are removed, except AWS's own ("aws:..."). */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Whether the key can be used. Default true. */
  enabled?: pulumi.Input<boolean>;
  /** Yearly (or rotationPeriodInDays) automatic rotation; symmetric keys only. Default false. */
  enableKeyRotation?: pulumi.Input<boolean>;
  /** 90 to 2560 days; only with enableKeyRotation. Default 365. */
  rotationPeriodInDays?: pulumi.Input<number>;
  /** A multi-Region primary key. Default false. Changing it replaces the key. */
  multiRegion?: pulumi.Input<boolean>;
  /** Waiting period, 7 to 30 days, when the key is destroyed. Default 30. */
  deletionWindowInDays?: pulumi.Input<number>;
  /** Lets a policy lock out the caller; leave false unless you mean it. */
  bypassPolicyLockoutSafetyCheck?: pulumi.Input<boolean>;
  /** The AWS region; default from AWS_REGION or the AWS profile. */
  region?: pulumi.Input<string>;
  /** A KMS-compatible endpoint URL; default from AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, or AWS. */
  endpoint?: pulumi.Input<string>;
  /** Accept a plain-http endpoint that is not on loopback. Default false. */
  allowInsecureEndpoint?: pulumi.Input<boolean>;
  /** Adopt this existing key (ID or ARN) instead of creating one; the `import` resource option sets it. */
  importKeyId?: pulumi.Input<string>;
}

/**
 * The provider the engine runs for KmsKey. Pulumi serializes it into every key's state, so it holds nothing:
 * each call loads the real provider by package name in the engine's provider process.
 */
export class KmsKeyProvider implements pulumi.dynamic.ResourceProvider {
  // The module's own methods: they already show each expected error once, as one line (provider/shownOnce.ts).
  check(olds: pulumi.Inputs, news: pulumi.Inputs): Promise<pulumi.dynamic.CheckResult> {
    return providerPackage().check(olds, news);
  }
  diff(id: string, olds: pulumi.Inputs, news: pulumi.Inputs): Promise<pulumi.dynamic.DiffResult> {
    return providerPackage().diff(id, olds, news);
  }
  create(inputs: pulumi.Inputs): Promise<pulumi.dynamic.CreateResult> {
    return providerPackage().create(inputs);
  }
  read(id: string, props: pulumi.Inputs): Promise<pulumi.dynamic.ReadResult> {
    return providerPackage().read(id, props);
  }
  update(id: string, olds: pulumi.Inputs, news: pulumi.Inputs): Promise<pulumi.dynamic.UpdateResult> {
    return providerPackage().update(id, olds, news);
  }
  delete(id: string, props: pulumi.Inputs): Promise<void> {
    return providerPackage().delete(id, props);
  }
}

type ProviderPackage = Required<pulumi.dynamic.ResourceProvider>;

function providerPackage(): ProviderPackage {
  // By package name, not by value: the state then holds these few lines, not the provider's code.
  try {
    return require("pulumi-kms-key/provider");
  } catch (err) {
    if ((err as { code?: string }).code !== "MODULE_NOT_FOUND") throw err;
    throw new Error(
      "KmsKey's provider could not load the package pulumi-kms-key: install it in the Pulumi program's own node_modules (npm install pulumi-kms-key)",
    );
  }
}

/**
 * What each key's state holds as its provider. Installed in node_modules, the module pulumi-kms-key/provider itself:
 * Pulumi serializes it as one require() by the path after the first node_modules. Anywhere else (a linked checkout
 * would be serialized with all its code; pnpm's .pnpm folders make that path wrong) the loader above stands in.
 */
function stateProvider(): pulumi.dynamic.ResourceProvider {
  return installedAtTop(require.resolve("pulumi-kms-key/provider"))
    ? (require("pulumi-kms-key/provider") as pulumi.dynamic.ResourceProvider)
    : new KmsKeyProvider();
}

/** True when the package's path continues right after its first node_modules folder (npm's layout). */
export function installedAtTop(modulePath: string): boolean {
  const parts = modulePath.split(/[\\/]/);
  const first = parts.indexOf("node_modules");
  return first >= 0 && parts[first + 1] === "pulumi-kms-key";
}

const provider = stateProvider();

/**
 * A KMS key that stays undeleted: when it is found scheduled for deletion, `pulumi up` cancels the deletion
 * (and enables it again when declared enabled) instead of creating a new key.
 */
export class KmsKey extends pulumi.dynamic.Resource {
  declare readonly description: pulumi.Output<string>;
  declare readonly keyUsage: pulumi.Output<string>;
  declare readonly keySpec: pulumi.Output<string>;
  declare readonly policy: pulumi.Output<string | undefined>;
  declare readonly tags: pulumi.Output<Record<string, string>>;
  declare readonly enabled: pulumi.Output<boolean>;
  declare readonly enableKeyRotation: pulumi.Output<boolean>;
  declare readonly rotationPeriodInDays: pulumi.Output<number | undefined>;
  declare readonly multiRegion: pulumi.Output<boolean>;
  declare readonly deletionWindowInDays: pulumi.Output<number>;
  declare readonly bypassPolicyLockoutSafetyCheck: pulumi.Output<boolean | undefined>;
  declare readonly region: pulumi.Output<string | undefined>;
  declare readonly endpoint: pulumi.Output<string | undefined>;
  declare readonly allowInsecureEndpoint: pulumi.Output<boolean | undefined>;
  /** The key ID; also the resource's id. */
  declare readonly keyId: pulumi.Output<string>;
  declare readonly arn: pulumi.Output<string>;
  /** KMS's KeyState, for example "Enabled", "Disabled" or "PendingDeletion". */
  declare readonly keyState: pulumi.Output<string>;
  /** ISO 8601; present only while the key is pending deletion. */
  declare readonly deletionDate: pulumi.Output<string | undefined>;
  declare readonly creationDate: pulumi.Output<string>;
  declare readonly origin: pulumi.Output<string>;
  declare readonly keyManager: pulumi.Output<string>;
  /** Parts of the key the last read could not see (access denied): "policy", "rotation", "tags". */
  declare readonly unreadable: pulumi.Output<string[] | undefined>;

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
    // Every output is listed, so each one resolves also when the program declares nothing (as KmsKey.get does).
    const outputsOnly = {
      description: undefined,
      keyUsage: undefined,
      keySpec: undefined,
      policy: undefined,
      tags: undefined,
      enabled: undefined,
      enableKeyRotation: undefined,
      rotationPeriodInDays: undefined,
      multiRegion: undefined,
      deletionWindowInDays: undefined,
      keyId: undefined,
      arn: undefined,
      keyState: undefined,
      deletionDate: undefined,
      creationDate: undefined,
      origin: undefined,
      keyManager: undefined,
      unreadable: undefined,
    };
    // Pulumi can't import dynamic resources (pulumi/pulumi#16175): the provider adopts the key in create instead.
    const importKeyId = opts?.import;
    const options = importKeyId === undefined ? opts : { ...opts, import: undefined };
    super(
      provider,
      name,
      { ...outputsOnly, ...args, ...(importKeyId !== undefined ? { importKeyId } : {}) },
      options,
      "kms",
      "KmsKey",
    );
  }
}
