// The examples as project folders in the newest leg (legs.newest in versions.json); runs on its own too.
import { describeProjects } from "./projects";
import { LEGS } from "../../testing/versions";

describeProjects(LEGS.newest);
