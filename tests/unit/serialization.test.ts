// What Pulumi writes into every key's state as `__provider`: small, stable, and free of clients and credentials.
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { KmsKeyProvider } from "../../sdk";
import { FAKE_CREDENTIALS, useFakeCredentials } from "../support/fixtures";

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

  it("captures no SDK client, no environment and no credential", () => {
    expect(text).to.not.include("KMSClient").and.not.include("process.env");
    for (const value of Object.values(FAKE_CREDENTIALS)) expect(text).to.not.include(value);
  });
});
