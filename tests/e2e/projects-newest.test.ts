// The examples as project folders in the newest leg (legs.newest in versions.json); runs on its own too.
import { LEGS } from "../../testing/pulumi/project";
import { describeProjects } from "./projects";

describeProjects(LEGS.newest);
