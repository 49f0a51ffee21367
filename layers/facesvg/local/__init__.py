"""The embedded local runtime: moto's server, API Gateway-style HTTP, SQS and S3 event sources,
all calling the same ``functions/<name>/handler.py`` modules Lambda runs. Not used in Lambda."""
