// Runs an examples/<name> folder as a user runs their own Pulumi project: copied to a temporary folder, with
// pulumi-kms-key installed there from this repository's `npm pack` tarball and @pulumi/pulumi at the leg's version,
// then real `pulumi` commands in that folder (the CLI, the Node.js language host and the leg's Node.js on PATH).
//
// How to use it (mocha):
//   const kms = await startKmsServerWithProxy();                  // moto behind the key-state proxy
//   const project = await Project.create("drift-recovery", LEGS.newest, { kmsEndpoint: kms.endpoint });
//   await project.stackInit("dev");
//   await project.configSet("environment", "dev");
//   const up = await project.up();                                // { code, stdout, stderr }
//   const outputs = await project.stackOutputs();                 // `pulumi stack output --json`
//   const state = await project.exportState();                    // `pulumi stack export`
//   await project.cleanup();
// Tools are built once and cached outside the repo (tools.ts: scripts/install-pulumi VERSION, install-language-host,
// install-node VERSION); the first run of a leg can take minutes. legTools(leg) reports their versions.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { KMS_ALIAS_TYPE, KMS_KEY_TYPE, KMS_REPLICA_KEY_TYPE } from "../../cli/drift";
import { engineEnvironment } from "./environment";
import { ExportedState, StateResource } from "./state";
import { legTools, LegTools } from "./tools";
import { REPO_ROOT } from "../repo";
import { Leg } from "../versions";

const run = promisify(execFile);

let packed: Promise<string> | undefined;

/**
 * `npm pack` of this repository (its prepack builds the package), once per test process, into a temporary folder.
 * Returns the tarball's path. Two processes packing at once take turns (prepack rewrites dist/).
 */
export function packedTarball(): Promise<string> {
  packed ??= (async () => {
    const destination = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-kms-key-pack-"));
    const lock = path.join(
      os.tmpdir(),
      `pulumi-kms-key-pack-${createHash("sha256").update(REPO_ROOT).digest("hex").slice(0, 12)}.lock`,
    );
    await withLock(lock, () =>
      run("npm", ["pack", "--pack-destination", destination], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 }),
    );
    const tarballs = fs.readdirSync(destination).filter((file) => file.endsWith(".tgz"));
    if (tarballs.length !== 1) throw new Error(`npm pack left ${tarballs.length} tarballs in ${destination}`);
    return path.join(destination, tarballs[0]);
  })();
  packed.catch(() => (packed = undefined));
  return packed;
}

async function withLock<T>(lock: string, action: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // A lock older than the longest pack is left over from a killed run.
      const age = Date.now() - fs.statSync(lock, { throwIfNoEntry: false })!.mtimeMs;
      if (age > 10 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited 10 minutes for ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await action();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** What one CLI command printed and how it exited. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Everything a command printed, stdout then stderr: what a person at the terminal reads. */
export function printed(result: Pick<CommandResult, "stdout" | "stderr">): string {
  return `${result.stdout}\n${result.stderr}`;
}

/** A command's exit code and both of its outputs, labelled: the message of a failed assertion. */
export function described(result: CommandResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

interface ProjectOptions {
  /** The KMS endpoint (AWS_ENDPOINT_URL_KMS) the provider talks to: the proxy in front of moto. */
  kmsEndpoint: string;
  /** More environment for every command (overrides the defaults). */
  env?: Record<string, string>;
  /** Receives what each command prints, as it comes. */
  onOutput?: (text: string) => void;
  /** Aborting it interrupts the running command (SIGINT, as Ctrl-C would). */
  signal?: AbortSignal;
  /** A project folder of the repository to copy instead of examples/<example> (e.g. a test's own program). */
  source?: string;
}

/** One example copied into a temporary folder, installed, with its own file:// backend. */
export class Project {
  private constructor(
    readonly example: string,
    readonly leg: Leg,
    readonly tools: LegTools,
    /** The project folder (holds Pulumi.yaml). */
    readonly dir: string,
    /** Parent of dir: also holds the backend and PULUMI_HOME; removed by cleanup(). */
    private readonly root: string,
    readonly env: Record<string, string>,
    private readonly options: ProjectOptions,
  ) {}

  /** `example` is a folder of examples/, or with a slash one of the repository (bench/project). */
  static async create(example: string, leg: Leg, options: ProjectOptions): Promise<Project> {
    const source =
      options.source ?? path.join(REPO_ROOT, example.includes("/") ? example : path.join("examples", example));
    const name = path.basename(source);
    if (!fs.existsSync(path.join(source, "Pulumi.yaml"))) throw new Error(`${source} has no Pulumi.yaml`);
    const [tools, tarball] = await Promise.all([legTools(leg), packedTarball()]);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `pulumi-kms-key-${leg.name}-${name}-`));
    const dir = path.join(root, name);
    fs.cpSync(source, dir, { recursive: true, filter: (file) => path.basename(file) !== "node_modules" });

    // As a user's: the package from the registry (here its tarball), and the program's own @pulumi/pulumi.
    const manifestPath = path.join(dir, "package.json");
    const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as { dependencies: Record<string, string> };
    manifest.dependencies["pulumi-kms-key"] = `file:${tarball}`;
    manifest.dependencies["@pulumi/pulumi"] = leg.pulumi;
    fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + "\n");

    // Nothing of this process's AWS or Pulumi settings leaks in: only what a pipeline would set.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        (entry): entry is [string, string] => entry[1] !== undefined && !/^(AWS_|PULUMI_)/.test(entry[0]),
      ),
    );
    const env: Record<string, string> = {
      ...inherited,
      ...engineEnvironment(root, options.kmsEndpoint),
      PATH: [...tools.path, process.env.PATH ?? ""].join(path.delimiter),
      ...options.env,
    };
    const project = new Project(example, leg, tools, dir, root, env, options);
    // engine-strict, as some users set it: the engines of the package and of all it brings must admit the leg's Node.js.
    const installed = await project.command("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--engine-strict",
    ]);
    if (installed.code !== 0) {
      throw new Error(
        `npm install in examples/${example} (${leg.name}) failed:\n${installed.stdout}${installed.stderr}`,
      );
    }
    return project;
  }

  /** Runs a program in the project folder with the project's environment (plus `env`). */
  command(file: string, args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, {
        cwd: this.dir,
        env: { ...this.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString("utf8");
        this.options.onOutput?.(chunk.toString("utf8"));
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
        this.options.onOutput?.(chunk.toString("utf8"));
      });
      child.on("error", reject);
      child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    });
  }

  /** `pulumi ARGS` in the project folder, without colors or prompts. */
  pulumi(args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
    return this.command(this.tools.pulumiBinary, [...args, "--non-interactive", "--color", "never"], env);
  }

  /** Like pulumi(), but a non-zero exit is an error carrying what was printed. */
  async pulumiOk(args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
    const result = await this.pulumi(args, env);
    if (result.code !== 0) {
      throw new Error(`pulumi ${args.join(" ")} exited ${result.code}:\n${printed(result)}`);
    }
    return result;
  }

  stackInit(name: string): Promise<CommandResult> {
    return this.pulumiOk(["stack", "init", name]);
  }

  configSet(key: string, value: string, options: { secret?: boolean } = {}): Promise<CommandResult> {
    return this.pulumiOk(["config", "set", key, value, ...(options.secret ? ["--secret"] : [])]);
  }

  preview(...args: string[]): Promise<CommandResult> {
    return this.pulumi(["preview", ...args]);
  }

  up(...args: string[]): Promise<CommandResult> {
    return this.pulumi(["up", "--yes", ...args]);
  }

  refresh(...args: string[]): Promise<CommandResult> {
    return this.pulumi(["refresh", "--yes", ...args]);
  }

  destroy(...args: string[]): Promise<CommandResult> {
    return this.pulumi(["destroy", "--yes", ...args]);
  }

  /** `pulumi stack output --json`. */
  async stackOutputs(): Promise<Record<string, unknown>> {
    return JSON.parse((await this.pulumiOk(["stack", "output", "--json", "--show-secrets"])).stdout) as Record<
      string,
      unknown
    >;
  }

  /** `pulumi stack export`. */
  async exportState(): Promise<ExportedState> {
    return JSON.parse((await this.pulumiOk(["stack", "export"])).stdout) as ExportedState;
  }

  /** The KmsKey resources in the stack's state. */
  async keys(): Promise<StateResource[]> {
    return this.resources(KMS_KEY_TYPE);
  }

  /** The stack's resources of these types, in state order. */
  async resources(...types: string[]): Promise<StateResource[]> {
    return ((await this.exportState()).deployment.resources ?? []).filter((r) => types.includes(r.type));
  }

  /** Every key the stack manages: KmsKeys and KmsReplicaKeys. */
  async allKeys(): Promise<StateResource[]> {
    return this.resources(KMS_KEY_TYPE, KMS_REPLICA_KEY_TYPE);
  }

  /** The KmsAlias resources in the stack's state. */
  async aliases(): Promise<StateResource[]> {
    return this.resources(KMS_ALIAS_TYPE);
  }

  /** The version of a package in the project folder's node_modules, as its package.json there says. */
  installedVersion(name: string): string {
    const manifest = path.join(this.dir, "node_modules", name, "package.json");
    return (JSON.parse(fs.readFileSync(manifest, "utf8")) as { version: string }).version;
  }

  /** Removes the project folder, its backend and PULUMI_HOME (the keys stay in KMS). */
  async cleanup(): Promise<void> {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** The examples' folder names: every folder under examples/ that has a Pulumi.yaml. */
export function exampleNames(): string[] {
  const root = path.join(REPO_ROOT, "examples");
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(root, entry.name, "Pulumi.yaml")))
    .map((entry) => entry.name)
    .sort();
}
