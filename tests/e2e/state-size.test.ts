// What a key costs in the stack's state when the package is installed as users install it (a project folder, the
// package from its tarball): the provider is named by one require(), so each key's entry stays a few KB.
import { expect } from "chai";
import { KMS_KEY_TYPE } from "../../cli/drift";
import { startKmsServerWithProxy } from "../../testing/kms/server";
import { Project } from "../../testing/pulumi/project";
import { LEGS } from "../../testing/versions";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

describe("e2e (project folder): the state each key takes", function () {
  this.timeout(30 * 60_000);
  let kms: Awaited<ReturnType<typeof startKmsServerWithProxy>>;
  let project: Project;

  before(async () => {
    kms = await startKmsServerWithProxy();
    project = await Project.create("bench/project", LEGS.newest, { kmsEndpoint: kms.endpoint });
  });
  after(async () => {
    await project?.cleanup();
    await kms?.stop();
  });

  it("names the provider by one require() of the package's provider module and stays under 4 KB per key", async () => {
    await project.stackInit("state");
    await project.configSet("keys", "3");
    const up = await project.up();
    expect(up.code, `${up.stdout}\n${up.stderr}`).to.equal(0);
    const keys = (await project.exportState()).deployment.resources?.filter((r) => r.type === KMS_KEY_TYPE) ?? [];
    expect(keys).to.have.length(3);
    for (const key of keys) {
      const provider = String(key.outputs?.__provider);
      // @pulumi/pulumi writes the module's path as its package exports it: /provider or /dist/provider/index.js.
      expect(provider, provider.slice(0, 600)).to.match(
        /require\("pulumi-kms-key\/(provider|dist\/provider\/index\.js)"\)/,
      );
      expect(provider, "the provider's code is not in the state").to.not.include("CancelKeyDeletion");
      expect(JSON.stringify(key).length, `${key.urn} in the state`).to.be.below(4096);
    }
    // The same provider reads the keys back: a refresh finds nothing to change.
    const refresh = await project.refresh("--expect-no-changes");
    expect(refresh.code, `${refresh.stdout}\n${refresh.stderr}`).to.equal(0);
  });
});
