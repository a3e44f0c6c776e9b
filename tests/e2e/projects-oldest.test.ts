// The examples as project folders in the oldest leg (legs.oldest in versions.json); runs on its own too.
import { LEGS } from "../../testing/pulumi/project";
import { describeProjects } from "./projects";

describeProjects(LEGS.oldest);
