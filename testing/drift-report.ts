// Reading what kms-key-drift printed, as the tests of its report do: the JSON (the CLI's own Report type, which
// renderJson writes as it is) and the table's cells.
import type { Report } from "../cli/report";
import { CommandResult, described } from "./pulumi/project";

/** The --json report a run printed; a clear error, with all it printed, when it is not JSON. */
export function parseReport(result: CommandResult): Report {
  try {
    return JSON.parse(result.stdout) as Report;
  } catch {
    throw new Error(`not JSON:\n${described(result)}`);
  }
}

/** The table's lines as cells, heading first: each line that starts with the table's vertical bar. */
export function tableLines(text: string): string[][] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("│"))
    .map((line) =>
      line
        .split("│")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}
