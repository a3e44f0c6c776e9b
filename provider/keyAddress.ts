// Where a key lives: its ARN names the partition, Region, account and ID, and every call about the key goes there.
import { connectionOf, Connection, KeyInputs } from "./inputs";

/** The parts of a key ARN: arn:PARTITION:SERVICE:REGION:ACCOUNT:key/KEY-ID. */
export interface KeyArn {
  arn: string;
  partition: string;
  service: string;
  /** Empty when the ARN has none. */
  region: string;
  account: string;
  keyId: string;
}

// Any partition and service name: KMS-compatible services use their own (the seed's example is `verenc`).
// The Region field may be empty or left out (arn:aws:verenc:111122223333:key/...), and so may the partition.
const KEY_ARN = /^arn:([a-z0-9-]*):([a-z0-9-]+):(?:([a-z0-9-]*):)?([0-9]{12}):key\/([^/:\s]+)$/i;

/** The parts of a key ARN, or undefined when the value is not one. */
export function parseKeyArn(value: unknown): KeyArn | undefined {
  if (typeof value !== "string") return undefined;
  const match = KEY_ARN.exec(value);
  if (!match) return undefined;
  const [arn, partition, service, region, account, keyId] = match;
  return { arn, partition, service, region: region ?? "", account, keyId };
}

/** The key ID in a key ID or key ARN. */
export function bareKeyId(reference: string): string {
  return parseKeyArn(reference)?.keyId ?? reference;
}

/** How to reach a key the stack tracks. */
export interface KeyAddress {
  /** What the calls name the key by: its ARN when the state has one, else its ID (states from before ARNs). */
  reference: string;
  keyId: string;
  /** The key's ARN, when known and with a Region; its Region wins over the `region` input and the environment. */
  arn?: KeyArn;
  /** The connection of the key's own Region. */
  connection: Connection;
  /** The connection the run would use for a new key: its `region` input or the environment's Region. */
  runConnection: Connection;
}

/** The address of a tracked key, from its id and its state (outputs, or the inputs a `get` gives). */
export function addressOf(id: string, props: KeyInputs & { arn?: unknown }): KeyAddress {
  const runConnection = connectionOf(props);
  const keyId = bareKeyId(id);
  const candidates = [parseKeyArn(id), parseKeyArn(props.arn)];
  // Only an ARN of this very key, with a Region, says where it is.
  const arn = candidates.find((parsed) => parsed !== undefined && parsed.keyId === keyId && parsed.region !== "");
  if (!arn) return { reference: id, keyId, connection: runConnection, runConnection };
  return { reference: arn.arn, keyId, arn, connection: { ...runConnection, region: arn.region }, runConnection };
}

/** "account 111122223333, Region eu-west-1" for a key; what the run has when a part is unknown is said so. */
export function placeOf(account: string | undefined, region: string | undefined): string {
  return `account ${account ?? "(unknown)"}, Region ${region || "(none set)"}`;
}
