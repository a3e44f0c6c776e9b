// What the e2e suites share: one local KMS (moto behind the key-state proxy) and one Pulumi harness for the whole
// run, started by the first suite that asks and stopped after the last test; and an inline program with one key.
import { KMSClient } from "@aws-sdk/client-kms";
import { PulumiFn } from "@pulumi/pulumi/automation";
import { KmsKey, KmsKeyArgs } from "pulumi-kms-key";
import { outOfBand } from "./kms/out-of-band";
import { KmsProxy } from "./kms/proxy";
import { startKmsServerWithProxy } from "./kms/server";
import { PulumiHarness } from "./pulumi/automation";

// This process's own SDK clients (the out-of-band calls) must not print the Node.js 20 notice either.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/** Time for a suite's before(): the first one may build the Pulumi CLI from source (several minutes). */
export const SETUP_TIMEOUT = 20 * 60_000;
/** Time for one test: a few engine runs of a few seconds each. */
export const TEST_TIMEOUT = 3 * 60_000;

export interface E2e {
  harness: PulumiHarness;
  proxy: KmsProxy;
  /** The proxy's endpoint: what the provider talks to. */
  endpoint: string;
  /** Straight to moto: the "someone else" who changes keys behind Pulumi's back (not counted by the proxy). */
  outOfBand: KMSClient;
}

let shared: Promise<{ e2e: E2e; stop(): Promise<void> }> | undefined;

/** The suite's KMS and harness, started on first use. */
export async function e2e(): Promise<E2e> {
  shared ??= (async () => {
    const kms = await startKmsServerWithProxy();
    try {
      const harness = await PulumiHarness.create({ kmsEndpoint: kms.endpoint });
      const straightToMoto = outOfBand(kms.server.endpoint);
      return {
        e2e: { harness, proxy: kms.proxy, endpoint: kms.endpoint, outOfBand: straightToMoto },
        async stop() {
          try {
            await harness.cleanup({ destroy: false }); // the keys go with moto
          } finally {
            straightToMoto.destroy();
            await kms.stop();
          }
        },
      };
    } catch (err) {
      await kms.stop();
      throw err;
    }
  })();
  return (await shared).e2e;
}

// A root-level hook (this module is loaded while the spec files are): runs once, after every e2e test.
after(async function () {
  this.timeout(5 * 60_000);
  if (!shared) return;
  const started = shared;
  shared = undefined;
  await (await started.catch(() => undefined))?.stop();
});

/** An inline program with one KmsKey named "key"; its outputs are the key's. */
export function oneKey(args: KmsKeyArgs, opts?: ConstructorParameters<typeof KmsKey>[2]): PulumiFn {
  return async () => {
    const key = new KmsKey("key", args, opts);
    return {
      keyId: key.keyId,
      arn: key.arn,
      keyState: key.keyState,
      deletionDate: key.deletionDate,
      description: key.description,
      tags: key.tags,
      enabled: key.enabled,
    };
  };
}

export const DAY_MS = 24 * 60 * 60 * 1000;
