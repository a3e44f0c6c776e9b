// The two forms of a report: a table for people, JSON (schema below, documented in the README) for machines.
import Table from "cli-table3";
import type { KeyDrift } from "./drift";
import type { StackReport } from "./stacks";

/** Bump when a field changes meaning or goes away; new fields may be added within a version. */
export const REPORT_SCHEMA_VERSION = 1;

export interface Report {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  command: "check" | "recover";
  dryRun: boolean;
  /** ISO 8601: the "now" that daysLeft counts from. */
  checkedAt: string;
  exitCode: ExitCode;
  stacks: StackReport[];
}

/**
 * As `terraform plan -detailed-exitcode`: 0 nothing to do, 2 drift (or, in recover, something left), 1 the command
 * could not do its job; 130 and 143 when SIGINT or SIGTERM cancelled it, as a shell reports a command they stopped.
 */
export type ExitCode = 0 | 1 | 2 | 130 | 143;

/** A cancelled run exits as a command stopped by its signal does (128 + the signal's number). */
export function cancelledExitCode(signal: "SIGINT" | "SIGTERM"): ExitCode {
  return signal === "SIGINT" ? 130 : 143;
}

/** check: error 1 beats drift 2 beats clean 0, over every stack. */
export function checkExitCode(stacks: StackReport[]): ExitCode {
  if (stacks.some((stack) => stack.result === "error")) return 1;
  return stacks.some((stack) => stack.keys.length > 0) ? 2 : 0;
}

/**
 * recover: 0 when every drifted key was recovered; 1 when a stack failed or a key could not be recovered. With
 * --dry-run, as check: 2 when any key drifted (gone keys too: they need the user), 1 only when a stack failed.
 */
export function recoverExitCode(stacks: StackReport[], dryRun: boolean): ExitCode {
  if (dryRun) return checkExitCode(stacks);
  if (stacks.some((stack) => stack.result === "error")) return 1;
  return stacks.flatMap((stack) => stack.keys).every((key) => key.recovery?.status === "recovered") ? 0 : 1;
}

/**
 * What names a drifted resource in the table: a key's ID; the ARN where the ID is not enough (a multi-Region key shares
 * its ID with its replicas, so a replica key and a multi-Region primary show their ARNs) and for an alias.
 */
export function shownId(entry: Pick<KeyDrift, "resource" | "keyId" | "arn">): string {
  const sharedId = entry.keyId?.startsWith("mrk-") ?? false;
  if (entry.resource === "KmsKey" && entry.keyId && !sharedId) return entry.keyId;
  return entry.arn ?? entry.keyId ?? "";
}

/**
 * The report as people read it: one table row per drifted resource (key, replica key, alias), then each stack without
 * drift or with an error.
 */
export function renderTable(report: Report): string {
  const recover = report.command === "recover";
  const table = new Table({
    head: [
      "Stack",
      "Resource",
      "Name",
      "ID/ARN",
      "Drift",
      "Key state",
      "Deletion date",
      "Days left",
      "Drifted attributes",
      recover ? (report.dryRun ? "Plan" : "Result") : "`up` would",
    ],
    style: { head: [], border: [] },
  });
  for (const stack of report.stacks) {
    for (const key of stack.keys) {
      const recovery = key.recovery;
      table.push([
        stack.stack,
        key.resource,
        key.name,
        shownId(key),
        key.kind,
        key.keyState ?? "",
        key.deletionDate ?? "",
        key.daysLeft === undefined ? "" : String(key.daysLeft),
        key.attributes.join(", "),
        recovery
          ? `${recovery.status}${recovery.actions.length ? `: ${recovery.actions.join(", ")}` : ""}${
              recovery.message ? ` (${recovery.message})` : ""
            }`
          : key.upWould,
      ]);
    }
  }
  const lines: string[] = [];
  if (table.length > 0) lines.push(table.toString());
  for (const stack of report.stacks) {
    if (stack.result === "error") lines.push(`${stack.stack}: error: ${stack.error ?? "unknown"}`);
    else if (stack.result === "cancelled") lines.push(`${stack.stack}: ${stack.message ?? "cancelled"}`);
    else if (stack.keys.length === 0) lines.push(`${stack.stack}: no drift`);
  }
  return lines.join("\n") + "\n";
}

export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + "\n";
}
