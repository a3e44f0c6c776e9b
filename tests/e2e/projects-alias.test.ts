// KmsAlias as a user runs it: tests/projects/alias-rules in a project folder with the packed package, the real CLI
// and language host (newest leg), KMS being moto behind the key-state proxy. One stack, step by step: up makes a key
// and its alias; the alias repointed behind Pulumi's back shows in preview --refresh and up --refresh points it back;
// deleted, up --refresh makes it again; then nothing to do; an alias of a live key is refused, one left on a key
// pending deletion is taken over, and one only read (KmsAlias.get) is left as it is; destroy deletes the aliases.
import * as path from "node:path";
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  KMSClient,
  paginateListAliases,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
} from "@aws-sdk/client-kms";
import { expect } from "chai";
import { outOfBand } from "../../testing/kms/out-of-band";
import { startKmsServerWithProxy } from "../../testing/kms/server";
import { CommandResult, packedTarball, printed, Project } from "../../testing/pulumi/project";
import { legTools } from "../../testing/pulumi/tools";
import { REPO_ROOT } from "../../testing/repo";
import { LEGS } from "../../testing/versions";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const LEG = LEGS.newest;
const SOURCE = path.join(REPO_ROOT, "tests", "projects", "alias-rules");
const ALIAS_TYPE = "pulumi-nodejs:dynamic/kms:KmsAlias";

describe(`e2e: KmsAlias in a project folder (${LEG.name} leg)`, function () {
  this.timeout(5 * 60_000);
  let kms: Awaited<ReturnType<typeof startKmsServerWithProxy>>;
  let project: Project;
  /** Straight to moto: someone acting behind Pulumi's back (not counted by the proxy). */
  let moto: KMSClient;
  let keyId: string;
  let started = 0;

  before(async function () {
    this.timeout(30 * 60_000);
    [kms] = await Promise.all([startKmsServerWithProxy(), legTools(LEG), packedTarball()]);
    moto = outOfBand(kms.server.endpoint);
    started = Date.now();
    project = await Project.create("alias-rules", LEG, { kmsEndpoint: kms.endpoint, source: SOURCE });
    await project.stackInit("dev");
  });

  after(async () => {
    if (started) console.log(`      ${((Date.now() - started) / 1000).toFixed(0)} s from npm install to destroy`);
    moto?.destroy();
    await project?.cleanup();
    await kms?.stop();
  });

  const writes = () => kms.proxy.writes();

  /** Where each alias points, as KMS has it. */
  async function aliasTargets(): Promise<Record<string, string | undefined>> {
    const targets: Record<string, string | undefined> = {};
    for await (const page of paginateListAliases({ client: moto, pageSize: 100 }, {})) {
      for (const alias of page.Aliases ?? []) targets[alias.AliasName!] = alias.TargetKeyId;
    }
    return targets;
  }

  async function otherKey(description: string): Promise<string> {
    return (await moto.send(new CreateKeyCommand({ Description: description }))).KeyMetadata!.KeyId!;
  }

  async function upOk(...args: string[]): Promise<CommandResult> {
    const up = await project.up(...args);
    expect(up.code, printed(up)).to.equal(0);
    return up;
  }

  it("up makes the key and alias/orders pointing at it; the state names the alias provider by one require()", async () => {
    kms.proxy.resetCounts();
    await upOk();
    const outputs = await project.stackOutputs();
    keyId = outputs.keyId as string;
    expect(await aliasTargets()).to.include({ "alias/orders": keyId });
    expect(outputs.aliases).to.deep.equal({
      orders: {
        name: "alias/orders",
        arn: "arn:aws:kms:us-east-1:123456789012:alias/orders",
        targetKeyId: keyId,
        targetKeyArn: outputs.keyArn,
      },
    });
    expect(writes().filter((op) => op.endsWith("Alias"))).to.deep.equal(["CreateAlias"]);
    const [alias] = (await project.exportState()).deployment.resources!.filter((r) => r.type === ALIAS_TYPE);
    expect(String(alias.outputs?.__provider)).to.match(
      /require\("pulumi-kms-key\/(provider\/alias|dist\/provider\/alias\/index\.js)"\)/,
    );
  });

  it("repointed behind Pulumi's back: preview --refresh shows the update of targetKeyId, up --refresh points it back with one UpdateAlias", async () => {
    const other = await otherKey("someone else's");
    await moto.send(new UpdateAliasCommand({ AliasName: "alias/orders", TargetKeyId: other }));
    kms.proxy.resetCounts();
    const preview = await project.preview("--refresh", "--diff");
    expect(preview.code, printed(preview)).to.equal(0);
    expect(preview.stdout).to.match(new RegExp(`~ targetKeyId\\s*: "${other}" => "${keyId}"`));
    expect(preview.stdout).to.match(/~ 1 to update/);
    expect(writes(), "a preview changes nothing").to.deep.equal([]);

    // Without its preview (which refreshes too, in a provider process of its own): one refresh, one listing.
    kms.proxy.resetCounts();
    await upOk("--refresh", "--skip-preview");
    expect(writes()).to.deep.equal(["UpdateAlias"]);
    expect(kms.proxy.calls("ListAliases"), "one listing for the refresh").to.equal(1);
    expect(await aliasTargets()).to.include({ "alias/orders": keyId });
  });

  it("deleted behind Pulumi's back: up --refresh makes it again with one CreateAlias", async () => {
    await moto.send(new DeleteAliasCommand({ AliasName: "alias/orders" }));
    kms.proxy.resetCounts();
    await upOk("--refresh");
    expect(writes()).to.deep.equal(["CreateAlias"]);
    expect(await aliasTargets()).to.include({ "alias/orders": keyId });
  });

  it("up --expect-no-changes: nothing to do, nothing written", async () => {
    kms.proxy.resetCounts();
    await upOk("--expect-no-changes");
    expect(writes()).to.deep.equal([]);
  });

  it("an alias of a live key is refused, naming the key; one left on a key pending deletion is taken over, saying so", async () => {
    const live = await otherKey("in use");
    await moto.send(new CreateAliasCommand({ AliasName: "alias/in-use", TargetKeyId: live }));
    await project.configSet("second", "alias/in-use");
    kms.proxy.resetCounts();
    const refused = await project.up();
    expect(refused.code).to.not.equal(0);
    expect(printed(refused)).to.include(`points at KMS key arn:aws:kms:us-east-1:123456789012:key/${live} (Enabled)`);
    expect(printed(refused)).to.include('{ import: "alias/in-use" }');
    expect(writes()).to.deep.equal(["CreateAlias"]);
    expect(await aliasTargets()).to.include({ "alias/in-use": live });

    const leaving = await otherKey("on its way out");
    await moto.send(new CreateAliasCommand({ AliasName: "alias/left-behind", TargetKeyId: leaving }));
    await moto.send(new ScheduleKeyDeletionCommand({ KeyId: leaving, PendingWindowInDays: 7 }));
    await project.configSet("second", "alias/left-behind");
    // The alias in use is only read (KmsAlias.get): nothing of it changes, now or on destroy.
    await project.configSet("read", "alias/in-use");
    kms.proxy.resetCounts();
    const up = await upOk();
    expect(printed(up)).to.include("KmsAlias alias/left-behind already existed").and.include("took it over");
    expect(writes()).to.deep.equal(["CreateAlias", "UpdateAlias"]);
    expect(await aliasTargets()).to.include({ "alias/left-behind": keyId, "alias/in-use": live });
    const outputs = (await project.stackOutputs()).aliases as Record<string, unknown>;
    expect(outputs.second).to.include({ targetKeyArn: `arn:aws:kms:us-east-1:123456789012:key/${keyId}` });
    expect(outputs.read).to.include({ name: "alias/in-use", targetKeyId: live });
  });

  it("destroy deletes both aliases and schedules the key; the alias it only read stays", async () => {
    kms.proxy.resetCounts();
    const destroy = await project.destroy();
    expect(destroy.code, printed(destroy)).to.equal(0);
    expect(writes().filter((op) => op === "DeleteAlias")).to.have.length(2);
    const targets = await aliasTargets();
    expect(targets).to.not.have.property("alias/orders");
    expect(targets).to.not.have.property("alias/left-behind");
    expect(targets).to.have.property("alias/in-use");
    expect((await moto.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).to.equal(
      "PendingDeletion",
    );
  });
});
