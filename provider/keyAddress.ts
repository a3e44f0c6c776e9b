// Where a key lives: its ARN names the partition, Region, account and ID, and every call about the key goes there.
import { parse, validate } from "@aws-sdk/util-arn-parser";
import { connectionOf, Connection } from "./connection";
import type { KeyInputs } from "./inputs";

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

/** The parts of a key ARN, or undefined when the value is not one. */
export function parseKeyArn(value: unknown): KeyArn | undefined {
  if (typeof value !== "string" || /\s/.test(value)) return undefined;
  // Any partition and service name: KMS-compatible services use their own (the seed's example is `verenc`), and may
  // leave the Region field out (arn:aws:verenc:111122223333:key/...), which the SDK's parser needs, if only empty.
  const fields = value.split(":");
  const arn = fields.length === 5 ? [...fields.slice(0, 3), "", ...fields.slice(3)].join(":") : value;
  if (!validate(arn)) return undefined;
  const { partition, service, region, accountId, resource } = parse(arn);
  const keyId = /^key\/([^/:]+)$/i.exec(resource)?.[1];
  if (!keyId || !/^[0-9]{12}$/.test(accountId) || !/^[a-z0-9-]+$/i.test(service)) return undefined;
  return { arn: value, partition, service, region, account: accountId, keyId };
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
