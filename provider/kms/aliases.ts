// The only place that talks to KMS about aliases: create, repoint, delete, list, and the key an alias points at.
import {
  CreateAliasCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  KeyMetadata,
  paginateListAliases,
  UpdateAliasCommand,
} from "@aws-sdk/client-kms";
import type { AliasAddress } from "../alias/address";
import type { Connection } from "../connection";
import type { ProviderSession } from "../session";
import { errorName, explain, isNotFound, neverSent } from "./errors";

/** One alias as ListAliases shows it. */
export interface AliasEntry {
  name: string;
  arn: string;
  /** The key ID it points at; none for an AWS managed alias that AWS has not associated with a key yet. */
  targetKeyId?: string;
}

/** The account's aliases in one Region. */
export interface AliasListing {
  byName: Map<string, AliasEntry>;
  /** The account of the aliases listed (from their ARNs); undefined when the listing is empty. */
  account?: string;
}

/** ListAliases' largest page (KMS: Limit 1 to 100, default 50). */
const ALIASES_PER_PAGE = 100;

/** Every alias ListAliases shows in the account and Region, page by page. */
export async function listAliases(session: ProviderSession, connection: Connection): Promise<AliasListing> {
  const client = session.client(connection);
  const listing: AliasListing = { byName: new Map() };
  try {
    for await (const page of paginateListAliases({ client, pageSize: ALIASES_PER_PAGE }, {})) {
      for (const alias of page.Aliases ?? []) {
        if (!alias.AliasName || !alias.AliasArn) continue;
        listing.byName.set(alias.AliasName, {
          name: alias.AliasName,
          arn: alias.AliasArn,
          targetKeyId: alias.TargetKeyId || undefined,
        });
        listing.account ??= alias.AliasArn.split(":")[4] || undefined;
      }
    }
  } catch (err) {
    throw Object.assign(explain(err, { operation: "ListAliases" }), { cause: err });
  }
  return listing;
}

/**
 * CreateAlias refused because an alias of that name exists. `mayBeOurs`: an earlier attempt of the same call got no
 * answer from KMS (a 5xx, a reset, a timeout), so it may have made the alias itself.
 */
export class AliasExistsError extends Error {
  constructor(
    readonly aliasName: string,
    readonly mayBeOurs: boolean,
  ) {
    super(`CreateAlias: an alias named ${aliasName} already exists`);
    this.name = "AliasExistsError";
  }
}

/**
 * CreateAlias. It is not idempotent, but the SDK may send it again all the same: a retry after a lost answer finds
 * the alias its first attempt made (AlreadyExistsException), which AliasExistsError's `mayBeOurs` tells apart.
 */
export async function createAlias(session: ProviderSession, address: AliasAddress, targetKeyId: string): Promise<void> {
  const client = session.client(address.connection);
  const name = address.name;
  const command = new CreateAliasCommand({ AliasName: name, TargetKeyId: targetKeyId });
  let unanswered = false;
  command.middlewareStack.add(
    (next) => async (args) => {
      // Here the answer is not deserialized yet: a 5xx is a response; no answer at all (a reset, a timeout) throws.
      try {
        const result = await next(args);
        if (((result.response as { statusCode?: number }).statusCode ?? 0) >= 500) unanswered = true;
        return result;
      } catch (err) {
        // KMS may have made the alias, unless nothing was sent (the host did not resolve, nothing accepted it).
        if (!neverSent(err)) unanswered = true;
        throw err;
      }
    },
    // Inside the retry middleware: runs once per attempt.
    { step: "deserialize", priority: "low", name: "pulumiKmsKeyUnansweredAttempts" },
  );
  try {
    await client.send(command);
  } catch (err) {
    if (errorName(err) === "AlreadyExistsException") throw new AliasExistsError(name, unanswered);
    throw Object.assign(explain(err, { operation: "CreateAlias", keyId: targetKeyId }), { cause: err });
  }
}

/** UpdateAlias; false when KMS has no such alias, or no such key (NotFoundException: the caller tells which). */
export async function updateAlias(
  session: ProviderSession,
  address: AliasAddress,
  targetKeyId: string,
): Promise<boolean> {
  try {
    const client = session.client(address.connection);
    await client.send(new UpdateAliasCommand({ AliasName: address.name, TargetKeyId: targetKeyId }));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw Object.assign(explain(err, { operation: "UpdateAlias", keyId: targetKeyId }), { cause: err });
  }
}

/** DeleteAlias; false when KMS has no such alias (NotFoundException). */
export async function deleteAlias(session: ProviderSession, address: AliasAddress): Promise<boolean> {
  try {
    await session.client(address.connection).send(new DeleteAliasCommand({ AliasName: address.name }));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw Object.assign(explain(err, { operation: "DeleteAlias" }), { cause: err });
  }
}

/** The key an alias points at now (DescribeKey accepts an alias name); undefined when KMS has no such alias. */
export async function keyOfAlias(session: ProviderSession, address: AliasAddress): Promise<KeyMetadata | undefined> {
  try {
    const out = await session.client(address.connection).send(new DescribeKeyCommand({ KeyId: address.name }));
    return out.KeyMetadata;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw Object.assign(explain(err, { operation: "DescribeKey", keyId: address.name }), { cause: err });
  }
}
