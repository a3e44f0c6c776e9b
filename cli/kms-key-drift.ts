#!/usr/bin/env node
// kms-key-drift: which KmsKeys, KmsReplicaKeys and KmsAliases drifted from their declaration (check), and a targeted
// repair (recover), for pipelines. Runs over the Pulumi project in --cwd with whatever backend the user is logged into.
import * as path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { Cancellation, CancelSignal } from "./cancel";
import { mapBounded } from "./pool";
import {
  cancelledExitCode,
  checkExitCode,
  ExitCode,
  recoverExitCode,
  renderJson,
  renderTable,
  Report,
  REPORT_SCHEMA_VERSION,
} from "./report";
import { checkStack, recoverStack, RunContext, StackReport } from "./stacks";

interface CommonOptions {
  cwd: string;
  stack: string[];
  parallel: number;
  json: boolean;
}

function parseParallel(value: string): number {
  const parallel = Number(value);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) {
    throw new InvalidArgumentError(`--parallel must be a whole number from 1 to 64; got ${value}`);
  }
  return parallel;
}

function collect(value: string, previous: string[]): string[] {
  if (value.trim() === "") throw new InvalidArgumentError("--stack needs a stack name; got an empty one");
  return [...previous, value];
}

function withCommonOptions(command: Command): Command {
  return command
    .option("--cwd <folder>", "the Pulumi project folder (holds Pulumi.yaml)", process.cwd())
    .option("-s, --stack <name>", "a stack to look at; repeat for several (default: the selected stack)", collect, [])
    .addOption(new Option("--parallel <n>", "how many stacks to refresh at once").default(4).argParser(parseParallel))
    .option("--json", "print the report as JSON (schema version 1) instead of a table", false);
}

const progress = (line: string): void => {
  process.stderr.write(`kms-key-drift: ${line}\n`);
};

// Ctrl-C or a CI runner's cancel: the running operations stop as `pulumi` stops on ^C, and the report says how far
// each stack got. Later signals change nothing: the engine is finishing what it had in flight.
const cancellation = new Cancellation(progress);
for (const signal of ["SIGINT", "SIGTERM"] as const satisfies readonly CancelSignal[]) {
  process.on(signal, () => {
    if (!cancellation.signal)
      progress(`${signal} received: cancelling (waiting for the operations in flight to finish)`);
    cancellation.request(signal);
  });
}

/** The exit code of the report, unless a signal cancelled the run. */
function exitCodeOf(code: ExitCode): ExitCode {
  return cancellation.signal ? cancelledExitCode(cancellation.signal) : code;
}

async function runStacks(
  options: CommonOptions,
  task: (stack: string | undefined, context: RunContext) => Promise<StackReport>,
): Promise<{ stacks: StackReport[]; now: Date }> {
  const now = new Date();
  const context: RunContext = {
    workDir: path.resolve(options.cwd),
    now: () => now,
    progress,
    cancellation,
  };
  const names: (string | undefined)[] = options.stack.length > 0 ? [...new Set(options.stack)] : [undefined];
  return { stacks: await mapBounded(names, options.parallel, (name) => task(name, context)), now };
}

function print(report: Report, json: boolean): void {
  process.stdout.write(json ? renderJson(report) : renderTable(report));
  process.exitCode = report.exitCode;
}

const program = new Command("kms-key-drift")
  .description(
    "Finds KmsKeys, KmsReplicaKeys and KmsAliases whose live state drifted from their declaration, and recovers only those",
  )
  .showHelpAfterError()
  // Usage errors exit 1, like any other error (2 means drift).
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 1);
  });

withCommonOptions(
  program
    .command("check")
    .description(
      "refresh each stack without writing its state and report drifted keys and aliases; exit 0 no drift, 2 drift, 1 error",
    ),
).action(async (options: CommonOptions) => {
  const { stacks, now } = await runStacks(options, checkStack);
  const report: Report = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    command: "check",
    dryRun: false,
    checkedAt: now.toISOString(),
    exitCode: exitCodeOf(checkExitCode(stacks)),
    stacks,
  };
  print(report, options.json);
});

withCommonOptions(
  program
    .command("recover")
    .description(
      "refresh, then update only the drifted keys and aliases (nothing else in the stack); exit 0 all recovered, 1 otherwise",
    ),
)
  .option("--dry-run", "show what would be done; change nothing (exit 0 no drift, 2 drift, 1 error)", false)
  .action(async (options: CommonOptions & { dryRun: boolean }) => {
    const { stacks, now } = await runStacks(options, (stack, context) => recoverStack(stack, options.dryRun, context));
    const report: Report = {
      schemaVersion: REPORT_SCHEMA_VERSION,
      command: "recover",
      dryRun: options.dryRun,
      checkedAt: now.toISOString(),
      exitCode: exitCodeOf(recoverExitCode(stacks, options.dryRun)),
      stacks,
    };
    print(report, options.json);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`kms-key-drift: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
