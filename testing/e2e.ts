// What the e2e tests share: one local KMS (moto behind the key-state proxy) and one Pulumi harness for the whole
// run, started by the first suite that asks and stopped after the last test; plus raw KMS calls made "out of band".
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  KeyMetadata,
  KMSClient,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import { PulumiFn } from "@pulumi/pulumi/automation";
import { KmsKey, KmsKeyArgs } from "pulumi-kms-key";
import { startKmsServerWithProxy } from "./kms/server";
import { KmsProxy } from "./kms/proxy";
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
      const outOfBand = rawClient(kms.server.endpoint);
      return {
        e2e: { harness, proxy: kms.proxy, endpoint: kms.endpoint, outOfBand },
        async stop() {
          try {
            await harness.cleanup({ destroy: false }); // the keys go with moto
          } finally {
            outOfBand.destroy();
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

/** A KMS client with fixed fake credentials, independent of the environment. */
export function rawClient(endpoint: string): KMSClient {
  return new KMSClient({
    region: "us-east-1",
    endpoint,
    credentials: { accessKeyId: "out-of-band", secretAccessKey: "out-of-band" },
    maxAttempts: 1,
  });
}

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

export async function describeKey(client: KMSClient, keyId: string): Promise<KeyMetadata> {
  const out = await client.send(new DescribeKeyCommand({ KeyId: keyId }));
  if (!out.KeyMetadata) throw new Error(`DescribeKey ${keyId} answered without metadata`);
  return out.KeyMetadata;
}

export async function tagsOf(client: KMSClient, keyId: string): Promise<Record<string, string>> {
  // Every tag on the key: the provider adds none of its own.
  const out = await client.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 100 }));
  return Object.fromEntries((out.Tags ?? []).map((t) => [t.TagKey ?? "", t.TagValue ?? ""]));
}

export async function scheduleDeletion(client: KMSClient, keyId: string, days = 7): Promise<Date> {
  const out = await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: days }));
  if (!out.DeletionDate) throw new Error("ScheduleKeyDeletion answered without a deletion date");
  return out.DeletionDate;
}

/** A key made outside Pulumi, as another team or a console user would. */
export async function createForeignKey(
  client: KMSClient,
  description: string,
  tags: Record<string, string> = {},
): Promise<KeyMetadata> {
  const out = await client.send(
    new CreateKeyCommand({
      Description: description,
      Tags: Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
    }),
  );
  if (!out.KeyMetadata?.KeyId) throw new Error("CreateKey answered without a key");
  return out.KeyMetadata;
}

/** The KMS operations the provider made since the last resetCounts(), in order, without the reads. */
export function writes(proxy: KmsProxy): string[] {
  const reads = new Set([
    "DescribeKey",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "ListResourceTags",
    "ListKeys",
    "GetCallerIdentity",
  ]);
  return proxy.callLog.map((entry) => entry.operation).filter((operation) => !reads.has(operation));
}

export const DAY_MS = 24 * 60 * 60 * 1000;
