// The provider against a plain @aws-sdk/client-kms script making only the floor's calls, to the same server in the
// same run, one key at a time and taking turns, so that both see the same machine load.
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListResourceTagsCommand,
} from "@aws-sdk/client-kms";
import { KmsKeyProvider } from "../sdk";
import { BENCH_KEY } from "./calls";
import { LocalKms, round } from "./support";
import { FAKE_CREDENTIALS } from "../testing/credentials";
import { scheduleDeletion } from "../testing/kms/out-of-band";

type Props = Record<string, unknown>;

export interface RawSdkResult {
  keys: number;
  /** Seconds, summed over the keys, of create + read + update from PendingDeletion. */
  providerSeconds: number;
  /** Seconds, summed over the keys, of CreateKey; the 4 reads; CancelKeyDeletion + EnableKey. */
  rawSdkSeconds: number;
  ratio: number;
  /** Per step, summed seconds: provider / raw. */
  steps: Record<"create" | "read" | "recover", { provider: number; rawSdk: number }>;
}

type Steps = RawSdkResult["steps"];

export async function compareWithRawSdk(kms: LocalKms, keys: number): Promise<RawSdkResult> {
  const provider = new KmsKeyProvider();
  const inputs = (await provider.check({}, BENCH_KEY)).inputs as Props;
  const raw = new KMSClient({ endpoint: kms.endpoint, region: "us-east-1", credentials: FAKE_CREDENTIALS });
  const steps: Steps = {
    create: { provider: 0, rawSdk: 0 },
    read: { provider: 0, rawSdk: 0 },
    recover: { provider: 0, rawSdk: 0 },
  };
  const timed = async <T>(step: keyof Steps, who: "provider" | "rawSdk", work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await work();
    steps[step][who] += (performance.now() - started) / 1000;
    return result;
  };

  // Both as `pulumi up --refresh` recovers a key: scheduled for deletion, then read, then brought back.
  const viaProvider = async () => {
    const created = await timed("create", "provider", () => provider.create(inputs));
    await scheduleDeletion(kms.direct, created.id);
    const read = await timed("read", "provider", () => provider.read(created.id, created.outs as Props));
    const recovered = await timed("recover", "provider", () =>
      provider.update(created.id, read.props as Props, inputs),
    );
    const state = (recovered.outs as Props | undefined)?.keyState;
    if (state !== "Enabled") throw new Error(`the provider left key ${created.id} ${String(state)}, not Enabled`);
  };
  const viaRawSdk = async () => {
    const created = await timed("create", "rawSdk", () =>
      raw.send(new CreateKeyCommand({ Description: BENCH_KEY.description })),
    );
    const KeyId = created.KeyMetadata!.KeyId!;
    await scheduleDeletion(kms.direct, KeyId);
    await timed("read", "rawSdk", () =>
      Promise.all([
        raw.send(new DescribeKeyCommand({ KeyId })),
        raw.send(new GetKeyPolicyCommand({ KeyId, PolicyName: "default" })),
        raw.send(new GetKeyRotationStatusCommand({ KeyId })),
        raw.send(new ListResourceTagsCommand({ KeyId })),
      ]),
    );
    await timed("recover", "rawSdk", async () => {
      await raw.send(new CancelKeyDeletionCommand({ KeyId }));
      await raw.send(new EnableKeyCommand({ KeyId }));
    });
  };

  try {
    // One of each first, untimed: both clients connect and load their code before the measured turns.
    await viaProvider();
    await viaRawSdk();
    for (const step of Object.values(steps)) step.provider = step.rawSdk = 0;
    for (let i = 0; i < keys; i++) {
      if (i % 2 === 0) {
        await viaProvider();
        await viaRawSdk();
      } else {
        await viaRawSdk();
        await viaProvider();
      }
    }
  } finally {
    raw.destroy();
  }
  const sum = (who: "provider" | "rawSdk") => Object.values(steps).reduce((total, step) => total + step[who], 0);
  for (const step of Object.values(steps)) {
    step.provider = round(step.provider, 3);
    step.rawSdk = round(step.rawSdk, 3);
  }
  const providerSeconds = round(sum("provider"), 3);
  const rawSdkSeconds = round(sum("rawSdk"), 3);
  return { keys, providerSeconds, rawSdkSeconds, ratio: round(providerSeconds / rawSdkSeconds), steps };
}
