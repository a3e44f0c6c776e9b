// Runs Pulumi programs through the real engine as Automation API inline programs, for the e2e and fault tests.
//
// The CLI comes from scripts/install-pulumi (built from its Go module, cached). Programs run as Automation API
// inline programs: the Node.js language runtime runs in this process and the CLI is called with --client, so no
// pulumi-language-nodejs binary is needed. State lives in a file:// backend in a temporary folder.
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { KMS_KEY_TYPE } from "../../cli/drift";
import { engineEnvironment } from "./environment";
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
import { ExportedState, StateResource } from "./state";
import { pulumiCli } from "./tools";
import { REPO_ROOT } from "../repo";

// Inline programs run in this process, hundreds per suite, and @pulumi/pulumi's gRPC clients share grpc-js's global
// subchannel pool. A later engine can listen on a port an earlier one used; its clients then get that port's old
// subchannel, still in TRANSIENT_FAILURE ("14 UNAVAILABLE: No connection established. Last error: null"), which the
// runtime takes for the engine shutting down: the program registers nothing. Each client gets a pool of its own.
(require("@pulumi/pulumi/runtime/settings") as { grpcClientOptions: Record<string, unknown> }).grpcClientOptions[
  "grpc.use_local_subchannel_pool"
] = 1;

interface HarnessOptions {
  /** The KMS endpoint the provider talks to (AWS_ENDPOINT_URL_KMS). */
  kmsEndpoint: string;
  /** More environment for the CLI and the provider process (overrides the defaults). */
  env?: Record<string, string>;
  /** Aborting it interrupts the running operation of every stack (the CLI gets SIGINT). */
  signal?: AbortSignal;
  /** Receives the engine's output as it comes (for showing it live). */
  onOutput?: (text: string) => void;
}

/**
 * One temporary file backend and one scratch folder (inside the repo, so the provider process resolves
 * @pulumi/pulumi and pulumi-kms-key from its node_modules), shared by every stack made with it.
 */
export class PulumiHarness {
  private readonly stacks: TestStack[] = [];

  private constructor(
    readonly binDir: string,
    readonly pulumiCommand: PulumiCommand,
    /** The run's temporary folder: the file backend (backendDir) and PULUMI_HOME. */
    readonly runDir: string,
    readonly workRoot: string,
    readonly env: Record<string, string>,
    private readonly options: HarnessOptions,
  ) {}

  static async create(options: HarnessOptions): Promise<PulumiHarness> {
    const binDir = await pulumiCli();
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(binDir), skipVersionCheck: true });
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-kms-key-backend-"));
    const workRoot = fs.mkdtempSync(path.join(REPO_ROOT, ".pulumi-e2e-"));
    const env: Record<string, string> = {
      ...engineEnvironment(runDir, options.kmsEndpoint),
      PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      ...options.env,
    };
    return new PulumiHarness(binDir, pulumiCommand, runDir, workRoot, env, options);
  }

  /** The file backend's folder. */
  get backendDir(): string {
    return fileURLToPath(this.env.PULUMI_BACKEND_URL);
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
    fs.rmSync(this.runDir, { recursive: true, force: true });
  }
}

/** Every line the engine printed, for assertions on what a person would see. */
interface Transcript {
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

  /** Changes the environment of the stack's next runs, as a pipeline configured differently from a laptop would. */
  setEnv(vars: Record<string, string>): void {
    Object.assign((this.stack.workspace as LocalWorkspace).envVars, vars);
  }

  /** `pulumi up --skip-preview`; `runProgram` with `refresh` reads each resource as the program declares it. */
  async up(
    options: { refresh?: boolean; runProgram?: boolean; program?: PulumiFn; diff?: boolean } = {},
  ): Promise<UpResult> {
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
  async exportState(): Promise<ExportedState> {
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
interface Step {
  op: string;
  urn: string;
  oldInputs?: Record<string, unknown>;
  newInputs?: Record<string, unknown>;
}

function plainOutputs(outputs: OutputMap): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outputs).map(([name, output]) => [name, output.value]));
}
