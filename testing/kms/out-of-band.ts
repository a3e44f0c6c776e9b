// Someone acting behind the program's back, as a console click or a cleanup script would: a KMS client of its own
// (its own access key, so the proxy puts it in moto's default account unless mapped) and the calls tests make with it.
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  KeyMetadata,
  KMSClient,
  ListKeysCommand,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import { mapBounded } from "../../cli/pool";

/** A client with fixed fake credentials, independent of the environment; it does not retry. */
export function outOfBand(endpoint: string, region = "us-east-1", accessKeyId = "out-of-band"): KMSClient {
  return new KMSClient({
    region,
    endpoint,
    credentials: { accessKeyId, secretAccessKey: "out-of-band" },
    maxAttempts: 1,
  });
}

export async function describeKey(client: KMSClient, keyId: string): Promise<KeyMetadata> {
  const out = await client.send(new DescribeKeyCommand({ KeyId: keyId }));
  if (!out.KeyMetadata) throw new Error(`DescribeKey ${keyId} answered without metadata`);
  return out.KeyMetadata;
}

/** Every tag on the key (the provider's own owner tag too). */
export async function tagsOf(client: KMSClient, keyId: string): Promise<Record<string, string>> {
  const out = await client.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 100 }));
  return Object.fromEntries((out.Tags ?? []).map((t) => [t.TagKey ?? "", t.TagValue ?? ""]));
}

export async function scheduleDeletion(client: KMSClient, keyId: string, days = 7): Promise<Date> {
  const out = await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: days }));
  if (!out.DeletionDate) throw new Error("ScheduleKeyDeletion answered without a deletion date");
  return out.DeletionDate;
}

/** Schedules every key for deletion, eight at a time, with a 7-day waiting period. */
export async function scheduleDeletions(client: KMSClient, keyIds: readonly string[]): Promise<void> {
  await mapBounded(keyIds, 8, (keyId) => scheduleDeletion(client, keyId));
}

/** Each key's state ("gone" when KMS has no such key). */
export async function keyStates(client: KMSClient, keyIds: readonly string[]): Promise<string[]> {
  return mapBounded(keyIds, 8, async (keyId) => {
    try {
      return (await describeKey(client, keyId)).KeyState ?? "?";
    } catch {
      return "gone";
    }
  });
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

/** Every key ID KMS holds in these Regions. */
export async function listKeyIds(endpoint: string, regions: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const region of regions) {
    const client = outOfBand(endpoint, region);
    let marker: string | undefined;
    do {
      const page = await client.send(new ListKeysCommand({ Marker: marker, Limit: 1000 }));
      for (const key of page.Keys ?? []) if (key.KeyId) ids.push(key.KeyId);
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    client.destroy();
  }
  return ids;
}
