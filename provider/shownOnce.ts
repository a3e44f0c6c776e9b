// Errors as users see them: once, as the one line that says what happened and what to do.
// Pulumi's dynamic-provider host (@pulumi/pulumi cmd/dynamic-provider) prints `${e}: ${e.stack}` on its stderr for
// every error that check, diff, read or delete throws, and also returns the error to the engine, which shows its
// message under the resource. So each error would be shown twice, the second time with a trace of the host.
import { redactUserinfo } from "./kms/errors";

/** Built-in error classes that mean a bug in this package: their stack trace is worth showing. */
const BUG_CLASSES = [TypeError, ReferenceError, RangeError, SyntaxError, EvalError, URIError];

/** Host log lines to drop, one per expected error thrown from a method whose errors the host logs. */
const hostLinesToDrop = new Set<string>();
let consoleFiltered = false;

/** An error the provider means the user to read: a plain-words message rather than a bug. */
function isExpectedError(err: unknown): err is Error {
  return err instanceof Error && !BUG_CLASSES.some((bug) => err instanceof bug);
}

/**
 * Awaits a provider call; an expected error it throws leaves with a stack that is its message only (no trace
 * through this package's files), and when `hostLogs` the host's own printing of it is dropped, so the engine's
 * line under the resource is the only one. Other errors are left as they are.
 */
export async function shownOnce<T>(call: Promise<T>, hostLogs: boolean): Promise<T> {
  try {
    return await call;
  } catch (err) {
    // The last gate before the engine and its logs: no URL's credentials, whatever message carried them here.
    if (err instanceof Error) redactError(err);
    if (!isExpectedError(err)) throw err;
    err.stack = `${err}`;
    if (hostLogs) dropHostLine(`${err}: ${err.stack}`);
    throw err;
  }
}

function redactError(err: Error & { reasons?: unknown }): void {
  err.message = redactUserinfo(err.message);
  if (err.stack !== undefined) err.stack = redactUserinfo(err.stack);
  if (Array.isArray(err.reasons)) err.reasons = err.reasons.map((reason) => redactUserinfo(String(reason)));
}

function dropHostLine(line: string): void {
  if (!consoleFiltered) {
    consoleFiltered = true;
    const print = console.error.bind(console);
    console.error = (...args: unknown[]) => {
      // Exactly the host's line for an error thrown here: anything else is printed as it was.
      if (args.length === 1 && typeof args[0] === "string" && hostLinesToDrop.delete(args[0])) return;
      print(...args);
    };
  }
  hostLinesToDrop.add(line);
}
