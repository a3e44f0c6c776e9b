// What one provider process remembers between the engine's calls. The engine starts one provider process per
// deployment (`up`, `preview`, `destroy`, `refresh`), so that is this object's lifetime: provider/index.ts makes one.
// Keys are remembered by their whole ARN (partition, Region, account, ID): a multi-Region primary and its replicas
// share one key ID. Clients, rate limiters and key listings belong to the connection they were made for.
import { KMSClient } from "@aws-sdk/client-kms";
import type { RateLimiter } from "@smithy/core/retry";
import type { Connection } from "./connection";
import { connectionKey, newKmsClient, newLimiter, checkedEndpoint } from "./kms/client";
import type { AliasListing } from "./kms/aliases";
import type { KeyListing } from "./kms/gateway";
import type { ObservedKey } from "./plan";

/** How long what read() found stands in for the DescribeKey an update or delete would make: the engine's refresh. */
const READ_REUSE_MS = 60_000;
/** How long one listing of the account's keys serves as the "before" of every create that starts. */
const LISTING_REUSE_MS = 10_000;
/** How long one listing of the account's aliases serves every alias read (a refresh) that starts. */
const ALIAS_LISTING_REUSE_MS = 10_000;

export class ProviderSession {
  /** One client per connection (and retry setting); their rate limiters learn each operation's quota. */
  private readonly clients = new Map<string, KMSClient>();
  private readonly limiters = new Map<string, RateLimiter>();
  /** What read() found of each key, and when: an update or delete right after the refresh acts on it. */
  private readonly reads = new Map<string, { at: number; observed: ObservedKey }>();
  /** Keys create() adopted through the import option in this process. */
  private readonly adopted = new Set<string>();
  /** Keys this process created or found as its own after a lost reply: never taken by another create. */
  private readonly claimed = new Set<string>();
  /** CreateKey requests waiting for their answer, by connection and declaration. */
  private readonly awaiting = new Map<string, number>();
  /** The latest listing of the account's keys per connection, shared by the creates that start within its reuse. */
  private readonly listings = new Map<string, { at: number; listing: Promise<KeyListing> }>();
  /** The latest listing of the account's aliases per connection, shared by the reads that start within its reuse. */
  private readonly aliasListings = new Map<string, { at: number; listing: Promise<AliasListing> }>();

  /** The client of a connection; `retries: false` for the one call that must not be resent blindly (CreateKey). */
  client(connection: Connection, options: { retries?: boolean } = {}): KMSClient {
    checkedEndpoint(connection);
    const retries = options.retries ?? true;
    const place = connectionKey(connection);
    const cacheKey = `${place}|${retries}`;
    let client = this.clients.get(cacheKey);
    if (!client) {
      client = newKmsClient(connection, retries, (operation) => this.limiter(place, operation));
      this.clients.set(cacheKey, client);
    }
    return client;
  }

  /** One rate limiter per connection and operation, shared by the connection's clients. */
  private limiter(place: string, operation: string): RateLimiter {
    const key = `${place}|${operation}`;
    let limiter = this.limiters.get(key);
    if (!limiter) this.limiters.set(key, (limiter = newLimiter(operation)));
    return limiter;
  }

  rememberRead(observed: ObservedKey): void {
    if (observed.arn) this.reads.set(observed.arn, { at: Date.now(), observed });
  }

  /** The read of this very key (by ARN) made moments ago, used once: after an update acts, it is out of date. */
  takeRecentRead(arn: string | undefined): ObservedKey | undefined {
    if (!arn) return undefined;
    const read = this.reads.get(arn);
    this.reads.delete(arn);
    if (!read || Date.now() - read.at > READ_REUSE_MS) return undefined;
    return read.observed;
  }

  rememberAdopted(arn: string): void {
    this.adopted.add(arn);
  }

  wasAdopted(arn: string | undefined): boolean {
    return arn !== undefined && this.adopted.has(arn);
  }

  claim(arn: string): void {
    this.claimed.add(arn);
  }

  isClaimed(arn: string | undefined): boolean {
    return arn !== undefined && this.claimed.has(arn);
  }

  /** Counts a CreateKey waiting for its answer until `done` is called. */
  awaitAnswer(declaration: string): () => void {
    this.awaiting.set(declaration, (this.awaiting.get(declaration) ?? 0) + 1);
    return () => {
      const left = (this.awaiting.get(declaration) ?? 1) - 1;
      if (left > 0) this.awaiting.set(declaration, left);
      else this.awaiting.delete(declaration);
    };
  }

  othersAwaiting(declaration: string): boolean {
    return (this.awaiting.get(declaration) ?? 0) > 0;
  }

  /** The account's keys as listed at most 10 s ago for this connection, else a new listing. */
  keyListingBefore(connection: Connection, list: () => Promise<KeyListing>): Promise<KeyListing> {
    return reused(this.listings, connectionKey(connection), LISTING_REUSE_MS, list);
  }

  /** The account's aliases as listed at most 10 s ago for this connection (one listing for a fleet's refresh). */
  aliasListing(connection: Connection, list: () => Promise<AliasListing>): Promise<AliasListing> {
    return reused(this.aliasListings, connectionKey(connection), ALIAS_LISTING_REUSE_MS, list);
  }

  /** This process changed an alias of the connection: the next read lists again rather than miss the change. */
  aliasesChanged(connection: Connection): void {
    this.aliasListings.delete(connectionKey(connection));
  }
}

/** The listing of `place` begun at most `reuseMs` ago, else a new one; a failed listing is not reused. */
function reused<T>(
  listings: Map<string, { at: number; listing: Promise<T> }>,
  place: string,
  reuseMs: number,
  list: () => Promise<T>,
): Promise<T> {
  const latest = listings.get(place);
  if (latest && Date.now() - latest.at <= reuseMs) return latest.listing;
  const entry = { at: Date.now(), listing: list() };
  listings.set(place, entry);
  entry.listing.catch(() => listings.get(place) === entry && listings.delete(place));
  return entry.listing;
}

let processSession: ProviderSession | undefined;

/**
 * The session of this provider process, shared by every resource's provider module it loads (KmsKey's, KmsReplicaKey's):
 * a key a KmsReplicaKey read or claimed is the same key to a KmsKey in the same deployment.
 */
export function sessionOfProcess(): ProviderSession {
  return (processSession ??= new ProviderSession());
}
