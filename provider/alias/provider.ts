// The ResourceProvider for KmsAlias: check and diff are pure; read observes (one listing of the account's aliases per
// Region serves a fleet's refresh); create, update and delete act, and never repoint an alias away from a live key the
// program did not name.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { addressOf, KeyAddress, KeyArn, parseKeyArn, placeOf } from "../keyAddress";
import {
  AliasExistsError,
  AliasListing,
  createAlias,
  deleteAlias,
  keyOfAlias,
  listAliases,
  updateAlias,
} from "../kms/aliases";
import { describeKey } from "../kms/gateway";
import { runPlace } from "../kms/identity";
import { isPendingDeletion } from "../plan";
import * as schema from "../schema";
import { InputsOf, ReportedOf, show, withoutAbsent } from "../schema";
import { ProviderSession } from "../session";
import {
  AliasAddress,
  aliasAddressOf,
  aliasArnBeside,
  aliasNameIn,
  keyArnBeside,
  parseAliasArn,
  sameKey,
  targetArnOf,
} from "./address";
import { ALIAS_SCHEMA } from "./schema";

type Props = Record<string, unknown>;

/** Inputs a program declares for an alias. */
export type AliasInputs = InputsOf<typeof ALIAS_SCHEMA>;

/** What the provider stores and exports for an alias. */
export type AliasOutputs = Omit<AliasInputs, "importAliasName" | "name" | "targetKeyId"> &
  ReportedOf<typeof ALIAS_SCHEMA> & { name: string; targetKeyId: string };

/** Inputs only this provider uses (KMS can't report them): carried over from state on refresh. */
const STATE_ONLY_INPUTS = schema.stateOnly(ALIAS_SCHEMA);

/** An alias as KMS has it. */
export interface ObservedAlias {
  name: string;
  arn: string;
  /** The key it points at. */
  target: KeyArn;
}

export class AliasProvider implements dynamic.ResourceProvider {
  /** What this provider process remembers between calls (one per deployment). */
  constructor(private readonly session = new ProviderSession()) {}

  async check(_olds: Props, news: Props): Promise<dynamic.CheckResult> {
    return schema.checkInputs(ALIAS_SCHEMA, news);
  }

  async diff(_id: string, olds: Props, news: Props): Promise<dynamic.DiffResult> {
    return diffAlias(olds, news);
  }

  async create(inputs: Props): Promise<dynamic.CreateResult> {
    const declared = inputs as AliasInputs;
    const address = aliasAddressOf(String(declared.name), declared);
    const target = await targetKey(this.session, address, String(declared.targetKeyId), "create");
    const observed =
      declared.importAliasName !== undefined
        ? await adopt(this.session, address, target)
        : await createNew(this.session, address, target, inputs);
    return { id: observed.name, outs: outputsOf(inputs, observed) };
  }

  async read(id: string, props: Props): Promise<dynamic.ReadResult> {
    // No targetKeyArn in state: a person named the alias (KmsAlias.get), by its name or ARN.
    const getting = typeof props.targetKeyArn !== "string";
    if (getting && aliasNameIn(id) === undefined) {
      throw new Error(
        `cannot read the alias: ${show(id)} is neither an alias name (alias/...) nor an alias ARN (arn:PARTITION:kms:REGION:ACCOUNT:alias/...)`,
      );
    }
    const address = aliasAddressOf(id, props);
    const listing = await this.session.aliasListing(address.connection, () =>
      listAliases(this.session, address.connection),
    );
    const entry = listing.byName.get(address.name);
    const aliasArn = parseAliasArn(entry?.arn);
    if (!entry?.targetKeyId || !aliasArn) {
      await confirmGone(this.session, address, "read", listing);
      if (getting) {
        throw new Error(
          `read: KMS has no alias ${address.name} in ${await placeOfRun(this.session, address, listing)}` +
            (entry ? " associated with a key" : "") +
            ". Check its name; give its alias ARN if it is in another Region.",
        );
      }
      // Gone: the engine drops it from the stack, and `pulumi up --refresh` makes it again.
      return {};
    }
    const target = parseKeyArn(keyArnBeside(aliasArn, entry.targetKeyId));
    if (!target) throw new Error(`read: ListAliases answered ${show(entry.targetKeyId)} as ${address.name}'s key`);
    const outputs = outputsOf(props, { name: entry.name, arn: entry.arn, target });
    return { id: entry.name, props: outputs, inputs: inputsOf(outputs) };
  }

  async update(id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult> {
    const address = aliasAddressOf(id, { ...news, arn: olds.arn });
    const known = lastKnown(olds);
    // Only the inputs kept in state changed (the endpoint, say): nothing to ask KMS.
    if (!schema.changedParts(ALIAS_SCHEMA, olds, news).has("target") && known) {
      return { outs: outputsOf(news, known) };
    }
    const target =
      targetArnOf(news.targetKeyId, address.arn) ??
      (await targetKey(this.session, address, String(news.targetKeyId), "update"));
    if (await updateAlias(this.session, address, target.keyId)) {
      this.session.aliasesChanged(address.connection);
      return { outs: outputsOf(news, { name: address.name, arn: aliasArn(address, target), target }) };
    }
    // NotFoundException: the key is not there, or the alias is gone.
    const key = parseKeyArn((await describeKey(this.session, keyBeside(address, target.keyId)))?.Arn);
    if (!key || (address.arn && key.account !== address.arn.account)) {
      throw new Error(
        `update: targetKeyId ${show(news.targetKeyId)} names no key KMS has beside alias ${address.arn?.arn ?? address.name} ` +
          `(its account and Region; UpdateAlias and DescribeKey answered NotFoundException). An alias can point only at a key ` +
          `in its own account and Region: name such a key.`,
      );
    }
    // The alias is gone (deleted outside Pulumi): made again under its name, as `pulumi up --refresh` would.
    const observed = await createNew(this.session, address, key, news);
    notice(`KmsAlias ${address.name} was gone (deleted outside Pulumi): made it again, pointing at KMS key ${key.arn}`);
    return { outs: outputsOf(news, observed) };
  }

  async delete(id: string, props: Props): Promise<void> {
    const address = aliasAddressOf(id, props);
    if (await deleteAlias(this.session, address)) {
      this.session.aliasesChanged(address.connection);
      return;
    }
    // Already gone is done, when this run is in the alias's account: from another, KMS answers NotFound all the same.
    await confirmGone(this.session, address, "delete");
  }
}

/** diff makes no network call: it compares the alias as last read with the declared inputs. */
export function diffAlias(olds: Props, news: Props): dynamic.DiffResult {
  const replaces = schema.replacements(ALIAS_SCHEMA, olds, news);
  // An alias lives in its key's Region: a key ARN of another Region asks for a new alias there.
  const aliasRegion = parseAliasArn(olds.arn)?.region;
  const keyRegion = parseKeyArn(news.targetKeyId)?.region;
  if (aliasRegion && keyRegion && keyRegion !== aliasRegion && !replaces.includes("region")) {
    replaces.push("targetKeyId");
  }
  const changed = schema.changedParts(ALIAS_SCHEMA, olds, news);
  const stateOnly = STATE_ONLY_INPUTS.filter((name) => schema.differs(olds[name], news[name]));
  return {
    changes: replaces.length > 0 || changed.size > 0 || stateOnly.length > 0,
    replaces,
    deleteBeforeReplace: false,
  };
}

/**
 * The outputs of an alias: the declared inputs as KMS has them now, plus its ARN and its key's. targetKeyId keeps the
 * declared form (key ID or key ARN) while it names the key KMS has; else it is that key, in the same form.
 */
export function outputsOf(declared: Props, observed: ObservedAlias): AliasOutputs {
  const declaredTarget = declared.targetKeyId;
  const same = sameKey(targetArnOf(declaredTarget, parseAliasArn(observed.arn)), observed.target);
  const targetKeyId =
    same && typeof declaredTarget === "string"
      ? declaredTarget
      : parseKeyArn(declaredTarget)
        ? observed.target.arn
        : observed.target.keyId;
  const outputs: Props = {
    name: observed.name,
    targetKeyId,
    arn: observed.arn,
    targetKeyArn: observed.target.arn,
  };
  for (const name of STATE_ONLY_INPUTS) if (declared[name] !== undefined) outputs[name] = declared[name];
  return withoutAbsent(outputs) as AliasOutputs;
}

/** The inputs a refresh records: the outputs less what only KMS reports, so a repointed alias shows as drift. */
export function inputsOf(outputs: AliasOutputs): Props {
  return schema.refreshedInputs(ALIAS_SCHEMA, outputs);
}

/** The alias as the state last recorded it. */
function lastKnown(olds: Props): ObservedAlias | undefined {
  const target = parseKeyArn(olds.targetKeyArn);
  if (!target || typeof olds.arn !== "string" || typeof olds.name !== "string") return undefined;
  return { name: olds.name, arn: olds.arn, target };
}

/** The alias's ARN: the state's, else the one beside its key. */
function aliasArn(address: AliasAddress, target: KeyArn): string {
  return address.arn?.arn ?? aliasArnBeside(target, address.name);
}

/** A key beside an alias (its account and Region), by key ID or ARN. */
function keyBeside(address: AliasAddress, reference: string): KeyAddress {
  return addressOf(reference, address.connection);
}

/** The key a targetKeyId names, by ARN: a key ARN as given; a key ID as DescribeKey finds it in the alias's Region. */
async function targetKey(
  session: ProviderSession,
  address: AliasAddress,
  reference: string,
  operation: string,
): Promise<KeyArn> {
  const given = parseKeyArn(reference);
  if (given && given.region !== "") return given;
  const found = parseKeyArn((await describeKey(session, keyBeside(address, reference)))?.Arn);
  if (found) return found;
  const run = await runPlace(session, address.connection, address.runConnection);
  throw new Error(
    `${operation}: alias ${address.name}'s targetKeyId ${show(reference)} names no key KMS has in this run's ` +
      `${placeOf(run.account, address.connection.region ?? run.region)}${run.problem ? ` (${run.problem})` : ""}. ` +
      `Name an existing key; give its key ARN if it is in another Region (the alias is then made there).`,
  );
}

/**
 * CreateAlias. When the name is taken, the alias is taken over only from a key pending deletion (or one gone); one
 * that points at a live key is left as it is, and the error names that key and says how to adopt the alias.
 */
async function createNew(
  session: ProviderSession,
  address: AliasAddress,
  target: KeyArn,
  inputs: Props,
): Promise<ObservedAlias> {
  const observed: ObservedAlias = { name: address.name, arn: aliasArn(address, target), target };
  try {
    await createAlias(session, address, target.keyId);
    return observed;
  } catch (err) {
    if (!(err instanceof AliasExistsError)) throw err;
    return await takeOver(session, address, target, inputs, err.mayBeOurs);
  } finally {
    session.aliasesChanged(address.connection);
  }
}

async function takeOver(
  session: ProviderSession,
  address: AliasAddress,
  target: KeyArn,
  inputs: Props,
  mayBeOurs: boolean,
): Promise<ObservedAlias> {
  const name = address.name;
  const observed: ObservedAlias = { name, arn: aliasArn(address, target), target };
  const current = await keyOfAlias(session, address).catch((err: unknown) => {
    // An earlier attempt of this very create may have made it: the engine tracks it rather than leave it untracked.
    throw mayBeOurs ? partialFailure(err, inputs, observed) : err;
  });
  if (!current?.Arn) {
    // Gone since CreateAlias answered (deleted, or its key's waiting period ended, which deletes a key's aliases).
    await createAlias(session, address, target.keyId).catch((err: unknown) => {
      throw err instanceof AliasExistsError
        ? new Error(
            `CreateAlias: alias ${name} was made by someone else while this program was making it; run pulumi up again`,
          )
        : err;
    });
    return observed;
  }
  const held = parseKeyArn(current.Arn);
  const place = placeOf(held?.account, held?.region);
  const adopt =
    `To manage this alias and point it at ${target.arn}, add the import resource option naming it ` +
    `({ import: ${JSON.stringify(name)} }); or declare another name.`;
  if (sameKey(held, target)) {
    // An earlier attempt of this create made it; its answer was lost.
    if (mayBeOurs) return observed;
    throw new Error(
      `cannot create alias ${name}: it already exists in ${place} and points at KMS key ${current.Arn}, the declared ` +
        `target, but this program did not make it (another stack or person may rely on it). It is left as it is. ${adopt}`,
    );
  }
  if (!isPendingDeletion(current.KeyState ?? "")) {
    throw new Error(
      `cannot create alias ${name}: it already exists in ${place} and points at KMS key ${current.Arn} ` +
        `(${current.KeyState}), which this program does not name as targetKeyId. It is left as it is. ${adopt}`,
    );
  }
  // Left on a key pending deletion: the alias would go with that key, so it is this program's to take.
  if (!(await updateAlias(session, address, target.keyId))) {
    throw new Error(
      `UpdateAlias: alias ${name} or KMS key ${target.arn} is gone since DescribeKey saw them; run pulumi up again`,
    );
  }
  const when = current.DeletionDate ? ` (to be deleted on ${current.DeletionDate.toISOString()})` : "";
  notice(
    `KmsAlias ${name} already existed, pointing at KMS key ${current.Arn}, which is ${current.KeyState}${when}: ` +
      `took it over and pointed it at KMS key ${target.arn}`,
  );
  return observed;
}

/**
 * The engine can't import dynamic resources (pulumi/pulumi#16175), so KmsAlias turns the `import` option into this:
 * take over the existing alias and point it at the declared key.
 */
async function adopt(session: ProviderSession, address: AliasAddress, target: KeyArn): Promise<ObservedAlias> {
  const name = address.name;
  const current = await keyOfAlias(session, address);
  const held = parseKeyArn(current?.Arn);
  if (!held) {
    throw new Error(
      `cannot import alias ${name}: KMS has no alias ${name} in ${await placeOfRun(session, address)} ` +
        `(DescribeKey answered NotFoundException). Check its name and Region; remove the import option to create it.`,
    );
  }
  if (!sameKey(held, target)) {
    if (!(await updateAlias(session, address, target.keyId))) {
      throw new Error(
        `cannot import alias ${name}: it is gone since DescribeKey saw it; remove the import option to create it`,
      );
    }
    session.aliasesChanged(address.connection);
    notice(
      `KmsAlias ${name}: imported the alias, which pointed at KMS key ${held.arn}; it now points at KMS key ${target.arn}`,
    );
  }
  return { name, arn: address.arn?.arn ?? aliasArnBeside(held, name), target };
}

/**
 * Returns when KMS's answer that an alias is not there means it is gone: the alias's account is the one the listing
 * (or, without one, the run's credentials) is of. Throws when the run can't see that account's aliases.
 */
async function confirmGone(
  session: ProviderSession,
  address: AliasAddress,
  operation: string,
  listing?: AliasListing,
): Promise<void> {
  const arn = address.arn;
  // No ARN (a get by name): the run's account is the one asked about.
  if (!arn) return;
  if (listing?.account === arn.account) return;
  const run =
    listing?.account !== undefined
      ? { account: listing.account, region: address.connection.region, problem: undefined }
      : await runPlace(session, address.connection, address.runConnection);
  if (run.account === arn.account) return;
  const runs =
    run.account !== undefined
      ? `this run's credentials are in ${placeOf(run.account, run.region)}`
      : `this run's account is unknown${run.problem ? ` (${run.problem})` : ""}`;
  throw new Error(
    `KmsAlias ${arn.arn} is in ${placeOf(arn.account, arn.region)}; ${runs}. KMS does not show the alias to ${operation} ` +
      `from here, which does not mean it is gone: it stays in the stack, unchanged. Run with credentials for account ${arn.account}.`,
  );
}

/** "account A, Region R" of a run, for a message: the listing's account when it has one, else STS's. */
async function placeOfRun(session: ProviderSession, address: AliasAddress, listing?: AliasListing): Promise<string> {
  if (listing?.account !== undefined) return placeOf(listing.account, address.connection.region);
  const run = await runPlace(session, address.connection, address.runConnection);
  return placeOf(run.account, address.connection.region ?? run.region);
}

/** An error that carries the alias's id and properties, so the engine keeps tracking an alias that may exist. */
function partialFailure(err: unknown, inputs: Props, observed: ObservedAlias): Error {
  const error = err instanceof Error ? err : new Error(String(err));
  return Object.assign(error, {
    // The engine shows only the reasons of an error that carries an id (ErrorResourceInitFailed).
    reasons: [error.message],
    id: observed.name,
    properties: { ...outputsOf(inputs, observed), __provider: inputs.__provider },
  });
}

/** A line the engine shows among the run's diagnostics (the provider process's stderr). */
function notice(message: string): void {
  console.warn(`warning: ${message}`);
}
