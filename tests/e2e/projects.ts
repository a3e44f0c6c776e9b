// Every examples/<name> folder run as a user runs their project, in one leg of versions (projects-<leg>.test.ts):
// stack init, config set, preview, up, a deletion of every key (replicas first, then primaries) scheduled behind
// Pulumi's back, preview --refresh --diff (the visible diff), up --refresh (same keys, Enabled, aliases in place),
// up --expect-no-changes, destroy (keys pending deletion with the declared window, aliases gone). The real CLI and
// Node.js language host run in the copied folder; KMS is moto behind the proxy.
import * as fs from "node:fs";
import * as path from "node:path";
import {
  DescribeKeyCommand,
  KeyMetadata,
  KMSClient,
  ListAliasesCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import { KMS_REPLICA_KEY_TYPE } from "../../cli/drift";
import { expect } from "chai";
import { MOTO_DEFAULT_ACCOUNT } from "../../testing/kms/accounts";
import { outOfBand as straightToMoto } from "../../testing/kms/out-of-band";
import { findFreePort, startKmsServerWithProxy } from "../../testing/kms/server";
import { CommandResult, exampleNames, packedTarball, printed, Project } from "../../testing/pulumi/project";
import { StateResource } from "../../testing/pulumi/state";
import { legTools } from "../../testing/pulumi/tools";
import { Leg } from "../../testing/versions";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/** The window of the out-of-band ScheduleKeyDeletion (not the declared one, which destroy must use). */
const OUT_OF_BAND_WINDOW_DAYS = 7;
const DAY_MS = 24 * 60 * 60_000;

interface LegSuite {
  /** The examples to run; default: all of them. */
  examples?: string[];
  /** Only install, up, the recovery by up --refresh and destroy, no errors test: for a leg that differs in Node.js. */
  quick?: boolean;
}

/** Registers the suite of one leg. */
export function describeProjects(leg: Leg, suite: LegSuite = {}): void {
  describe(`e2e: examples as project folders (${leg.name} leg)`, function () {
    this.timeout(10 * 60_000);
    let kms: Awaited<ReturnType<typeof startKmsServerWithProxy>>;
    const clients: Record<string, KMSClient> = {};
    let started = 0;
    /** Straight to moto, in a Region: someone acting behind Pulumi's back. */
    const outOfBand = (region = "us-east-1"): KMSClient =>
      (clients[region] ??= straightToMoto(kms.server.endpoint, region));

    before(async function () {
      // The first run of a leg builds its CLI and language host (minutes); later runs find them cached.
      this.timeout(30 * 60_000);
      started = Date.now();
      [kms] = await Promise.all([startKmsServerWithProxy(), legTools(leg), packedTarball()]);
    });

    after(async function () {
      for (const client of Object.values(clients)) client.destroy();
      await kms?.stop();
      if (started) {
        const { versions } = await legTools(leg);
        console.log(
          `      leg ${leg.name}: Node.js ${versions.node}, @pulumi/pulumi ${leg.pulumi}, CLI ${versions.cli}, ` +
            `language host ${versions.languageHost}: ${((Date.now() - started) / 1000).toFixed(0)} s wall time`,
        );
      }
    });

    /** A key as KMS has it, by its ARN, in its own Region. */
    const describeKey = async (key: StateResource): Promise<KeyMetadata> =>
      (await outOfBand(regionOf(key)).send(new DescribeKeyCommand({ KeyId: arnOf(key) }))).KeyMetadata!;
    /** Each alias name in a Region, with the key ID it points at. */
    const aliasesIn = async (region: string): Promise<Record<string, string | undefined>> => {
      const out = await outOfBand(region).send(new ListAliasesCommand({}));
      return Object.fromEntries((out.Aliases ?? []).map((alias) => [alias.AliasName!, alias.TargetKeyId]));
    };
    /** Every alias of the stack is in place in its Region, pointing at the key the program names. */
    const expectAliasesInPlace = async (project: Project, when: string): Promise<void> => {
      for (const alias of await project.aliases()) {
        const region = String(alias.outputs?.arn).split(":")[3];
        const live = await aliasesIn(region);
        const target = String(alias.outputs?.targetKeyArn).split("/").pop();
        expect(live[String(alias.outputs?.name)], `${when}: ${alias.urn} in ${region}`).to.equal(target);
      }
    };

    const steps = suite.quick
      ? "up, recovery by up --refresh, destroy"
      : "preview, up, recovery by up --refresh, no-op up, destroy";
    for (const name of suite.examples ?? exampleNames()) {
      it(`examples/${name}: ${steps}`, async () => {
        const project = await Project.create(name, leg, { kmsEndpoint: kms.endpoint });
        try {
          await scenario(project);
        } finally {
          await project.cleanup();
        }
      });
    }

    if (suite.quick) return;

    it("errors as users see them: bad input, KMS unreachable, access denied; each once, in one line, no trace", async () => {
      const project = await Project.create("basic", leg, { kmsEndpoint: kms.endpoint });
      try {
        await project.stackInit("dev");
        // Bad input: refused before any call, naming the property and what is allowed.
        await project.configSet("kmsEndpoint", "http://kms.example.com");
        const refused = await project.preview();
        expectOneLine(refused, /endpoint.*http:\/\/kms\.example\.com/);

        await project.pulumiOk(["config", "rm", "kmsEndpoint"]);
        const up = await project.up("--skip-preview");
        expect(up.code, printed(up)).to.equal(0);

        // Nothing listens on the endpoint: as a wrong AWS_ENDPOINT_URL_KMS in a pipeline.
        const closedPort = await findFreePort();
        const unreachable = await project.pulumi(["refresh", "--yes", "--skip-preview"], {
          AWS_ENDPOINT_URL_KMS: `http://127.0.0.1:${closedPort}`,
        });
        expectOneLine(
          unreachable,
          /DescribeKey on KMS key \S+ failed: KMS could not be reached \(connect ECONNREFUSED/,
        );

        kms.proxy.addFault({ operation: "DescribeKey", kind: "accessDenied" });
        try {
          const denied = await project.refresh("--skip-preview");
          expectOneLine(denied, /access denied: the AWS identity in use lacks the permission kms:DescribeKey/);
        } finally {
          kms.proxy.clearFaults();
        }
      } finally {
        await project.cleanup();
      }
    });

    async function scenario(project: Project): Promise<void> {
      const { versions } = project.tools;
      expect(versions.node, "the leg's Node.js").to.equal(`v${leg.node}`);
      expect(versions.cli, "the leg's CLI").to.equal(`v${leg.cli}`);
      // The program's own @pulumi/pulumi is the leg's, and pulumi-kms-key brings no second copy of it.
      expect(project.installedVersion("@pulumi/pulumi"), "the program's @pulumi/pulumi").to.equal(leg.pulumi);
      expect(
        fs.existsSync(path.join(project.dir, "node_modules", "pulumi-kms-key", "node_modules", "@pulumi")),
        "a nested @pulumi/pulumi under pulumi-kms-key",
      ).to.equal(false);
      // Installed from the tarball, not linked into the repository.
      expect(fs.lstatSync(path.join(project.dir, "node_modules", "pulumi-kms-key")).isSymbolicLink()).to.equal(false);

      const full = !suite.quick;
      if (full) {
        const typecheck = await project.command(path.join("node_modules", ".bin", "tsc"), ["--noEmit", "-p", "."]);
        expect(typecheck.code, `tsc --noEmit:\n${typecheck.stdout}${typecheck.stderr}`).to.equal(0);
      }

      await project.stackInit("dev");
      await project.configSet("environment", "dev");
      // moto's account: examples/basic manages its key policy with it.
      await project.configSet("accountId", MOTO_DEFAULT_ACCOUNT);

      const preview = full ? await project.preview() : undefined;
      if (preview) expect(preview.code, printed(preview)).to.equal(0);

      const up = await project.up();
      expect(up.code, printed(up)).to.equal(0);
      // The AWS SDK warns on Node.js 20 about its releases after January 2027; the provider turns that off.
      expect(printed(up), "the AWS SDK's Node.js warning").not.to.contain("NodeVersionSupportWarning");
      const keys = await project.allKeys();
      const aliases = await project.aliases();
      expect(keys.length, "KmsKeys in the example").to.be.greaterThan(0);
      if (preview) {
        const toCreate = Number(/\+ (\d+) to create/.exec(preview.stdout)?.[1]);
        expect(toCreate, "preview: the stack, its keys and aliases to create").to.equal(
          keys.length + aliases.length + 1,
        );
      }
      for (const key of keys) {
        expect(key.outputs?.keyState, key.urn).to.equal("Enabled");
        expect((await describeKey(key)).KeyState, key.urn).to.equal("Enabled");
      }
      await expectAliasesInPlace(project, "after up");
      const outputs = await project.stackOutputs();
      expect(Object.keys(outputs), "the example's outputs").to.have.length.greaterThan(0);
      expect(JSON.stringify(outputs), "outputs name the keys").to.contain(keys[0].id!);

      if (full) {
        const settled = await project.preview("--refresh", "--expect-no-changes");
        expect(settled.code, `a refreshed preview right after up plans nothing:\n${printed(settled)}`).to.equal(0);
      }

      // Behind Pulumi's back: every key is scheduled for deletion, replicas first; a primary whose replica still
      // exists then waits in PendingReplicaDeletion.
      const replicaFirst = [...keys].sort((a, b) => Number(isReplica(b)) - Number(isReplica(a)));
      for (const key of replicaFirst) {
        await outOfBand(regionOf(key)).send(
          new ScheduleKeyDeletionCommand({ KeyId: key.id!, PendingWindowInDays: OUT_OF_BAND_WINDOW_DAYS }),
        );
        expect((await describeKey(key)).KeyState).to.be.oneOf(["PendingDeletion", "PendingReplicaDeletion"]);
      }

      if (full) {
        const drift = await project.preview("--refresh", "--diff");
        expect(drift.code, printed(drift)).to.equal(0);
        // The visible diff of each key: `~ keyState: "PendingDeletion" => "Enabled"` (the CLI aligns the colons).
        const recoveries =
          drift.stdout.match(/^\s*~ keyState\s*: "(PendingDeletion|PendingReplicaDeletion)" => "Enabled"$/gm) ?? [];
        expect(recoveries.length, printed(drift)).to.equal(keys.length);
        expect(drift.stdout, "no key is replaced").not.to.match(/\+-|to replace|to create/);
      }

      const recovered = await project.up("--refresh");
      expect(recovered.code, printed(recovered)).to.equal(0);
      const after = await project.allKeys();
      expect(arns(after), "the same keys, none new").to.deep.equal(arns(keys));
      for (const key of after) {
        expect(key.outputs?.keyState, key.urn).to.equal("Enabled");
        const live = await describeKey(key);
        expect(live.KeyState, key.urn).to.equal("Enabled");
        expect(live.DeletionDate, key.urn).to.equal(undefined);
      }
      await expectAliasesInPlace(project, "after up --refresh");

      if (full) {
        const noop = await project.up("--expect-no-changes");
        expect(noop.code, `up after the recovery changes nothing:\n${printed(noop)}`).to.equal(0);
      }

      const destroyedAt = Date.now();
      const destroyed = await project.destroy();
      expect(destroyed.code, printed(destroyed)).to.equal(0);
      for (const key of after) {
        const live = await describeKey(key);
        const window = key.inputs?.deletionWindowInDays as number;
        expect(window, `${key.urn}: declared deletionWindowInDays`).to.be.a("number");
        if (live.KeyState === "PendingReplicaDeletion") {
          // A primary waits for its replicas to be deleted: KMS keeps its window, not yet a date.
          expect(live.PendingDeletionWindowInDays, `${key.urn}: declared ${window}`).to.equal(window);
          continue;
        }
        expect(live.KeyState, key.urn).to.equal("PendingDeletion");
        const days = (live.DeletionDate!.getTime() - destroyedAt) / DAY_MS;
        expect(days, `${key.urn}: days until deletion, declared ${window}`).to.be.closeTo(window, 0.05);
      }
      for (const alias of aliases) {
        const region = String(alias.outputs?.arn).split(":")[3];
        expect(await aliasesIn(region), `${alias.urn} after destroy`).not.to.have.property(String(alias.outputs?.name));
      }
      expect(await project.allKeys(), "keys left in the stack").to.deep.equal([]);
    }
  });
}

function arns(keys: StateResource[]): string[] {
  return keys.map(arnOf).sort();
}

function arnOf(key: StateResource): string {
  return String(key.outputs?.arn);
}

/** A key's Region, from its ARN (arn:aws:kms:REGION:ACCOUNT:key/ID). */
function regionOf(key: StateResource): string {
  return arnOf(key).split(":")[3];
}

function isReplica(key: StateResource): boolean {
  return key.type === KMS_REPLICA_KEY_TYPE;
}

/**
 * The command failed, and what it printed under "Diagnostics:" names the error once, in a line matching `message`;
 * no stack trace and no file of this package or of the provider host appear anywhere in its output.
 */
function expectOneLine(result: CommandResult, message: RegExp): void {
  const all = printed(result);
  expect(result.code, all).not.to.equal(0);
  expect(all, "a stack trace").not.to.match(/^\s+at \S/m);
  expect(all, "a file of the package or of the provider host").not.to.match(/pulumi-kms-key[\\/]dist|dynamic-provider/);
  const diagnostics = /^Diagnostics:\n([\s\S]*?)(?:^Outputs:|^Resources:|$(?![\s\S]))/m.exec(result.stdout)?.[1] ?? "";
  const lines = diagnostics.split("\n").filter((line) => message.test(line));
  expect(lines, `lines under Diagnostics matching ${message}:\n${all}`).to.have.length(1);
}
