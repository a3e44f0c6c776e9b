// The provider's rules where the engine is part of the story, as a user runs them: tests/projects/key-rules in a
// project folder with the packed package, the real CLI and language host (newest leg), KMS being moto behind the
// key-state proxy. A multi-Region primary and its replica share one key ID; null inputs; an import whose declared
// Region disagrees with its ARN; the import option left in the program through an interrupted replacement.
import * as path from "node:path";
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  KeyMetadata,
  KMSClient,
  ListResourceTagsCommand,
  ReplicateKeyCommand,
} from "@aws-sdk/client-kms";
import { expect } from "chai";
import { outOfBand as straightToMoto } from "../../testing/kms/out-of-band";
import { startKmsServerWithProxy } from "../../testing/kms/server";
import { CommandResult, packedTarball, printed, Project } from "../../testing/pulumi/project";
import { legTools } from "../../testing/pulumi/tools";
import { REPO_ROOT } from "../../testing/repo";
import { LEGS } from "../../testing/versions";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const LEG = LEGS.newest;
const SOURCE = path.join(REPO_ROOT, "tests", "projects", "key-rules");

describe(`e2e: the provider's rules through the engine (${LEG.name} leg)`, function () {
  this.timeout(10 * 60_000);
  let kms: Awaited<ReturnType<typeof startKmsServerWithProxy>>;
  let project: Project;
  const moto: Record<string, KMSClient> = {};

  /** Straight to moto, in a Region: someone acting behind Pulumi's back. */
  const outOfBand = (region: string): KMSClient => (moto[region] ??= straightToMoto(kms.server.endpoint, region));
  const describeKey = async (arn: string): Promise<KeyMetadata> =>
    (await outOfBand(regionOf(arn)).send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!;
  const tagsOf = async (arn: string): Promise<Record<string, string>> => {
    const out = await outOfBand(regionOf(arn)).send(new ListResourceTagsCommand({ KeyId: arn }));
    return Object.fromEntries((out.Tags ?? []).map((tag) => [tag.TagKey!, tag.TagValue!]));
  };
  const replicate = async (primaryArn: string, region: string): Promise<string> => {
    const out = await outOfBand(regionOf(primaryArn)).send(
      new ReplicateKeyCommand({ KeyId: primaryArn.split("/").pop()!, ReplicaRegion: region }),
    );
    return out.ReplicaKeyMetadata!.Arn!;
  };
  const writes = () => kms.proxy.writes();

  before(async function () {
    this.timeout(30 * 60_000);
    [kms] = await Promise.all([startKmsServerWithProxy(), legTools(LEG), packedTarball()]);
    project = await Project.create("key-rules", LEG, { kmsEndpoint: kms.endpoint, source: SOURCE });
  });

  after(async () => {
    for (const client of Object.values(moto)) client.destroy();
    await project?.cleanup();
    await kms?.stop();
  });

  async function stack(name: string, config: Record<string, string>): Promise<void> {
    await project.stackInit(name);
    await configure(config);
  }

  async function configure(config: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(config)) await project.configSet(key, value);
  }

  async function upOk(...args: string[]): Promise<CommandResult> {
    const up = await project.up(...args);
    expect(up.code, printed(up)).to.equal(0);
    return up;
  }

  /** The ARN the state records for each KmsKey resource, by resource name. */
  async function stateArns(): Promise<Record<string, unknown>> {
    const keys = await project.keys();
    return Object.fromEntries(keys.map((key) => [key.urn.split("::").pop(), key.outputs?.arn]));
  }

  it("a primary and a read of its replica (one key ID): the primary's update keeps its own ARN, and destroy schedules the primary, never the replica", async () => {
    await stack("family", { case: "family" });
    await upOk();
    const primaryArn = (await stateArns()).primary as string;
    const replicaArn = await replicate(primaryArn, "eu-west-1");
    expect(replicaArn.split("/").pop()).to.equal(primaryArn.split("/").pop());

    // The replica is read first (the primary depends on it), then the primary's tags change in the same process.
    await configure({ replicaArn, team: "b" });
    await upOk();

    expect(await stateArns()).to.deep.equal({ primary: primaryArn, replica: replicaArn });
    expect(await tagsOf(primaryArn)).to.deep.equal({ team: "b" });
    expect(await tagsOf(replicaArn)).to.not.have.property("team");

    const destroy = await project.destroy();
    expect(destroy.code, printed(destroy)).to.equal(0);
    expect((await describeKey(primaryArn)).KeyState).to.match(/^Pending(Replica)?Deletion$/);
    expect((await describeKey(replicaArn)).KeyState, "the replica was only read").to.equal("Enabled");
  });

  it("the replica taken over by import while the primary leaves the program: the primary is scheduled, not orphaned", async () => {
    await stack("adopted", { case: "family" });
    await upOk();
    const primaryArn = (await stateArns()).primary as string;
    const replicaArn = await replicate(primaryArn, "eu-west-1");

    await configure({ case: "adopted", importArn: replicaArn, keepPrimary: "false" });
    await upOk();

    expect(await stateArns()).to.deep.equal({ replica: replicaArn });
    expect((await describeKey(primaryArn)).KeyState, "the primary left the program").to.match(
      /^Pending(Replica)?Deletion$/,
    );
    expect((await describeKey(replicaArn)).KeyState).to.equal("Enabled");
  });

  it("null inputs mean absent ones: no replacement, no policy or rotation call, and the next up has nothing to do", async () => {
    await stack("nulls", { case: "nulls" });
    await upOk();
    const [arn] = Object.values(await stateArns()) as string[];

    kms.proxy.resetCounts();
    const preview = await project.preview("--expect-no-changes");
    expect(preview.code, printed(preview)).to.equal(0);
    await upOk("--expect-no-changes");
    expect(writes()).to.deep.equal([]);
    expect(Object.values(await stateArns())).to.deep.equal([arn]);
    expect((await describeKey(arn)).KeyState).to.equal("Enabled");
  });

  it("an import whose declared Region disagrees with the key's ARN is refused at preview, naming both, before anything changes", async () => {
    const foreign = await outOfBand("eu-west-1").send(new CreateKeyCommand({ Description: "made elsewhere" }));
    const arn = foreign.KeyMetadata!.Arn!;
    await stack("import-region", { case: "import", importArn: arn, region: "us-east-1" });
    kms.proxy.resetCounts();

    const preview = await project.preview();
    expect(preview.code).to.not.equal(0);
    expect(printed(preview)).to.include('region is "us-east-1" but the import option names a key in "eu-west-1"');
    const up = await project.up();
    expect(up.code).to.not.equal(0);
    expect(writes()).to.deep.equal([]);
    expect(await project.keys()).to.deep.equal([]);
    expect((await describeKey(arn)).Description).to.equal("made elsewhere");

    await configure({ region: "eu-west-1" });
    await upOk();
    expect(await stateArns()).to.deep.equal({ imported: arn });
  });

  it("up --replace with the import option still set, interrupted before its deletes: no run schedules the key the stack tracks", async () => {
    const foreign = await outOfBand("us-east-1").send(new CreateKeyCommand({ Description: "adopted" }));
    const arn = foreign.KeyMetadata!.Arn!;
    await stack("import-replace", { case: "import", importArn: arn });
    await upOk();
    const [key] = await project.keys();

    // A failing resource after the keys stops this run before the engine's delete-replaced step: the replaced
    // resource stays in the state, pending deletion, and the next run deletes it first, in a new provider process.
    await configure({ failAfter: "true" });
    const replace = await project.up("--replace", key.urn);
    expect(replace.code, printed(replace)).to.not.equal(0);
    expect(printed(replace)).to.include("this resource fails on purpose");
    expect(printed(replace)).to.match(/created replacement/);

    // The next runs start new provider processes: nothing in memory remembers the replacement.
    await configure({ failAfter: "false" });
    kms.proxy.resetCounts();
    await upOk();
    expect(writes(), "the pending delete of the replaced resource").to.not.include("ScheduleKeyDeletion");
    await upOk("--refresh");
    expect((await describeKey(arn)).KeyState).to.equal("Enabled");
    expect(await stateArns()).to.deep.equal({ imported: arn });
    expect(writes()).to.not.include("ScheduleKeyDeletion");

    // The resource that tracks the key still owns it: destroy schedules it, with the declared window.
    const destroy = await project.destroy();
    expect(destroy.code, printed(destroy)).to.equal(0);
    expect((await describeKey(arn)).KeyState).to.equal("PendingDeletion");
  });
});

function regionOf(arn: string): string {
  return arn.split(":")[3];
}
