// What Pulumi writes into every key's state as `__provider`: small, stable, and free of clients and credentials.
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { KmsKeyProvider } from "../../sdk";
import { installedAtTop } from "../../sdk/providerModule";
import { FAKE_CREDENTIALS, useFakeCredentials } from "../../testing/credentials";

describe("the serialized provider", () => {
  let text: string;
  before(async () => {
    useFakeCredentials();
    const provider = new KmsKeyProvider();
    text = (await pulumi.runtime.serializeFunction(() => provider)).text;
  });

  it("loads the provider by package name instead of carrying its code", () => {
    expect(text).to.include('require("pulumi-kms-key/provider")');
    expect(text).to.not.include("planUpdate").and.not.include("CancelKeyDeletionCommand");
  });

  it("stays small (under 8 KB), whatever the provider's size", () => {
    expect(text.length).to.be.below(8 * 1024);
  });

  // What the engine itself stores under real credentials is checked in tests/e2e/credentials.test.ts.
  it("captures no SDK client and nothing of the environment: other credentials give the same text", async () => {
    expect(text).to.not.include("KMSClient").and.not.include("process.env");
    process.env.AWS_ACCESS_KEY_ID = "AKIASERIALIZEDOTHER1";
    process.env.AWS_SECRET_ACCESS_KEY = "serialized-other-secret";
    try {
      const provider = new KmsKeyProvider();
      const again = (await pulumi.runtime.serializeFunction(() => provider)).text;
      expect(again).to.equal(text);
    } finally {
      useFakeCredentials();
    }
    for (const value of Object.values(FAKE_CREDENTIALS)) expect(text).to.not.include(value);
  });
});

describe("which provider a key's state names", () => {
  it("the module itself only where npm installs packages: right after the first node_modules", () => {
    expect(installedAtTop("/app/node_modules/pulumi-kms-key/dist/provider/index.js")).to.equal(true);
    expect(installedAtTop("C:\\app\\node_modules\\pulumi-kms-key\\dist\\provider\\index.js")).to.equal(true);
    // A linked checkout would be serialized with all its code; pnpm and nested copies make the require path wrong.
    expect(installedAtTop("/src/pulumi-kms-key/dist/provider/index.js")).to.equal(false);
    expect(
      installedAtTop("/app/node_modules/.pnpm/pulumi-kms-key@0.1.0/node_modules/pulumi-kms-key/dist/provider/index.js"),
    ).to.equal(false);
    expect(installedAtTop("/app/node_modules/other/node_modules/pulumi-kms-key/dist/provider/index.js")).to.equal(
      false,
    );
  });

  it("from this checkout, the loader class: its state text loads the module by name", async () => {
    const text = (await pulumi.runtime.serializeFunction(() => new KmsKeyProvider())).text;
    expect(text).to.include('require("pulumi-kms-key/provider")');
    expect(installedAtTop(require.resolve("pulumi-kms-key/provider"))).to.equal(false);
  });
});
