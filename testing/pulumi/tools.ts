// The Pulumi CLI, the Node.js language host and Node.js itself, from scripts/install-* (built once, cached outside the
// repository; the first run of a version can take minutes).
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "../repo";
import { Leg, VERSIONS } from "../versions";

const run = promisify(execFile);

/** Runs scripts/NAME and returns the last line it printed (the folder it installed into). */
async function script(name: string, args: string[] = []): Promise<string> {
  try {
    const { stdout } = await run(path.join(REPO_ROOT, "scripts", name), args, {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
    const lines = stdout.trim().split("\n");
    return lines[lines.length - 1];
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`scripts/${name} ${args.join(" ")} failed: ${e.message}\n${e.stderr ?? ""}`);
  }
}

let lockedCli: Promise<string> | undefined;

/** The folder holding `pulumi` at the version package-lock.json pins for @pulumi/pulumi, and the dynamic provider plugin. */
export function pulumiCli(): Promise<string> {
  lockedCli ??= script("install-pulumi").then((bin) => {
    if (!fs.existsSync(path.join(bin, "pulumi")))
      throw new Error(`scripts/install-pulumi printed ${bin}, which holds no pulumi`);
    return bin;
  });
  lockedCli.catch(() => (lockedCli = undefined));
  return lockedCli;
}

export interface LegTools {
  /** Folders to put first on PATH, in order: the CLI, the language host, Node.js (maybe the system's bin folder). */
  path: string[];
  pulumiBinary: string;
  /** What the binaries themselves report. */
  versions: { node: string; cli: string; languageHost: string };
}

const toolsByLeg = new Map<string, Promise<LegTools>>();

/** Builds (first time) or finds the leg's Node.js, CLI and language host. */
export function legTools(leg: Leg): Promise<LegTools> {
  let tools = toolsByLeg.get(leg.name);
  if (!tools) {
    tools = (async () => {
      const nodeBin = await script("install-node", [leg.node]);
      const cliBin = await script("install-pulumi", [leg.cli]);
      const hostBin = await script("install-language-host", [cliBin]);
      const toolPath = [cliBin, hostBin, nodeBin];
      const env = { ...process.env, PATH: [...toolPath, process.env.PATH ?? ""].join(path.delimiter) };
      const node = (await run("node", ["--version"], { env })).stdout.trim();
      const cli = (await run(path.join(cliBin, "pulumi"), ["version"], { env })).stdout.trim();
      return {
        path: toolPath,
        pulumiBinary: path.join(cliBin, "pulumi"),
        versions: { node, cli, languageHost: `v${VERSIONS.languageHost}` },
      };
    })();
    toolsByLeg.set(leg.name, tools);
    tools.catch(() => toolsByLeg.delete(leg.name));
  }
  return tools;
}
