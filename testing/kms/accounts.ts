// Accounts and Regions at the local KMS: each access key is in an account (moto takes a request's account from its
// `x-moto-account-id` header), a request's Region is its signature's, and a key ARN names a key only in its own
// account and Region, as in KMS (moto ignores both parts).
import * as http from "node:http";
import { jsonError, KEY_ID_FIELDS, Outcome } from "./protocol";

/** The account moto puts a request in when no `x-moto-account-id` header says otherwise. */
export const MOTO_DEFAULT_ACCOUNT = "123456789012";

/** A key ARN's Region (possibly empty or left out), account and key ID. */
const KEY_ARN = /^arn:[^:]*:[^:]+:(?:([^:]*):)?([0-9]{12}):key\/(.+)$/;

/** Where a request is made. */
interface Place {
  account: string;
  region?: string;
  accessKeyId?: string;
}

export class Accounts {
  private readonly byAccessKey = new Map<string, string>();

  /** Requests signed with this access key ID are made in `account` (moto's default account otherwise). */
  map(accessKeyId: string, account: string): void {
    this.byAccessKey.set(accessKeyId, account);
  }

  /** The account and Region a request is made in: its access key's account, its signature's Region. */
  placeOf(headers: http.IncomingHttpHeaders): Place {
    const authorization = typeof headers.authorization === "string" ? headers.authorization : "";
    const credential = /Credential=([^/,\s]+)\/[0-9]{8}\/([^/,\s]+)\//.exec(authorization);
    const accessKeyId = credential?.[1];
    const account = (accessKeyId !== undefined ? this.byAccessKey.get(accessKeyId) : undefined) ?? MOTO_DEFAULT_ACCOUNT;
    return { account, region: credential?.[2], accessKeyId };
  }

  /** The header that puts a request to moto in the account of its access key; none for an unmapped key. */
  motoHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
    const { accessKeyId } = this.placeOf(headers);
    const account = accessKeyId !== undefined ? this.byAccessKey.get(accessKeyId) : undefined;
    return account !== undefined ? { "x-moto-account-id": account } : {};
  }
}

/**
 * The request's body with each key ARN turned into its key ID, for moto (which resolves an ARN in only some
 * operations); NotFoundException, as from KMS, for an ARN of another account or Region than the request's.
 */
export function resolveKeyArns(
  body: Record<string, unknown>,
  place: Place,
): { body: Record<string, unknown>; rewritten: boolean } | { notFound: Outcome } {
  let rewritten = false;
  for (const field of KEY_ID_FIELDS) {
    const value = body[field];
    if (typeof value !== "string") continue;
    const arn = KEY_ARN.exec(value);
    if (!arn) continue;
    const [, arnRegion = "", arnAccount, id] = arn;
    if (
      arnAccount !== place.account ||
      (arnRegion !== "" && place.region !== undefined && arnRegion !== place.region)
    ) {
      return { notFound: jsonError(400, "NotFoundException", `Key '${value}' does not exist`) };
    }
    body = { ...body, [field]: id };
    rewritten = true;
  }
  return { body, rewritten };
}
