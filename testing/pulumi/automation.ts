// Runs Pulumi programs through the real engine for the e2e tests and the demo.
//
// The CLI comes from scripts/install-pulumi (built from its Go module, cached). Programs run as Automation API
// inline programs: the Node.js language runtime runs in this process and the CLI is called with --client, so no
// pulumi-language-nodejs binary is needed. State lives in a file:// backend in a temporary folder.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { findRepoRoot } from "../repo";
import {
  DestroyResult,
  EngineEvent,
  LocalWorkspace,
  OutputMap,
  PreviewResult,
  PulumiCommand,
  PulumiFn,
  RefreshResult,
  Stack,
  UpResult,
} from "@pulumi/pulumi/automation";

// Inline programs run in this process, hundreds per suite, and @pulumi/pulumi's gRPC clients share grpc-js's global
// subchannel pool. A later engine can listen on a port an earlier one used; its clients then get that port's old
// subchannel, still in TRANSIENT_FAILURE ("14 UNAVAILABLE: No connection established. Last error: null"), which the
// runtime takes for the engine shutting down: the program registers nothing. Each client gets a pool of its own.
(require("@pulumi/pulumi/runtime/settings") as { grpcClientOptions: Record<string, unknown> }).grpcClientOptions[
  "grpc.use_local_subchannel_pool"
] = 1;

/** The repository's root: the folder whose package.json is pulumi-kms-key's. */
export const REPO_ROOT = findRepoRoot(__dirname);

/** Type token of KmsKey resources in state (dynamic resources are registered under pulumi-nodejs). */
export const KMS_KEY_TYPE = "pulumi-nodejs:dynamic/kms:KmsKey";

let cliBinDir: Promise<string> | undefined;

/** The folder holding `pulumi` and the dynamic provider plugin; builds the CLI on first use (several minutes). */
export function ensurePulumiCli(): Promise<string> {
  cliBinDir ??= promisify(execFile)(path.join(REPO_ROOT, "scripts", "install-pulumi"), [], {
    cwd: REPO_ROOT,
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    ({ stdout }) => {
      const lines = stdout.trim().split("\n");
      const bin = lines[lines.length - 1];
      if (!fs.existsSync(path.join(bin, "pulumi")))
        throw new Error(`scripts/install-pulumi printed ${bin}, which holds no pulumi`);
      return bin;
    },
    (err: Error & { stderr?: string }) => {
      cliBinDir = undefined;
      throw new Error(`scripts/install-pulumi failed: ${err.message}\n${err.stderr ?? ""}`);
    },
  );
  return cliBinDir;
}

export interface HarnessOptions {
  /** The KMS endpoint the provider talks to (AWS_ENDPOINT_URL_KMS). */
  kmsEndpoint: string;
  /** More environment for the CLI and the provider process (overrides the defaults). */
  env?: Record<string, string>;
  /** Aborting it interrupts the running operation of every stack (the CLI gets SIGINT). */
  signal?: AbortSignal;
  /** Receives the engine's output as it comes (for showing it live). */
  onOutput?: (text: string) => void;
}

/** Fake credentials for a local KMS; tests that care about credentials pass their own. */
export const FAKE_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: "testing",
  AWS_SECRET_ACCESS_KEY: "testing",
} as const;

/**
 * One temporary file backend and one scratch folder (inside the repo, so the provider process resolves
 * @pulumi/pulumi and pulumi-kms-key from its node_modules), shared by every stack made with it.
 */
export class PulumiHarness {
  private readonly stacks: TestStack[] = [];

  private constructor(
    readonly binDir: string,
    readonly pulumiCommand: PulumiCommand,
    readonly backendDir: string,
    readonly workRoot: string,
    readonly env: Record<string, string>,
    private readonly options: HarnessOptions,
  ) {}

  static async create(options: HarnessOptions): Promise<PulumiHarness> {
    const binDir = await ensurePulumiCli();
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(binDir), skipVersionCheck: true });
    const backendDir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-kms-key-backend-"));
    const workRoot = fs.mkdtempSync(path.join(REPO_ROOT, ".pulumi-e2e-"));
    const env: Record<string, string> = {
      PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_HOME: path.join(backendDir, ".pulumi-home"),
      PULUMI_BACKEND_URL: `file://${backendDir}`,
      PULUMI_CONFIG_PASSPHRASE: "",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      // Only the credentials given here: no profile or shared file may stand in for them.
      AWS_SHARED_CREDENTIALS_FILE: path.join(backendDir, "no-aws-credentials"),
      AWS_CONFIG_FILE: path.join(backendDir, "no-aws-config"),
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_REGION: "us-east-1",
      ...FAKE_CREDENTIALS,
      AWS_ENDPOINT_URL_KMS: options.kmsEndpoint,
      // moto's server answers STS too (through the proxy, in the account of the access key): the provider asks it
      // for the run's account when a key can't be seen.
      AWS_ENDPOINT_URL_STS: options.kmsEndpoint,
      // Retries are for real networks; a local KMS that fails should fail the test quickly.
      AWS_MAX_ATTEMPTS: "2",
      ...options.env,
    };
    return new PulumiHarness(binDir, pulumiCommand, backendDir, workRoot, env, options);
  }

  /** A new stack (its own project folder) running `program` as an inline program. */
  async stack(
    name: string,
    program: PulumiFn,
    options: { env?: Record<string, string>; projectName?: string } = {},
  ): Promise<TestStack> {
    const projectName = options.projectName ?? "kms-key-e2e";
    const workDir = path.join(this.workRoot, `${projectName}-${name}`);
    fs.mkdirSync(workDir, { recursive: true });
    const stack = await LocalWorkspace.createOrSelectStack(
      { stackName: name, projectName, program },
      {
        workDir,
        pulumiCommand: this.pulumiCommand,
        envVars: { ...this.env, ...options.env },
        projectSettings: { name: projectName, runtime: "nodejs", backend: { url: this.env.PULUMI_BACKEND_URL } },
      },
    );
    const testStack = new TestStack(stack, this.options.signal, this.options.onOutput);
    this.stacks.push(testStack);
    return testStack;
  }

  /** Removes every stack's resources (best effort), the backend and the scratch folders. */
  async cleanup(options: { destroy?: boolean } = {}): Promise<void> {
    if (options.destroy ?? true) {
      for (const s of this.stacks) {
        await s.stack.destroy().catch(() => undefined);
      }
    }
    this.stacks.length = 0;
    fs.rmSync(this.workRoot, { recursive: true, force: true });
    fs.rmSync(this.backendDir, { recursive: true, force: true });
  }
}

/** Every line the engine printed, for assertions on what a person would see. */
export interface Transcript {
  stdout: string;
  stderr: string;
}

/** A stack plus the calls the tests make, each keeping what the engine printed. */
export class TestStack {
  /** Everything the engine printed during this stack's operations, in order. */
  readonly transcript: Transcript = { stdout: "", stderr: "" };
  /** The engine events of the last operation. */
  events: EngineEvent[] = [];

  constructor(
    readonly stack: Stack,
    private readonly signal?: AbortSignal,
    private readonly echo?: (text: string) => void,
  ) {}

  get name(): string {
    return this.stack.name;
  }

  async up(options: { refresh?: boolean; program?: PulumiFn; diff?: boolean } = {}): Promise<UpResult> {
    return this.stack.up({ ...options, ...this.streams() });
  }

  async preview(options: { refresh?: boolean; program?: PulumiFn; diff?: boolean } = {}): Promise<PreviewResult> {
    return this.stack.preview({ ...options, ...this.streams() });
  }

  async refresh(): Promise<RefreshResult> {
    return this.stack.refresh({ ...this.streams() });
  }

  async destroy(): Promise<DestroyResult> {
    return this.stack.destroy({ ...this.streams() });
  }

  /**
   * Puts an existing resource into the stack's state, as `pulumi stack export`, an edit and `pulumi stack import`
   * would: a top-level custom resource with the given ID and properties, under the default provider of its package.
   * The next refresh reads it. (`pulumi import` itself needs the pulumi-language-nodejs plugin, which the inline
   * programs here do without; and the `import` resource option can't import dynamic resources.)
   */
  async importIntoState(resource: { type: string; name: string; id: string; properties: Record<string, unknown> }) {
    const exported = await this.exportState();
    const project = (await this.stack.workspace.projectSettings()).name;
    const prefix = `urn:pulumi:${this.name}::${project}::`;
    const stackUrn = `${prefix}pulumi:pulumi:Stack::${project}-${this.name}`;
    const pkg = resource.type.split(":")[0];
    const providerUrn = `${prefix}pulumi:providers:${pkg}::default`;
    const resources = [...(exported.deployment.resources ?? [])] as (StateResource & Record<string, unknown>)[];
    if (!resources.some((r) => r.urn === stackUrn))
      resources.push({ urn: stackUrn, custom: false, type: "pulumi:pulumi:Stack" });
    let provider = resources.find((r) => r.urn === providerUrn);
    if (!provider) {
      provider = {
        urn: providerUrn,
        custom: true,
        id: randomUUID(),
        type: `pulumi:providers:${pkg}`,
        inputs: {},
        outputs: {},
      };
      resources.push(provider);
    }
    resources.push({
      urn: `${prefix}${resource.type}::${resource.name}`,
      custom: true,
      id: resource.id,
      type: resource.type,
      inputs: resource.properties,
      outputs: resource.properties,
      parent: stackUrn,
      provider: `${providerUrn}::${provider.id}`,
    });
    await this.stack.importStack({ version: exported.version, deployment: { ...exported.deployment, resources } });
  }

  async outputs(): Promise<Record<string, unknown>> {
    return plainOutputs(await this.stack.outputs());
  }

  /** The stack's state as `pulumi stack export` writes it. */
  async exportState(): Promise<{
    version: number;
    deployment: { resources?: StateResource[] } & Record<string, unknown>;
  }> {
    return (await this.stack.exportStack()) as never;
  }

  /** The state of each KmsKey resource in the stack. */
  async keys(): Promise<StateResource[]> {
    const state = await this.exportState();
    return (state.deployment.resources ?? []).filter((r) => r.type === KMS_KEY_TYPE);
  }

  /** What the last operation did (or planned) to each resource of a type ("create", "update", "refresh", ...). */
  steps(type = KMS_KEY_TYPE): Step[] {
    const steps: Step[] = [];
    for (const event of this.events) {
      const metadata = event.resourcePreEvent?.metadata;
      if (metadata && metadata.type === type) {
        steps.push({
          op: metadata.op,
          urn: metadata.urn,
          oldInputs: metadata.old?.inputs,
          newInputs: metadata.new?.inputs,
        });
      }
    }
    return steps;
  }

  private streams() {
    this.events = [];
    return {
      signal: this.signal,
      onEvent: (event: EngineEvent) => {
        this.events.push(event);
      },
      onOutput: (out: string) => {
        this.transcript.stdout += out;
        this.echo?.(out);
      },
      onError: (err: string) => {
        this.transcript.stderr += err;
        this.echo?.(err);
      },
    };
  }
}

/** One step of an operation, from the engine's events. */
export interface Step {
  op: string;
  urn: string;
  oldInputs?: Record<string, unknown>;
  newInputs?: Record<string, unknown>;
}

/** One resource in an exported state. */
export interface StateResource {
  urn: string;
  type: string;
  id?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

export function plainOutputs(outputs: OutputMap): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outputs).map(([name, output]) => [name, output.value]));
}
