import { type BuildImageOptions, DockerClient } from "../src/docker/index";

/** The real Docker client, counting the builds it asks the engine for (a cache hit asks for none). */
export class CountingDocker extends DockerClient {
  builds = 0;
  override buildImage(options: BuildImageOptions) {
    this.builds++;
    return super.buildImage(options);
  }
}
