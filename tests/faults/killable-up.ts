// Runs one `pulumi up --refresh` of a keys program in a process of its own, so a test can SIGKILL the whole run:
// this process hosts the program (as the Node.js language host would), `pulumi` and its provider plugins run under
// it. Inline programs otherwise run inside the test process, where a killed run's program would linger.
//
// Usage: node killable-up.js '<JSON of UpRequest>'; prints the engine's output; exits 0 when the update succeeded.
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import { KmsKey } from "../../sdk";

export interface UpRequest {
  /** The folder holding `pulumi` (PulumiHarness.binDir). */
  binDir: string;
  workDir: string;
  projectName: string;
  stackName: string;
  env: Record<string, string>;
  prefix: string;
  count: number;
  parallel: number;
}

/** `count` keys named prefix0..prefixN, each with a 7-day deletion window. */
export function keysProgram(prefix: string, count: number) {
  return async () => {
    for (let i = 0; i < count; i++) {
      new KmsKey(`${prefix}${i}`, { description: `${prefix} key ${i}`, deletionWindowInDays: 7 });
    }
  };
}

async function main(request: UpRequest): Promise<void> {
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(request.binDir), skipVersionCheck: true });
  const stack = await LocalWorkspace.selectStack(
    {
      stackName: request.stackName,
      projectName: request.projectName,
      program: keysProgram(request.prefix, request.count),
    },
    { workDir: request.workDir, pulumiCommand, envVars: request.env },
  );
  await stack.up({
    refresh: true,
    parallel: request.parallel,
    onOutput: (out) => process.stdout.write(out),
    onError: (err) => process.stderr.write(err),
  });
}

if (require.main === module) {
  main(JSON.parse(process.argv[2]) as UpRequest).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
