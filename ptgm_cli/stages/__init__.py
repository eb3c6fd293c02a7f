"""One module per pipeline stage, each with `run(config, workspace, force) -> Artifact`."""
