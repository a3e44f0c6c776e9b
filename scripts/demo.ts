// `npm run demo`: examples/drift-recovery run as a user runs a Pulumi project, against a local KMS.
// The example folder is copied to a temporary folder, pulumi-kms-key is installed there from this repository's
// `npm pack`, and the real CLI runs there: a key is created, scheduled for deletion behind Pulumi's back, and
// brought back by `pulumi up --refresh`. Needs no configuration; leaves nothing running (moto, the engine,
// temporary folders), also on Ctrl-C or error. Run it through scripts/demo, which builds the project and installs
// moto, the leg's Node.js, Pulumi CLI and the Node.js language host first. It runs the newest leg of versions.json
// (what a user installs today: the newest Node.js LTS, @pulumi/pulumi and CLI); `--oldest` runs the oldest supported
// one instead. `--verbose` shows the engine's own output as well.
import { DescribeKeyCommand, KMSClient, ScheduleKeyDeletionCommand } from "@aws-sdk/client-kms";
import { outOfBand } from "../testing/kms/out-of-band";
import { startKmsServerWithProxy } from "../testing/kms/server";
import { CommandResult, Project } from "../testing/pulumi/project";
import { LEGS } from "../testing/versions";

const EXAMPLE = "drift-recovery";
const OUT_OF_BAND_WINDOW_DAYS = 7;
const verbose = process.argv.includes("--verbose");
const leg = process.argv.includes("--oldest") ? LEGS.oldest : LEGS.newest;

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);
let stepNumber = 0;
const STEPS = 6;
function step(title: string): void {
  stepNumber += 1;
  console.log(`\n${bold(`[${stepNumber}/${STEPS}] ${title}`)}`);
}
const say = (text: string) => console.log(`      ${text}`);

/** Everything the engine printed, shown when the demo fails. */
let transcript = "";
function ok(command: string, result: CommandResult): CommandResult {
  transcript += `$ pulumi ${command}\n${result.stdout}${result.stderr}`;
  if (result.code !== 0) throw new Error(`pulumi ${command} exited ${result.code}`);
  return result;
}

async function main(): Promise<number> {
  const started = Date.now();
  const abort = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = signal;
    console.log(`\n${signal}: stopping the engine and the local KMS ...`);
    abort.abort();
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);
  const check = () => {
    if (interrupted) throw new Error(`interrupted (${interrupted})`);
  };

  console.log(
    bold("pulumi-kms-key: a KMS key scheduled for deletion behind Pulumi's back, brought back by pulumi up --refresh"),
  );

  let kms: Awaited<ReturnType<typeof startKmsServerWithProxy>> | undefined;
  let client: KMSClient | undefined;
  let project: Project | undefined;
  try {
    step(`Start a local KMS; copy examples/${EXAMPLE} to a project folder and npm install it`);
    kms = await startKmsServerWithProxy();
    check();
    client = outOfBand(kms.server.endpoint);
    project = await Project.create(EXAMPLE, leg, {
      kmsEndpoint: kms.endpoint,
      signal: abort.signal,
      onOutput: verbose ? (text) => process.stdout.write(dim(text)) : undefined,
    });
    check();
    const { versions } = project.tools;
    say(
      `Node.js ${versions.node}, Pulumi CLI ${versions.cli}, @pulumi/pulumi ${project.installedVersion("@pulumi/pulumi")}: ` +
        (leg === LEGS.newest ? "the newest Node.js LTS and Pulumi release" : "the oldest this package supports"),
    );
    say(`pulumi-kms-key from npm pack; language host ${versions.languageHost}; ${dim(project.dir)}`);
    say(`moto on ${kms.server.endpoint}, behind a proxy that applies KMS's key-state rules: ${kms.endpoint}`);
    ok("stack init dev", await project.stackInit("dev"));

    step("pulumi up");
    ok("up", await project.up());
    const created = await project.stackOutputs();
    const keyId = created.keyId as string;
    say(`created KMS key ${bold(keyId)}: ${String(created.keyState)}`);
    say(dim(String(created.arn)));

    step("Someone schedules the key's deletion, behind Pulumi's back");
    const scheduled = await client.send(
      new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: OUT_OF_BAND_WINDOW_DAYS }),
    );
    check();
    say(
      `ScheduleKeyDeletion: the key is ${bold("PendingDeletion")}, to be deleted on ${formatDate(scheduled.DeletionDate)}`,
    );
    say("everything encrypted under it would be lost then; a tool that saw the key as gone would now create a new one");

    step("pulumi preview --refresh --diff");
    const preview = ok("preview --refresh --diff", await project.preview("--refresh", "--diff"));
    say(
      `plan: ${count(preview.stdout, "to update")} to update, ${count(preview.stdout, "to replace")} to replace, ${count(preview.stdout, "to create")} to create`,
    );
    for (const line of updateDiffLines(preview.stdout)) say(`  ${line}`);

    step("pulumi up --refresh");
    kms.proxy.resetCounts();
    ok("up --refresh", await project.up("--refresh"));
    const recovered = await project.stackOutputs();
    const calls = kms.proxy.writes();
    say(`KMS calls made: ${calls.join(", ") || "none"}`);
    const live = (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
    check();
    const sameKey = recovered.keyId === keyId;
    say(
      `recovered: key ${bold(String(recovered.keyId))} is ${bold(live?.KeyState ?? "?")}` +
        `${sameKey ? " (the same key)" : " (A DIFFERENT KEY!)"}, deletion date: ${live?.DeletionDate ? formatDate(live.DeletionDate) : "none"}`,
    );
    if (!sameKey || live?.KeyState !== "Enabled" || live.DeletionDate) throw new Error("the key was not recovered");

    step("pulumi destroy");
    ok("destroy", await project.destroy());
    const after = (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
    say(
      `the key is ${after?.KeyState}, to be deleted on ${formatDate(after?.DeletionDate)} (its deletionWindowInDays)`,
    );
    console.log(
      `\n${bold("Done")} in ${Math.round((Date.now() - started) / 1000)} s; the local KMS and the project folder are removed.`,
    );
    return 0;
  } catch (err) {
    if (interrupted) {
      console.error(`demo interrupted (${interrupted})`);
      return 130;
    }
    console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
    if (transcript && !verbose) console.error(dim(`--- the engine's output ---\n${transcript}`));
    return 1;
  } finally {
    // The keys live only in this moto: stopping it is their destroy, should the demo not get there.
    client?.destroy();
    await project?.cleanup().catch(() => undefined);
    await kms?.stop().catch(() => undefined);
  }
}

/** The number in the summary line "~ N to update" (0 when absent). */
function count(stdout: string, what: string): number {
  return Number(new RegExp(`(\\d+) ${what}`).exec(stdout)?.[1] ?? 0);
}

/** The lines of the key's planned update (the refresh's own section skipped), as `pulumi preview --diff` prints them. */
function updateDiffLines(stdout: string): string[] {
  const lines = stdout.split("\n");
  const start = lines.findIndex((line) => /KmsKey: \(update\)\s*$/.test(line));
  if (start < 0) return ["(no update planned for the key)"];
  const changes: string[] = [];
  for (const line of lines.slice(start + 1)) {
    // The next resource, the outputs that follow, or the summary.
    if (/: \([a-z-]+\)\s*$/.test(line) || line.includes("--outputs:--") || /^\S/.test(line)) break;
    const trimmed = line.trim();
    if (/^[~+-] /.test(trimmed)) changes.push(trimmed.replace(/\s+:/, ":").replace(/:\s+/, ": "));
  }
  return changes;
}

function formatDate(date: Date | undefined): string {
  return date ? `${date.toISOString().slice(0, 16).replace("T", " ")} UTC` : "(unknown)";
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
