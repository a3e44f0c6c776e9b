// The KMS JSON protocol as the local KMS's proxy reads and answers it: POST /, X-Amz-Target: TrentService.<Operation>,
// a JSON body; errors are `{ __type, message }` with HTTP 400 or 500.
import * as http from "node:http";
import { randomUUID } from "node:crypto";

export const JSON_CONTENT_TYPE = "application/x-amz-json-1.1";
export const TARGET_PREFIX = "TrentService.";

/** Request fields that name a key, in the order the call log takes the key from. */
export const KEY_ID_FIELDS = ["KeyId", "TargetKeyId", "DestinationKeyId", "SourceKeyId"];

/** An answer to one request, before it is sent. */
export interface Outcome {
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
}

export function jsonError(
  status: number,
  type: string,
  message: string,
  extra: http.OutgoingHttpHeaders = {},
): Outcome {
  return {
    status,
    headers: { "content-type": JSON_CONTENT_TYPE, "x-amzn-requestid": randomUUID(), ...extra },
    body: Buffer.from(JSON.stringify({ __type: type, message })),
  };
}

/** The `__type` of an error answer, without its namespace; undefined for a success or a body that is not JSON. */
export function errorType(outcome: Outcome): string | undefined {
  if (outcome.status < 400) return undefined;
  const type = parseBody<{ __type?: unknown }>(outcome)?.__type;
  if (typeof type !== "string") return undefined;
  return type.includes("#") ? type.slice(type.indexOf("#") + 1) : type;
}

/** The answer's JSON body; undefined when it is not JSON. */
export function parseBody<T extends object>(outcome: Outcome): T | undefined {
  try {
    const parsed: unknown = JSON.parse(outcome.body.toString("utf8"));
    return parsed && typeof parsed === "object" ? (parsed as T) : undefined;
  } catch {
    return undefined;
  }
}

/** The answer with its JSON body changed in place by `edit`; unchanged when the body is not JSON or `edit` says false. */
export function editBody<T extends object>(outcome: Outcome, edit: (body: T) => boolean | void): Outcome {
  const parsed = parseBody<T>(outcome);
  if (parsed === undefined || edit(parsed) === false) return outcome;
  return { ...outcome, body: Buffer.from(JSON.stringify(parsed)) };
}

export function readBody(stream: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
    stream.on("aborted", () => reject(new Error("request aborted")));
  });
}

/** "arn:...:key/<id>" -> "<id>"; anything else unchanged. */
export function normalizeKeyId(keyId: string): string {
  const i = keyId.indexOf("key/");
  return i >= 0 && keyId.startsWith("arn:") ? keyId.slice(i + 4) : keyId;
}
