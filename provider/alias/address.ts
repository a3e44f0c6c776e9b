// Where an alias lives: its ARN names the partition, Region and account, and the key it points at is in the same
// ones (KMS: "The alias and the KMS key must be in the same AWS account and Region"). No network here.
import { parse, validate } from "@aws-sdk/util-arn-parser";
import { Connection, connectionOf } from "../connection";
import { KeyArn, parseKeyArn } from "../keyAddress";

/** The parts of an alias ARN: arn:PARTITION:SERVICE:REGION:ACCOUNT:alias/NAME. */
export interface AliasArn {
  arn: string;
  partition: string;
  service: string;
  /** Empty when the ARN has none. */
  region: string;
  account: string;
  /** The alias name, "alias/" included. */
  name: string;
}

/** The parts of an alias ARN, or undefined when the value is not one. */
export function parseAliasArn(value: unknown): AliasArn | undefined {
  if (typeof value !== "string" || /\s/.test(value)) return undefined;
  // As parseKeyArn: any partition and service name, the Region field possibly left out.
  const fields = value.split(":");
  const arn = fields.length === 5 ? [...fields.slice(0, 3), "", ...fields.slice(3)].join(":") : value;
  if (!validate(arn)) return undefined;
  const { partition, service, region, accountId, resource } = parse(arn);
  if (!/^alias\/./.test(resource) || !/^[0-9]{12}$/.test(accountId) || !/^[a-z0-9-]+$/i.test(service)) {
    return undefined;
  }
  return { arn: value, partition, service, region, account: accountId, name: resource };
}

/** The alias name in an alias name or alias ARN; undefined when the value is neither. */
export function aliasNameIn(reference: unknown): string | undefined {
  if (typeof reference !== "string") return undefined;
  if (reference.startsWith("alias/")) return reference;
  return parseAliasArn(reference)?.name;
}

/** The ARN of the alias `name` beside a key: same partition, service, Region and account. */
export function aliasArnBeside(key: KeyArn, name: string): string {
  return `arn:${key.partition}:${key.service}:${key.region}:${key.account}:${name}`;
}

/** The ARN of the key `keyId` beside an alias. */
export function keyArnBeside(alias: AliasArn, keyId: string): string {
  return `arn:${alias.partition}:${alias.service}:${alias.region}:${alias.account}:key/${keyId}`;
}

/**
 * The key a declared targetKeyId names, as an ARN, when it can be told without asking KMS: a key ARN names itself; a
 * key ID names the key of that ID beside the alias (its account and Region).
 */
export function targetArnOf(reference: unknown, alias: AliasArn | undefined): KeyArn | undefined {
  const arn = parseKeyArn(reference);
  if (arn) return arn;
  if (typeof reference !== "string" || !alias) return undefined;
  return parseKeyArn(keyArnBeside(alias, reference));
}

/** Same Region, account and key ID: a person may write the partition or service differently, or the ID in capitals. */
export function sameKey(a: KeyArn | undefined, b: KeyArn | undefined): boolean {
  if (!a || !b) return false;
  return (
    (a.region === "" || b.region === "" || a.region === b.region) &&
    a.account === b.account &&
    a.keyId.toLowerCase() === b.keyId.toLowerCase()
  );
}

/** How to reach an alias. */
export interface AliasAddress {
  name: string;
  /** The alias's ARN when known (from the state, or given as the id of a get). */
  arn?: AliasArn;
  /** The connection of the alias's own Region. */
  connection: Connection;
  /** The connection the run would use for a new alias: its `region` input or the environment's Region. */
  runConnection: Connection;
}

/**
 * The address of an alias: a tracked one by its ARN in the state; one a person named (get) by its id, an alias name
 * (the run's Region) or alias ARN (its own Region); a new one in its target key's Region when targetKeyId is a key ARN.
 */
export function aliasAddressOf(id: string, props: Connection & { arn?: unknown; targetKeyId?: unknown }): AliasAddress {
  const runConnection = connectionOf(props);
  const arn = [parseAliasArn(props.arn), parseAliasArn(id)].find((parsed) => parsed !== undefined);
  const name = arn?.name ?? aliasNameIn(id) ?? id;
  const region = arn?.region || parseKeyArn(props.targetKeyId)?.region || undefined;
  return { name, arn, connection: region ? { ...runConnection, region } : runConnection, runConnection };
}
