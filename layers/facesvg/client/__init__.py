"""The HTTP client's side, shared by the CLI's commands, the local runtime's benchmarks and the
artefact check: submit bodies built from files (``payload``) and the addresses of a running local
stack (``endpoints``). Imports nothing of the package but ``names``; never shipped to Lambda."""
